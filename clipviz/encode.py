"""Encoding: images and texts in, L2-normalised embeddings out.

CLIP's two towers map an image and a caption to vectors of the same length; after
normalisation both live on one unit sphere, where a dot product is a cosine
similarity. These helpers accept what a student has at hand (PIL images, file
paths, tensors, plain strings), check it, batch it, and call the open_clip model.
`encode_folder` does the same for a whole folder of images, with a progress bar
and an optional on-disk cache of the embeddings.
"""
from __future__ import annotations

import hashlib
import os
import re
import warnings
import weakref
from contextlib import contextmanager
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError
from tqdm.auto import tqdm

from .model import ClipBundle


def load_image(image: "str | os.PathLike | Image.Image") -> Image.Image:
    """Open `image` (a path or a PIL image) as an RGB PIL image.

    Any Pillow mode is converted: transparent pixels (RGBA, LA, P) go onto white,
    16- and 32-bit greyscale (I;16, I, F) is rescaled to its own range, CMYK and
    L become RGB. An unreadable, truncated or non-image file raises ValueError
    naming the file; an image too large for Pillow's decompression-bomb guard
    raises ValueError saying how to shrink it.
    """
    if isinstance(image, (str, os.PathLike)):
        path = os.fspath(image)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no image file at {path!r}; check the path (relative paths start at {os.getcwd()!r})")
        try:
            with Image.open(path) as opened:
                opened.load()  # read every byte now, so a truncated file fails here and not later
                return _to_rgb(opened)
        except Image.DecompressionBombError as err:
            raise ValueError(f"{path!r} is too large to open safely ({err}). Resize it below "
                             f"{Image.MAX_IMAGE_PIXELS:,} pixels first, or raise PIL.Image.MAX_IMAGE_PIXELS "
                             f"if you trust the file.") from None
        except UnidentifiedImageError:
            raise ValueError(f"{path!r} is not an image Pillow can read (PNG, JPEG, GIF, WebP, ...). "
                             f"Check that it is the file you meant.") from None
        except (OSError, SyntaxError) as err:
            raise ValueError(f"{path!r} could not be read: it looks truncated or corrupt ({err}). "
                             f"Download or export it again.") from None
    if isinstance(image, Image.Image):
        return _to_rgb(image)
    raise TypeError(f"expected a file path or a PIL image, got {type(image).__name__}")


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB copy of a PIL image of any mode (see load_image)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # wide greyscale: rescale, do not clip to 255
        values = np.asarray(image, dtype=np.float32)
        low, high = float(values.min()), float(values.max())
        values = (values - low) / (high - low) * 255 if high > low else np.zeros_like(values)
        return Image.fromarray(values.astype(np.uint8), "L").convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(paper, rgba).convert("RGB")
    return image.convert("RGB")


def _as_pixel_batch(bundle: ClipBundle, images) -> torch.Tensor:
    """(N, 3, H, W) normalised model input from tensors in [0, 1] or a list of PIL images/paths."""
    if isinstance(images, torch.Tensor):
        if images.ndim == 3:
            images = images[None]
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"an image tensor must be (N, 3, H, W) with values in [0, 1], got {tuple(images.shape)}")
        if images.shape[0] == 0:
            raise ValueError("no images to encode: the tensor is empty")
        cfg = bundle.model.visual.preprocess_cfg
        size = bundle.image_size
        if images.shape[-2:] != (size, size):
            images = F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        scale = 1 / torch.tensor(cfg["std"], dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
        shift = -torch.tensor(cfg["mean"], dtype=images.dtype, device=images.device).view(1, 3, 1, 1) * scale
        return torch.addcmul(shift, images, scale)  # (images - mean) / std, in one pass over the pixels
    if isinstance(images, (str, os.PathLike, Image.Image)):
        images = [images]
    images = list(images)
    if not images:
        raise ValueError("no images to encode: the list is empty")
    return torch.stack([bundle.preprocess(load_image(im)) for im in images])


@contextmanager
def _eval_mode(model: torch.nn.Module):
    """Run in eval mode (no dropout), then put a model that was training back into training."""
    was_training = model.training
    if was_training:
        model.eval()
    try:
        yield
    finally:
        if was_training:
            model.train()


@torch.no_grad()
def encode_images(bundle: ClipBundle, images, batch_size: int = 256,
                  device: str | torch.device | None = None) -> torch.Tensor:
    """Embed images with the bundle's image tower.

    images: a (N, 3, H, W) float tensor with pixel values in [0, 1] (resized to the
        model's input size if needed), or a list of PIL images and/or file paths.
    batch_size: images per forward pass (bounds memory).
    device: where to compute; None means the model's device.
    Returns (N, D) float tensor on the CPU, each row L2-normalised.
    """
    model, device = bundle.model, torch.device(device) if device is not None else bundle.device
    pixels = _as_pixel_batch(bundle, images)  # (N, 3, H, W)
    dtype = next(model.visual.parameters()).dtype  # float32, or bfloat16 for a load_clip(precision="bf16")
    with _eval_mode(model):
        out = [model.encode_image(pixels[i:i + batch_size].to(device, dtype), normalize=True).float().cpu()
               for i in range(0, len(pixels), batch_size)]  # list of (B, D)
    return out[0] if len(out) == 1 else torch.cat(out)


def tokenize(bundle: ClipBundle, texts: Sequence[str]) -> torch.Tensor:
    """(M, context_length) token ids for `texts`, checked.

    Raises ValueError for an empty list, TypeError naming the index of a non-string,
    and warns (naming the text) when a text is longer than the model's context and
    gets cut.
    """
    if isinstance(texts, str):
        texts = [texts]
    texts = list(texts)
    if not texts:
        raise ValueError("no texts to encode: the list is empty; give at least one caption or prompt")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"texts[{i}] is a {type(t).__name__} ({t!r}), not a string; every text must be a str")
    tokens = bundle.tokenizer(texts)  # (M, context_length), cut at context_length
    if hasattr(bundle.tokenizer, "encode"):
        limit = bundle.context_length - 2  # room for the start and end tokens
        for t in texts:
            if len(bundle.tokenizer.encode(t)) > limit:
                warnings.warn(f"text {t[:60]!r}{'...' if len(t) > 60 else ''} is longer than the model's "
                              f"{bundle.context_length}-token context and was cut; shorten it to be read whole",
                              stacklevel=3)
    return tokens


@torch.no_grad()
def encode_texts(bundle: ClipBundle, texts: Sequence[str], batch_size: int = 1024,
                 device: str | torch.device | None = None) -> torch.Tensor:
    """Embed texts with the bundle's text tower.

    texts: a list of M strings (captions, prompts).
    batch_size: texts per forward pass.
    device: where to compute; None means the model's device.
    Returns (M, D) float tensor on the CPU, each row L2-normalised.
    """
    model, device = bundle.model, torch.device(device) if device is not None else bundle.device
    tokens = tokenize(bundle, texts)  # (M, context_length)
    with _eval_mode(model):
        out = [model.encode_text(tokens[i:i + batch_size].to(device), normalize=True).float().cpu()
               for i in range(0, len(tokens), batch_size)]  # list of (B, D)
    return out[0] if len(out) == 1 else torch.cat(out)


# ---------------------------------------------------------------------------------------------
# Encoding a folder of images: batched, with a progress bar and an on-disk cache.

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff")
_WEIGHT_DIGESTS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # model -> (version stamp, digest)


def _weights_digest(model: torch.nn.Module) -> str:
    """sha1 of a model's weights, recomputed only when they change (training bumps each tensor's version)."""
    state = model.state_dict()
    stamp = tuple((name, t.data_ptr(), t._version) for name, t in state.items())  # in-place updates bump _version
    cached = _WEIGHT_DIGESTS.get(model)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    digest = hashlib.sha1()
    for name, tensor in sorted(state.items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    _WEIGHT_DIGESTS[model] = (stamp, digest.hexdigest())
    return digest.hexdigest()


def _model_key(bundle: ClipBundle) -> str:
    """A folder name that changes whenever the embeddings could: model, weights or preprocessing."""
    preprocess = re.sub(r" at 0x[0-9a-fA-F]+", "", repr(bundle.preprocess))  # no memory addresses: same every run
    identity = f"{bundle.name}|{bundle.pretrained}|{_weights_digest(bundle.model)}|{preprocess}"
    safe_name = "".join(c if c.isalnum() or c in "-_." else "_" for c in bundle.name)
    return f"{safe_name}-{hashlib.sha1(identity.encode()).hexdigest()[:16]}"


def _file_sha1(path: str) -> str:
    """sha1 of a file's bytes, read in 1 MB pieces."""
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        for piece in iter(lambda: f.read(1 << 20), b""):
            digest.update(piece)
    return digest.hexdigest()


def list_images(folder: "str | os.PathLike") -> list[str]:
    """Paths of the image files in `folder` and its subfolders, sorted; hidden files are skipped."""
    root = os.fspath(folder)
    if not os.path.isdir(root):
        raise NotADirectoryError(f"no folder at {root!r}; check the path (relative paths start at {os.getcwd()!r})")
    paths = []
    for here, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        paths += [os.path.join(here, f) for f in files
                  if f.lower().endswith(IMAGE_EXTENSIONS) and not f.startswith(".")]
    return sorted(paths)


def encode_folder(bundle: ClipBundle, folder: "str | os.PathLike", batch_size: int = 64,
                  cache_dir: "str | os.PathLike | None" = None,
                  progress: bool = True) -> tuple[list[str], torch.Tensor]:
    """Embed every image in a folder, a batch at a time, optionally caching the embeddings on disk.

    folder: a folder of image files (.jpg, .png, ...; subfolders included, sorted by path).
    batch_size: images loaded and encoded at once; memory stays bounded however big the folder.
    cache_dir: a folder for cached embeddings, or None for no cache. Each embedding is stored
        under the model's identity (name, tag, a hash of the weights, the preprocessing) and
        the image file's content hash, so a re-run reads them back without running the model,
        and an edited file or a retrained model is encoded afresh.
    progress: show a progress bar.
    Returns (paths, embeddings): the N image paths and an (N, D) float tensor on the CPU,
    each row L2-normalised. A file that is not a readable image raises ValueError naming it.
    """
    paths = list_images(folder)
    if not paths:
        raise ValueError(f"no image files ({', '.join(IMAGE_EXTENSIONS)}) in {os.fspath(folder)!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    store = None
    if cache_dir is not None:
        store = os.path.join(os.fspath(cache_dir), _model_key(bundle))
        os.makedirs(store, exist_ok=True)
    rows: list[torch.Tensor] = []  # N rows of (D,)
    cached = 0
    with tqdm(total=len(paths), unit="img", desc="encoding", disable=not progress) as bar:
        for start in range(0, len(paths), batch_size):
            batch = paths[start:start + batch_size]
            # 1) look each file up in the cache by its content hash
            keys = [_file_sha1(p) for p in batch] if store else [None] * len(batch)
            found = [_read_cached(store, k) if store else None for k in keys]  # (D,) tensors or None
            # 2) load and encode the rest
            missing = [i for i, row in enumerate(found) if row is None]
            if missing:
                images = [_load_in_folder(batch[i], folder) for i in missing]
                new = encode_images(bundle, images, batch_size=len(images))  # (len(missing), D)
                for i, row in zip(missing, new):
                    found[i] = row
                    if store:
                        _write_cached(store, keys[i], row)
            # 3) keep the rows in folder order
            rows += found
            cached += len(batch) - len(missing)
            bar.update(len(batch))
            if store:
                bar.set_postfix(cached=cached)
    return paths, torch.stack(rows)  # (N, D)


def _load_in_folder(path: str, folder) -> Image.Image:
    try:
        return load_image(path)
    except ValueError as err:
        raise ValueError(f"{err} It is in the folder {os.fspath(folder)!r}: move it out, or replace it, "
                         f"and run encode_folder again.") from None


def _read_cached(store: str, key: str) -> "torch.Tensor | None":
    """The cached (D,) embedding for a file hash, or None (missing or unreadable: encode again)."""
    path = os.path.join(store, key[:2], f"{key}.npy")
    try:
        return torch.from_numpy(np.load(path))
    except (OSError, ValueError):
        return None


def _write_cached(store: str, key: str, row: torch.Tensor) -> None:
    """Store a (D,) embedding; written to a temporary name first, so an interrupted run leaves no half file."""
    folder = os.path.join(store, key[:2])
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{key}.npy")
    partial = f"{path}.{os.getpid()}.tmp"
    with open(partial, "wb") as f:
        np.save(f, row.numpy().astype(np.float32))
    os.replace(partial, path)
