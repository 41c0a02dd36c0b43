"""Checkpoints: save a trained CLIP with its config, and load it back safely.

A checkpoint is one torch file holding a small dict: a format tag, the open_clip
model config, the preprocessing settings and the weights. `save_checkpoint` writes to a
temporary file beside the target and renames it over the target only once the
write is complete, so a crash mid-write never replaces a good checkpoint with a
broken one. `load_checkpoint` uses torch.load(weights_only=True), which refuses to run code
hidden in a file, and explains what is wrong with a missing, truncated or foreign file.
"""
from __future__ import annotations

import os
import pathlib
import tempfile
from importlib import resources
import zipfile

import torch

from .model import ClipBundle, _from_config, pick_device

FORMAT = "clipviz-checkpoint-v1"


def _assets() -> pathlib.Path:
    """Where the shipped models, photos and sketches are: the one place the kit looks them up.

    In a checkout they live in assets/ at the top level. Packaging maps that folder into the package as
    `clipviz.assets` (pyproject.toml's package-dir), so an installed clipviz (wheel, `pip install .`,
    git+URL, or `pip install -e .` through its editable finder) finds them with importlib.resources.
    A checkout run without installing (`PYTHONPATH=.`) has no `clipviz.assets`: then assets/ beside the package.
    """
    try:
        return pathlib.Path(os.fspath(resources.files("clipviz.assets")))
    except ModuleNotFoundError:
        return pathlib.Path(__file__).resolve().parent.parent / "assets"


ASSETS = _assets()  # package data: the shipped models, photos and sketches
SHIPPED = ASSETS / "mini_clip_shapes.pt"  # the trained tiny CLIP (python -m clipviz train --out assets/mini_clip_shapes.pt)


class CheckpointError(ValueError):
    """A file that cannot be loaded as a clipviz checkpoint."""


def save_checkpoint(bundle: ClipBundle, path: str | os.PathLike, **metadata) -> str:
    """Write `bundle` (config and weights) to `path` atomically.

    metadata: extra plain values to store (e.g. steps=1700, heldout_top1=0.97).
    Returns the path written.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in bundle.model.state_dict().items()}
    payload = {"format": FORMAT, "name": bundle.name, "config": bundle.config,
               "preprocess": dict(bundle.model.visual.preprocess_cfg), "state_dict": state,
               "metadata": metadata}
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".pt", dir=folder)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # the permissions a plain open() would give, not mkstemp's private 0600
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic on POSIX and Windows: the old file stays until the new one is whole
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def load_checkpoint(path: str | os.PathLike, device: str | torch.device | None = None) -> ClipBundle:
    """Load a checkpoint written by `save_checkpoint` (or `python -m clipviz train`).

    device: where to put the model; None picks CUDA, then MPS, then CPU.
    Raises FileNotFoundError for a missing file and CheckpointError for a
    truncated, corrupt or foreign one, saying what to do.
    """
    path = os.fspath(path)
    if not os.path.isfile(path) and pathlib.Path(path).resolve().is_relative_to(ASSETS.resolve()):
        raise FileNotFoundError(f"the model shipped with clipviz is missing ({path}): the installation lacks its "
                                f"package data. Reinstall clipviz the way you installed it, with --force-reinstall --no-deps "
                                f"(e.g. `pip install --force-reinstall --no-deps .` in a checkout, or the git+ URL).")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no checkpoint at {path!r}. Train one with `python -m clipviz train --out {path}` "
                                f"or load the shipped model with cv.load_checkpoint(cv.SHIPPED)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as err:
        raise CheckpointError(f"{path!r} is truncated or corrupt and cannot be read ({err}). Copy it again, or "
                              f"retrain it with `python -m clipviz train --out {path}`.") from None
    except Exception as err:  # e.g. pickle.UnpicklingError: a file that needs arbitrary code to load
        raise CheckpointError(f"{path!r} is not a clipviz checkpoint ({type(err).__name__}: {err}). "
                              f"For open_clip weights use cv.load_clip(name, pretrained={path!r}).") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path!r} is a torch file but not a clipviz checkpoint (no {FORMAT!r} tag). "
                              f"For open_clip weights use cv.load_clip(name, pretrained={path!r}).")
    bundle = _from_config(payload["name"], payload["config"], payload.get("preprocess"))
    try:
        bundle.model.load_state_dict(payload["state_dict"])
    except RuntimeError as err:
        raise CheckpointError(f"{path!r} has weights that do not fit its own config ({err}); the file was edited "
                              f"or is damaged. Retrain it with `python -m clipviz train --out {path}`.") from None
    bundle.pretrained = path
    bundle.model.to(pick_device(device)).eval()
    return bundle
