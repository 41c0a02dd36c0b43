"""Badges, Colab setup cells and the Binder environment stay in line with their single sources.

The repository address is written once, in pyproject.toml; tools/sync_links.py writes it into the
notebooks and the README. The runtime packages are listed once, in requirements.txt; binder/requirements.txt
must name the same ones with ranges that overlap.
"""
import builtins
import importlib.util
import os
import pathlib
import shutil
import subprocess
import sys
import types

import nbformat
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = pathlib.Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("sync_links", ROOT / "tools" / "sync_links.py")
sync_links = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sync_links)

REPO = sync_links.repository(ROOT)


@pytest.fixture
def checkout(tmp_path):
    """A small copy of the repository: pyproject.toml, a README with the table markers, one synced notebook."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    (tmp_path / "README.md").write_text("# clipviz\n\n<!-- notebooks:start -->\n<!-- notebooks:end -->\n")
    (tmp_path / "notebooks").mkdir()
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Start here\n\nWhat you will learn."),
        nbformat.v4.new_code_cell("import clipviz as cv  # the author's own setup"),
    ])
    nbformat.write(nb, tmp_path / "notebooks" / "01_start_here.ipynb")
    assert sync_links.main(["--root", str(tmp_path)]) == 0
    return tmp_path


def read(checkout):
    return nbformat.read(checkout / "notebooks" / "01_start_here.ipynb", as_version=4)


def write(checkout, nb):
    nbformat.write(nb, checkout / "notebooks" / "01_start_here.ipynb")


def test_repository_is_in_sync():
    stale, errors = sync_links.sync(ROOT, write=False)
    assert not stale + errors, "\n".join(stale + errors) + "\nrun `python tools/sync_links.py`"


def test_sync_writes_badges_setup_and_table_and_keeps_the_authors_code(checkout):
    nb = read(checkout)
    assert nb.cells[0].source.splitlines()[0] == sync_links.badges(REPO, "01_start_here.ipynb")
    assert "# Start here" in nb.cells[0].source
    setup = nb.cells[1].source
    assert setup.startswith(sync_links.SETUP_START) and setup.endswith("import clipviz as cv  # the author's own setup")
    readme = (checkout / "README.md").read_text()
    assert "[Start here](notebooks/01_start_here.ipynb)" in readme
    assert "https://mybinder.org/v2/gh/clipviz/clipviz/HEAD?urlpath=lab/tree/notebooks/01_start_here.ipynb" in readme
    # the chapter as a Voilà app: locally in JupyterLab (started in the repository root), and on Binder
    assert "[local](http://localhost:8888/voila/render/notebooks/01_start_here.ipynb)" in readme
    assert "[Binder](https://mybinder.org/v2/gh/clipviz/clipviz/HEAD?urlpath=voila/render/notebooks/01_start_here.ipynb)" \
        in readme
    nbformat.validate(nb)
    assert all(cell.get("outputs", []) == [] for cell in nb.cells)
    assert sync_links.sync(checkout, write=False) == ([], [])  # a second run changes nothing


@pytest.mark.parametrize("cell, part", [(0, "badges"), (1, "setup cell")])
def test_a_wrong_address_is_reported(checkout, cell, part):
    nb = read(checkout)
    nb.cells[cell].source = nb.cells[cell].source.replace("clipviz/clipviz", "someone/fork")
    write(checkout, nb)
    stale, _ = sync_links.sync(checkout, write=False)
    assert stale == [f"notebooks/01_start_here.ipynb: {part}"]
    assert sync_links.main(["--root", str(checkout), "--check"]) == 1
    assert sync_links.main(["--root", str(checkout)]) == 0  # and fixed by a run without --check
    assert sync_links.main(["--root", str(checkout), "--check"]) == 0


def test_a_changed_address_reaches_every_place(checkout):
    pyproject = checkout / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(REPO, "https://github.com/me/fork"))
    stale, _ = sync_links.sync(checkout, write=False)
    assert sorted(stale) == ["README.md: notebook table", "notebooks/01_start_here.ipynb: badges",
                             "notebooks/01_start_here.ipynb: setup cell"]


def run_setup_cell(modules):
    """Execute the generated setup block with `modules` as sys.modules; return what it tried to do."""
    calls = []
    fake_sys = types.SimpleNamespace(modules=modules, executable=sys.executable, path=[])
    fake_subprocess = types.SimpleNamespace(run=lambda *args, **kwargs: calls.append(("run", args[0], kwargs)))
    fake_output = types.SimpleNamespace(enable_custom_widget_manager=lambda: calls.append(("widgets",)))
    fakes = {"sys": fake_sys, "subprocess": fake_subprocess, "google.colab": types.SimpleNamespace(output=fake_output)}

    def fake_import(name, globals=None, locals=None, fromlist=(), level=0):
        if name in ("os", "pathlib", "shutil"):
            raise AssertionError(f"the setup cell imports {name}: it should only pip-install, not touch files")
        return fakes[name] if name in fakes else __import__(name, globals, locals, fromlist, level)

    code = sync_links.setup_block(REPO)
    exec(compile(code, "<setup cell>", "exec"), {"__builtins__": {**vars(builtins), "__import__": fake_import}})
    assert fake_sys.path == [], "the setup cell must not put a clone on sys.path: clipviz is installed"
    return calls


def test_setup_cell_does_nothing_outside_colab():
    assert run_setup_cell({"IPython": object()}) == []


def test_setup_cell_on_colab_pip_installs_clipviz_and_plotly_6_then_enables_widgets():
    calls = run_setup_cell({"google.colab": object()})
    assert [call[0] for call in calls] == ["run", "widgets"]  # install first: the widgets come from it
    _, args, kwargs = calls[0]
    assert args[:4] == [sys.executable, "-m", "pip", "install"] and kwargs.get("check") is True
    assert f"git+{REPO}" in args  # the package with its model and photos (package data), no clone
    wanted = [Requirement(arg) for arg in args[4:] if not arg.startswith(("-", "git+"))]
    assert [str(req) for req in wanted] == ["plotly>=6.1"]  # plotly 6.1+: its FigureWidget is an anywidget
    assert not any(canonicalize_name(req.name) in ("torch", "ipywidgets") for req in wanted)  # Colab's own stay


def test_setup_block_is_at_most_four_lines_of_code():
    block = sync_links.setup_block(REPO).splitlines()
    code = [line for line in block if line.strip() and not line.lstrip().startswith("#")]
    assert len(code) <= 4, "\n".join(code)


def requirements(path):
    """{canonical name: Requirement} of a requirements file, skipping options (-r, --extra-index-url) and paths."""
    reqs = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-") and not line.startswith("."):
            req = Requirement(line)
            reqs[canonicalize_name(req.name)] = req
    return reqs


def test_binder_and_requirements_name_the_same_packages_with_overlapping_ranges():
    runtime = requirements(ROOT / "requirements.txt")
    binder = requirements(ROOT / "binder" / "requirements.txt")
    assert sorted(set(binder) - {"jupyterlab", "voila", "torchvision"}) == sorted(runtime), \
        "binder/requirements.txt must list requirements.txt's packages (plus jupyterlab, voila and a pinned torchvision)"
    for name, req in runtime.items():
        ours, theirs = req.specifier, binder[name].specifier
        # a version both accept: the higher of the two lower bounds (or a far-future one when neither has one)
        lows = [Version(spec.version) for spec in [*ours, *theirs] if spec.operator in (">=", "==", "~=")]
        candidate = max(lows, default=Version("999"))
        assert ours.contains(candidate, prereleases=True) and theirs.contains(candidate, prereleases=True), \
            f"{name}: requirements.txt says {ours}, binder/requirements.txt {theirs}; no version fits both"


def test_binder_pins_cpu_torch_and_its_torchvision_exactly():
    lines = [line.strip() for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines()]
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    binder = requirements(ROOT / "binder" / "requirements.txt")
    pins = {}
    for name in ("torch", "torchvision"):  # ==X+cpu exists only on the CPU index: no silent fall back to CUDA
        (spec,) = binder[name].specifier
        assert spec.operator == "==" and Version(spec.version).local == "cpu", f"{name}: pin it as =={name}X+cpu"
        pins[name] = Version(spec.version)
    # torchvision 0.N is built for torch 2.(N-15): 0.29 for 2.14, as PyTorch's release table pairs them
    assert (pins["torchvision"].major, pins["torchvision"].minor) == (0, pins["torch"].minor + 15), pins


def test_binder_serves_the_chapters_as_voila_apps():
    """The README's Binder "present" links (urlpath=voila/render/...) need Voilà there, with the kit's voila.py."""
    assert "voila" in requirements(ROOT / "binder" / "requirements.txt")
    assert "cp voila.py ~/.jupyter/voila.py" in (ROOT / "binder" / "postBuild").read_text()


def test_binder_installs_clipviz_as_a_student_would():
    lines = [line.split("#", 1)[0].strip() for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines()]
    assert "." in lines and "-e ." not in lines  # a plain install: the model and photos come as package data


def test_binder_runs_numba_on_a_generic_cpu_at_build_and_launch():
    start, post_build = ROOT / "binder" / "start", ROOT / "binder" / "postBuild"
    assert os.access(start, os.X_OK) and os.access(post_build, os.X_OK)
    for script in (start, post_build):
        done = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert done.returncode == 0, f"{script.name}: {done.stderr}"
    assert "export NUMBA_CPU_NAME=generic" in start.read_text()
    assert start.read_text().rstrip().endswith('exec "$@"')  # repo2docker's contract: start, then the server
    build = post_build.read_text()
    assert build.index("export NUMBA_CPU_NAME=generic") < build.index("cv.project(")  # set before numba compiles
    done = subprocess.run(["bash", str(start), sys.executable, "-c", "import os; print(os.environ['NUMBA_CPU_NAME'])"],
                          capture_output=True, text=True, timeout=30)
    assert done.stdout.strip() == "generic"


def test_binder_culls_idle_kernels_with_settings_the_jupyter_server_knows():
    from jupyter_server.services.kernels.kernelmanager import MappingKernelManager
    from traitlets.config import Config

    config = Config()
    source = (ROOT / "binder" / "jupyter_server_config.py").read_text()
    exec(compile(source, "jupyter_server_config.py", "exec"), {"c": config})
    assert "binder/jupyter_server_config.py ~/.jupyter/" in (ROOT / "binder" / "postBuild").read_text()
    manager = MappingKernelManager(config=config)  # unknown or mistyped settings would raise or be ignored
    assert set(config.MappingKernelManager) <= set(manager.trait_names())
    assert 0 < manager.cull_idle_timeout <= 30 * 60 and manager.cull_connected and manager.cull_interval > 0
