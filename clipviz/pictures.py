"""Pictures with alt text: how clipviz shows an image in a notebook or an app.

A PIL image left at the end of a cell is drawn by JupyterLab's image renderer as an <img> without alt
text, so a screen reader says nothing about it. clipviz shows pictures as HTML instead: each <img>
carries alt text (the pair's caption, or the composition), and `Pictures` also prints the same words
under each picture, for everyone. `ImageTextPairs.show` is the short way: `heldout.show(0, 1)`.
"""
from __future__ import annotations

import base64
import html
import io
import os
from typing import Sequence

import torch
from PIL import Image

from .encode import load_image


def _png(image, size: int = 160) -> bytes:
    """PNG bytes of a PIL image, a (3, H, W) tensor or an image file, `size` pixels on its long side."""
    if isinstance(image, (str, os.PathLike)):
        image = load_image(image)
    if isinstance(image, torch.Tensor):
        image = Image.fromarray((image.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype("uint8"))
    image = image.convert("RGB")
    scale = size / max(image.size)
    image = image.resize((max(1, round(image.size[0] * scale)), max(1, round(image.size[1] * scale))),
                         Image.NEAREST if scale > 2 else Image.BICUBIC)  # blocky pixels stay crisp when enlarged
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def picture_html(image, alt: str, size: int = 160) -> str:
    """An <img> tag with alt text for screen readers, holding a PIL image, (3, H, W) tensor or path as PNG.

    For a W.HTML, since ipywidgets.Image has no alt text.
    A picture that cannot be read shows its alt text in brackets instead.
    """
    try:
        uri = "data:image/png;base64," + base64.b64encode(_png(image, size)).decode()
    except Exception:  # an unreadable file: the app that encodes it reports the error
        return f"<i>[{html.escape(alt)}]</i>"
    return f'<img src="{uri}" alt="{html.escape(alt)}">'


class Pictures:
    """Pictures in a row, each with its alt text for screen readers and the same words printed under it.

    images: PIL images, (3, H, W) tensors in [0, 1], or paths. alts: one text per picture (a caption,
        or the composition). size: pixels on each picture's long side.
    Leave it at the end of a cell, or pass it to display(); it is drawn as HTML.
    """

    def __init__(self, images: Sequence, alts: Sequence[str], size: int = 96):
        images, alts = list(images), [str(a) for a in alts]
        if len(images) != len(alts):
            raise ValueError(f"every picture needs its alt text: got {len(images)} pictures and {len(alts)} texts")
        if size < 1:
            raise ValueError(f"size is the pictures' side in pixels (1 or more), got {size}")
        self.images, self.alts, self.size = images, alts, size

    def _repr_html_(self) -> str:
        figures = "".join(
            f'<figure style="margin:0 12px 4px 0;width:{max(self.size, 120)}px">{picture_html(image, alt, self.size)}'
            f'<figcaption style="font-size:12px;line-height:1.3">{html.escape(alt)}</figcaption></figure>'
            for image, alt in zip(self.images, self.alts))
        return f'<div style="display:flex;flex-wrap:wrap;align-items:flex-start">{figures}</div>'

    def __repr__(self) -> str:
        return "Pictures(" + "; ".join(self.alts) + ")"
