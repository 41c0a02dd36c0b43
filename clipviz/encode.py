"""Encoding: images and texts in, L2-normalised embeddings out.

CLIP's two towers map an image and a caption to vectors of the same length; after
normalisation both live on one unit sphere, where a dot product is a cosine
similarity. These helpers accept what a student has at hand (PIL images, file
paths, tensors, plain strings), check it, batch it, and call the open_clip model.
"""
from __future__ import annotations

import os
import warnings
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

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
        mean = torch.tensor(cfg["mean"], dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
        std = torch.tensor(cfg["std"], dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
        return (images - mean) / std
    if isinstance(images, (str, os.PathLike, Image.Image)):
        images = [images]
    images = list(images)
    if not images:
        raise ValueError("no images to encode: the list is empty")
    return torch.stack([bundle.preprocess(load_image(im)) for im in images])


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
    was_training = model.training
    model.eval()
    try:
        out = [model.encode_image(pixels[i:i + batch_size].to(device), normalize=True).float().cpu()
               for i in range(0, len(pixels), batch_size)]  # list of (B, D)
    finally:
        model.train(was_training)
    return torch.cat(out)


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
    was_training = model.training
    model.eval()
    try:
        out = [model.encode_text(tokens[i:i + batch_size].to(device), normalize=True).float().cpu()
               for i in range(0, len(tokens), batch_size)]  # list of (B, D)
    finally:
        model.train(was_training)
    return torch.cat(out)
