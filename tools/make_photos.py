"""Remake assets/photos/ from scikit-image's sample data: `python tools/make_photos.py [--out DIR]`.

A build tool, not part of the runtime package: it needs scikit-image (installed with
the `test` extra). It writes the eight photos of `clipviz.photos.PHOTOS`, shrunk to at
most MAX_SIDE pixels, a line-drawing sketch of each (`sketch`), and LICENSE.md.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from clipviz.encode import load_image
from clipviz.photos import MAX_SIDE, PHOTO_DIR, PHOTOS, photo_path

# name -> (what it is and where scikit-image got it, licence), as scikit-image's docstrings state them
_PROVENANCE = {
    "page": ("A scanned page of printed text (a page of scikit-image's own documentation). "
             "Bundled with scikit-image as `skimage.data.page()`; its docstring names no separate author or licence",
             "distributed with scikit-image under its BSD-3-Clause licence (Copyright the scikit-image team)"),
    "chelsea": ("Chelsea the cat, photographed by Stefan van der Walt; `skimage.data.chelsea()`",
                "CC0 (no copyright restrictions), by the photographer"),
    "astronaut": ("Astronaut Eileen Collins, from the NASA Great Images database (https://flic.kr/p/r9qvLn); "
                  "`skimage.data.astronaut()`",
                  "public domain (NASA; no known copyright restrictions)"),
    "rocket": ("Falcon 9 carrying DSCOVR at SpaceX's Launch Complex 40, Cape Canaveral, from SpaceX's photos "
               "(https://www.flickr.com/photos/spacexphotos/16511594820/); `skimage.data.rocket()`",
               "public domain (released by SpaceX)"),
    "motorcycle_right": ("The right view of the Motorcycle scene of the Middlebury 2014 stereo dataset "
                         "(D. Scharstein et al., GCPR 2014; http://vision.middlebury.edu/stereo/data/scenes2014/), "
                         "down-sampled 4x by scikit-image; `skimage.data.stereo_motorcycle()[1]`. "
                         "Its docstring names no licence",
                         "distributed with scikit-image under its BSD-3-Clause licence; cite the Middlebury paper"),
    "camera": ("A man with a camera on a tripod, photographed by Lav Varshney (the CC0 image that replaced the "
               "classic 'cameraman' in scikit-image 0.18); `skimage.data.camera()`",
               "CC0 (no copyright restrictions), by the photographer"),
    "horse": ("A horse silhouette by Andreas Preuss (marauder) from openclipart "
              "(http://openclipart.org/detail/158377/horse-by-marauder); `skimage.data.horse()`",
              "CC0 (no copyright restrictions), by the owner"),
    "coffee": ("A cup of coffee, photographed by Rachel Michetti, courtesy of Pikolo Espresso Bar; "
               "`skimage.data.coffee()`",
               "CC0 (no copyright restrictions), by the photographer"),
}


def sketch(image, method: str = "auto") -> Image.Image:
    """A line drawing of `image`: dark lines on white, the same size.

    image: a PIL image or a path to one.
    method: "canny" (scikit-image's Canny edge detector: clean, thin contours),
        "pillow" (the strongest brightness changes of a Pillow-smoothed copy: needs
        only Pillow and NumPy),
        or "auto" (canny when scikit-image is installed, else pillow).
    Returns an RGB PIL image, mostly white (typically 80-95% of the pixels).
    """
    grey = ImageOps.grayscale(load_image(image))  # (H, W) luminance
    if method == "auto":
        try:
            import skimage.feature  # noqa: F401
            method = "canny"
        except ImportError:
            method = "pillow"
    if method == "canny":
        from skimage.feature import canny
        pixels = np.asarray(grey, dtype=np.float32) / 255  # (H, W) in [0, 1]
        sigma = max(grey.size) / 256  # smooth more on bigger images, so lines follow objects and not texture
        edges = canny(pixels, sigma=sigma, low_threshold=0.8, high_threshold=0.9, use_quantiles=True)  # (H, W) bool
        drawing = Image.fromarray(np.where(edges, 0, 255).astype(np.uint8), "L")
        if max(grey.size) >= 256:
            drawing = drawing.filter(ImageFilter.MinFilter(3))  # 1-px lines -> 3 px, so they survive CLIP's resize
    elif method == "pillow":
        radius = max(grey.size) / 256  # blur away texture (fur, grass, grain) before looking for edges
        smooth = grey.filter(ImageFilter.MedianFilter(5)).filter(ImageFilter.GaussianBlur(radius))
        dy, dx = np.gradient(np.asarray(smooth, dtype=np.float32))  # (H, W) each: brightness change per pixel
        strength = np.hypot(dx, dy)  # (H, W) edge strength
        edges = strength > max(np.percentile(strength, 90), 2.0)  # the strongest tenth, (H, W) bool
        drawing = Image.fromarray(np.where(edges, 0, 255).astype(np.uint8), "L")
    else:
        raise ValueError(f"unknown sketch method {method!r}; choose 'auto', 'canny' or 'pillow'")
    return drawing.convert("RGB")


def _from_skimage(name: str) -> Image.Image:
    """Sample image `name` from scikit-image's bundled data, as RGB, at most MAX_SIDE pixels."""
    import skimage.data

    pixels = skimage.data.stereo_motorcycle()[1] if name == "motorcycle_right" else getattr(skimage.data, name)()
    if pixels.dtype == bool:  # the horse is a mask: True on the white background, False on the horse
        pixels = np.where(pixels, 255, 0).astype(np.uint8)  # a black horse on white, as in horse.png
    image = Image.fromarray(pixels).convert("RGB")
    image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    return image


def _licence_text() -> str:
    lines = ["# The bundled photos: provenance and licences", "",
             "The eight images CLIP's introductory notebook (\"Interacting with CLIP\") uses, taken from the",
             "sample data shipped inside scikit-image's wheel and written here by `python tools/make_photos.py`:",
             f"each resized to at most {MAX_SIDE} px and saved as JPEG. Sources and licences are as",
             "scikit-image's `skimage.data` docstrings state them.", ""]
    for name in PHOTOS:
        what, licence = _PROVENANCE[name]
        lines += [f"- **{name}.jpg**: {what}. Licence: {licence}."]
    lines += ["", "The `*_sketch.png` files are line drawings made from these by clipviz (`tools/make_photos.py`'s `sketch`);",
              "each is a derivative of its photo and carries the photo's licence.",
              "The captions in `clipviz.photos.PHOTOS` are clipviz's own.", "",
              "scikit-image: Copyright the scikit-image team, BSD-3-Clause (https://scikit-image.org).", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    """`python tools/make_photos.py [--out DIR]`: remake assets/photos/ from scikit-image's sample data."""
    parser = argparse.ArgumentParser(prog="python tools/make_photos.py", description=main.__doc__)
    parser.add_argument("--out", default=str(PHOTO_DIR), help=f"folder to write (default: {PHOTO_DIR})")
    args = parser.parse_args(argv)
    try:
        import skimage  # noqa: F401
    except ImportError:
        parser.error("making the photos needs scikit-image: pip install scikit-image (or pip install -e '.[test]')")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in PHOTOS:
        # 1) the photo, shrunk and saved as a JPEG
        photo = _from_skimage(name)
        photo.save(photo_path(name, "photo", out), quality=90, optimize=True)
        # 2) its sketch, drawn from the shrunk photo, saved as a greyscale PNG
        sketch(photo, method="canny").convert("L").save(photo_path(name, "sketch", out), optimize=True)
        print(f"{name}: {photo.size[0]}x{photo.size[1]}")
    (out / "LICENSE.md").write_text(_licence_text())
    total = sum(f.stat().st_size for f in out.iterdir())
    print(f"wrote {len(PHOTOS)} photos, their sketches and LICENSE.md to {out} ({total / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
