"""Shared fixtures. Tests run offline on the CPU: no model hub, no GPU."""
import os
import pathlib

os.environ["HF_HUB_OFFLINE"] = "1"  # set before open_clip / huggingface_hub are imported
os.environ.setdefault("CLIPVIZ_FAST", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

import clipviz as cv  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"


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
    history = cv.train(bundle, world.dataset("train", n=3000), steps=300, batch_size=128, lr=3e-3, warmup=30,
                       eval_every=150, eval_sets={"seen": world.dataset("test", 240),
                                                  "heldout": world.dataset("heldout", 240)},
                       callbacks=[lambda event: None])
    return bundle, history


@pytest.fixture(scope="session")
def shipped():
    path = ASSETS / "mini_clip_shapes.pt"
    assert path.is_file(), f"the shipped checkpoint {path} is missing; run python -m clipviz train --out {path}"
    return cv.load_checkpoint(path, device="cpu")


@pytest.fixture
def rng():
    return torch.Generator().manual_seed(0)
