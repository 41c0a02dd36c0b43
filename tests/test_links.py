"""Badges, Colab setup cells and the Binder environment stay in line with their single sources.

The repository address is written once, in pyproject.toml; tools/sync_links.py writes it into the
notebooks and the README. The runtime packages are listed once, in requirements.txt; binder/requirements.txt
must name the same ones with ranges that overlap.
"""
import builtins
import importlib.util
import pathlib
import shutil
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
    """Execute the generated setup block with `modules` as sys.modules; return what it tried to run."""
    calls = []
    fake_sys = types.SimpleNamespace(modules=modules, executable=sys.executable, path=[])
    fake_subprocess = types.SimpleNamespace(run=lambda *args, **kwargs: calls.append(("run", args[0])))
    fake_os = types.SimpleNamespace(path=types.SimpleNamespace(isdir=lambda path: False),
                                    chdir=lambda path: calls.append(("chdir", path)))
    fake_output = types.SimpleNamespace(enable_custom_widget_manager=lambda: calls.append(("widgets", None)))
    fakes = {"sys": fake_sys, "os": fake_os, "subprocess": fake_subprocess,
             "google.colab": types.SimpleNamespace(output=fake_output)}

    def fake_import(name, globals=None, locals=None, fromlist=(), level=0):
        return fakes[name] if name in fakes else __import__(name, globals, locals, fromlist, level)

    code = sync_links.setup_block(REPO)
    exec(compile(code, "<setup cell>", "exec"), {"__builtins__": {**vars(builtins), "__import__": fake_import}})
    calls += [("sys.path", entry) for entry in fake_sys.path]
    return calls


def test_setup_cell_does_nothing_outside_colab():
    assert run_setup_cell({"IPython": object()}) == []


def test_setup_cell_on_colab_installs_clipviz_from_the_repository_and_enables_widgets():
    calls = run_setup_cell({"google.colab": object()})
    runs = [args for kind, args in calls if kind == "run"]
    assert runs[0][:2] == ["git", "clone"] and REPO in runs[0]
    assert runs[1][1:4] == ["-m", "pip", "install"]
    assert not any("torch" in arg or "ipywidgets" in arg for args in runs for arg in args)  # Colab's stay
    assert ("widgets", None) in calls
    assert ("chdir", "/content/clipviz/notebooks") in calls  # next to ../assets, which the chapters load
    assert ("sys.path", "/content/clipviz") in calls  # the clone's package, whose assets/ sit beside it


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
    assert sorted(set(binder) - {"jupyterlab"}) == sorted(runtime), \
        "binder/requirements.txt must list requirements.txt's packages (plus jupyterlab)"
    for name, req in runtime.items():
        ours, theirs = req.specifier, binder[name].specifier
        # a version both accept: the higher of the two lower bounds (or a far-future one when neither has one)
        lows = [Version(spec.version) for spec in [*ours, *theirs] if spec.operator in (">=", "==", "~=")]
        candidate = max(lows, default=Version("999"))
        assert ours.contains(candidate, prereleases=True) and theirs.contains(candidate, prereleases=True), \
            f"{name}: requirements.txt says {ours}, binder/requirements.txt {theirs}; no version fits both"


def test_binder_installs_clipviz_and_cpu_torch():
    lines = [line.strip() for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines()]
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    assert "." in lines or "-e ." in lines
