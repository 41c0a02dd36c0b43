"""Real photos: the eight sample images of CLIP's introductory notebook, with captions and sketches.

OpenAI's "Interacting with CLIP" notebook asks a pretrained CLIP to match eight of
scikit-image's sample images to eight descriptions. clipviz ships the same eight
images as package data in `assets/photos/` (shrunk to at most 512 px), each
with a caption written for this kit, plus a line drawing of each, so "does CLIP still
recognise a sketch of the same thing?" can be asked of a real model too.

    >>> photos = load_photos()                      # [(name, PIL image, caption), ...]
    >>> sketches = load_photos(style="sketch")      # the same eight, as drawings

The files are made once by `python tools/make_photos.py` (which needs scikit-image,
installed with the `test` extra); reading them needs only Pillow.
"""
from __future__ import annotations

import os
from pathlib import Path

from PIL import Image

from .checkpoint import ASSETS
from .encode import load_image

# name -> the kit's caption: what is in the picture, in the words a person would use
PHOTOS = {
    "page": "a page of printed text",
    "chelsea": "a close-up of a tabby cat",
    "astronaut": "an astronaut in an orange spacesuit",
    "rocket": "a rocket on a launch pad at dusk",
    "motorcycle_right": "a red motorcycle in a garage",
    "camera": "a man looking through a camera on a tripod",
    "horse": "a black silhouette of a horse",
    "coffee": "a cup of coffee on a saucer",
}

PHOTO_DIR = ASSETS / "photos"  # package data, found wherever clipviz is installed
MAX_SIDE = 512  # longest side of a shipped photo in pixels (CLIP looks at 224; this keeps the repo small)
STYLES = ("photo", "sketch")


def photo_path(name: str, style: str = "photo", folder: str | os.PathLike | None = None) -> Path:
    """Where the file of photo `name` (a key of PHOTOS) in `style` ("photo" or "sketch") lives."""
    if name not in PHOTOS:
        raise ValueError(f"unknown photo {name!r}; choose one of {list(PHOTOS)}")
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; choose one of {list(STYLES)}")
    return Path(folder or PHOTO_DIR) / (f"{name}.jpg" if style == "photo" else f"{name}_sketch.png")


def load_photos(style: str = "photo") -> list[tuple[str, Image.Image, str]]:
    """The eight bundled photos (or their sketches), read from the package data in assets/photos/.

    style: "photo" for the photographs, "sketch" for the kit's line drawings of them.
    Returns a list of (name, RGB PIL image, caption) in the order of PHOTOS. A
    sketch keeps its photo's caption: the caption says what is shown, not how.
    """
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; choose one of {list(STYLES)}")
    photos = []
    for name, caption in PHOTOS.items():
        path = photo_path(name, style)
        if not path.is_file():
            raise FileNotFoundError(f"the bundled photo {path} is missing. It is package data: reinstall clipviz "
                                    f"the way you installed it, with --force-reinstall --no-deps (e.g. `pip install "
                                    f"--force-reinstall --no-deps .` in a checkout, or the git+ URL), or remake it with "
                                    f"`pip install scikit-image && python tools/make_photos.py`.")
        photos.append((name, load_image(path), caption))
    return photos
