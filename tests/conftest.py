"""Shared fixtures. Tests run offline on the CPU: no model hub, no GPU."""
import os
import pathlib
import sys

os.environ["HF_HUB_OFFLINE"] = "1"  # set before open_clip / huggingface_hub are imported
os.environ.setdefault("CLIPVIZ_FAST", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

import clipviz as cv  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent


def pytest_addoption(parser):
    parser.addoption("--update-screenshots", action="store_true",
                     help="the browser test writes docs/screenshots/*.png (by default: a temporary folder)")


def _browser_items(items):
    return [item for item in items if item.path.name == "test_browser.py"]


def pytest_collection_modifyitems(config, items):
    """The browser tests go last: meanwhile their notebooks run in the background (pytest_collection_finish)."""
    browser = set(_browser_items(items))
    items[:] = [item for item in items if item not in browser] + [item for item in items if item in browser]


def pytest_collection_finish(session):
    """Start the notebooks' runs in JupyterLab now, beside the other tests (tests/test_browser.py, Runs)."""
    browser = _browser_items(session.items)
    notebooks = [item.callspec.params["notebook"] for item in browser if item.callspec.params.get("notebook")]
    if notebooks and not session.config.option.collectonly:
        _ONE_THREAD.update(threads=torch.get_num_threads(), omp=os.environ.get("OMP_NUM_THREADS"))
        torch.set_num_threads(1)  # every process computes on one thread while the kernels run beside the tests,
        os.environ["OMP_NUM_THREADS"] = "1"  # this one's subprocesses (python -m clipviz, pip) included
        browser[0].module.start(session.config, notebooks)


_ONE_THREAD = {}  # what pytest_collection_finish changed, to put back once the notebooks are done


def pytest_runtest_setup(item):
    """Once every notebook has run, the tests still running take all the cores again."""
    runs = getattr(sys.modules.get("test_browser"), "RUNS", None)
    if _ONE_THREAD and runs is not None and all(future.done() for future in runs.futures.values()):
        torch.set_num_threads(_ONE_THREAD["threads"])
        if _ONE_THREAD["omp"] is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = _ONE_THREAD["omp"]
        _ONE_THREAD.clear()


def pytest_sessionfinish(session):
    runs = getattr(sys.modules.get("test_browser"), "RUNS", None)
    if runs is not None:
        runs.close()


@pytest.fixture(scope="session")
def world():
    return cv.ShapesWorld(seed=0)


@pytest.fixture(scope="session")
def untrained():
    return cv.mini_clip("tiny", seed=0, device="cpu")


@pytest.fixture(scope="session")
def trained(world):
    """A tiny CLIP trained briefly (a few seconds), with its history."""
    bundle = cv.mini_clip("tiny", seed=0, device="cpu")
    config = cv.TrainConfig(steps=200, batch_size=128, lr=3e-3, warmup=30, eval_every=100)
    history = cv.train(bundle, world.dataset("train", n=3000), config, eval_sets={"seen": world.dataset("test", 240),
                                                  "heldout": world.dataset("heldout", 240)},
                       callbacks=[lambda event: None])
    return bundle, history


@pytest.fixture(scope="session")
def shipped():
    assert cv.SHIPPED.is_file(), f"the shipped checkpoint {cv.SHIPPED} is missing; see README (Reproduce)"
    return cv.load_checkpoint(cv.SHIPPED, device="cpu")


@pytest.fixture
def rng():
    return torch.Generator().manual_seed(0)
