"""Shared fixtures. Tests run offline on the CPU: no model hub, no GPU."""
import os
import pathlib

os.environ["HF_HUB_OFFLINE"] = "1"  # set before open_clip / huggingface_hub are imported
os.environ.setdefault("CLIPVIZ_FAST", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

import clipviz as cv  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent


def pytest_addoption(parser):
    parser.addoption("--update-screenshots", action="store_true",
                     help="the browser test writes docs/screenshots/*.png (by default: a temporary folder)")


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
    config = cv.TrainConfig(steps=300, batch_size=128, lr=3e-3, warmup=30, eval_every=150)
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
