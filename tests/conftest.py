"""Shared fixtures. Tests run offline on the CPU: no model hub, no GPU."""
import importlib
import os
import pathlib
import re
import sys

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # set before open_clip / huggingface_hub are imported
os.environ.setdefault("CLIPVIZ_FAST", "1")

ROOT = pathlib.Path(__file__).resolve().parent.parent
BROWSER_TESTS = ROOT / "tests" / "test_browser.py"
NOTEBOOKS = sorted(path.name for path in (ROOT / "notebooks").glob("*.ipynb"))  # one browser test each
APPS = [name for name in ("01_start_here.ipynb", "04_train_mini_clip.ipynb", "06_prompt_effects.ipynb")
        if name in NOTEBOOKS]  # also opened as Voilà apps (test_app_in_voila)
VOILA = "voila:"  # a browser run's name is the notebook's for JupyterLab, "voila:<notebook>" for its app
BROWSER_RUNS = NOTEBOOKS + [VOILA + name for name in APPS]
# clipviz and torch are imported by the fixtures, not here: the notebooks start before they are loaded


def pytest_addoption(parser):
    parser.addoption("--update-screenshots", action="store_true",
                     help="the browser test writes docs/screenshots/*.png (by default: a temporary folder)")


def voila_hook():
    """voila.py's prelaunch hook, read as Voilà reads that file: hook(None, notebook, cwd) is the notebook as its app
    shows it."""
    from traitlets.config import PyFileConfigLoader
    return PyFileConfigLoader("voila.py", path=str(ROOT)).load_config().VoilaConfiguration.prelaunch_hook


def _browser_items(items):
    return [item for item in items if item.path == BROWSER_TESTS]


def _run(test: str, notebook: str) -> str:
    """The browser run that test `test` (its name without the brackets) collects for `notebook`."""
    return VOILA + notebook if test == "test_app_in_voila" else notebook


def _notebooks_named(config) -> list[str]:
    """The browser runs whose tests the command line asks for by path, when it filters nothing."""
    if config.option.collectonly or config.option.keyword or config.option.markexpr or config.option.deselect \
            or config.getoption("lf", False) or config.getoption("stepwise", False) or config.getoption("ignore"):
        return []  # the selection is known only after collection
    named = set()
    for arg in config.args:
        where, _, inside = str(arg).partition("::")
        path = next((p.resolve() for p in (config.invocation_params.dir / where, config.rootpath / where)
                     if p.exists()), None)
        if path == BROWSER_TESTS:
            test, one = inside.partition("[")[0], re.search(r"\[(.+)\]$", inside)
            if one:
                named.add(_run(test, one.group(1)))
            else:  # one test for every notebook it has, or the whole file
                named.update([_run(test, name) for name in NOTEBOOKS] if test else BROWSER_RUNS)
        elif path is not None and path.is_dir() and BROWSER_TESTS.is_relative_to(path):
            named.update(BROWSER_RUNS)
    return [run for run in BROWSER_RUNS if run in named]


def _runs():
    """tests/test_browser.py's Runs, once started; else None."""
    return getattr(sys.modules.get("test_browser"), "RUNS", None)


def _one_thread():
    """Every process computes on one thread while the kernels run beside the tests (pytest_runtest_setup undoes it)."""
    import torch
    _ONE_THREAD.update(threads=torch.get_num_threads(), omp=os.environ.get("OMP_NUM_THREADS"))
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"  # this process's subprocesses (python -m clipviz, pip) included


_ONE_THREAD = {}  # what _one_thread changed, to put back once the notebooks are done


def pytest_configure(config):
    """Start the notebooks' runs in JupyterLab (and their apps' in Voilà) at once when the command line names them
    (tests/test_browser.py, Runs): they go on beside the collection and the other tests."""
    notebooks = _notebooks_named(config)
    if notebooks:
        importlib.import_module("test_browser").start(config, notebooks)
        _one_thread()


def pytest_collection_modifyitems(config, items):
    """The browser tests go last: meanwhile their notebooks run in the background."""
    browser = set(_browser_items(items))
    items[:] = [item for item in items if item not in browser] + [item for item in items if item in browser]


def pytest_collection_finish(session):
    """Start the browser runs the collection selected, if pytest_configure could not; cancel those it deselected."""
    wanted = [_run(item.originalname, item.callspec.params["notebook"]) for item in _browser_items(session.items)
              if item.callspec.params.get("notebook")]
    runs = _runs()
    if runs is not None:
        runs.keep(wanted)
    elif wanted and not session.config.option.collectonly:
        sys.modules["test_browser"].start(session.config, wanted)
        _one_thread()


def pytest_runtest_setup(item):
    """Once every notebook has run, the tests still running take all the cores again."""
    runs = _runs()
    if _ONE_THREAD and runs is not None and all(future.done() for future in runs.futures.values()):
        import torch
        torch.set_num_threads(_ONE_THREAD["threads"])
        if _ONE_THREAD["omp"] is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = _ONE_THREAD["omp"]
        _ONE_THREAD.clear()


def pytest_sessionfinish(session):
    runs = _runs()
    if runs is not None:
        runs.close()


@pytest.fixture(scope="session")
def world():
    import clipviz as cv
    return cv.ShapesWorld(seed=0)


@pytest.fixture(scope="session")
def untrained():
    import clipviz as cv
    return cv.mini_clip("tiny", seed=0, device="cpu")


@pytest.fixture(scope="session")
def trained(world):
    """A tiny CLIP trained briefly (a few seconds), with its history."""
    import clipviz as cv
    bundle = cv.mini_clip("tiny", seed=0, device="cpu")
    config = cv.TrainConfig(steps=150, batch_size=128, lr=3e-3, warmup=25, eval_every=75)
    history = cv.train(bundle, world.dataset("train", n=3000), config, eval_sets={"seen": world.dataset("test", 240),
                                                  "heldout": world.dataset("heldout", 240)},
                       callbacks=[lambda event: None])
    return bundle, history


@pytest.fixture(scope="session")
def shipped():
    import clipviz as cv
    assert cv.SHIPPED.is_file(), f"the shipped checkpoint {cv.SHIPPED} is missing; see README (Reproduce)"
    return cv.load_checkpoint(cv.SHIPPED, device="cpu")


@pytest.fixture
def rng():
    import torch
    return torch.Generator().manual_seed(0)
