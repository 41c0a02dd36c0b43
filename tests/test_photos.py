import numpy as np
import pytest
from PIL import Image, ImageDraw

import importlib.util
import pathlib

from clipviz.photos import PHOTO_DIR, PHOTOS, load_photos

# the asset builder is a tool of the repository, not of the package: load it from tools/ beside the tests
_spec = importlib.util.spec_from_file_location(
    "make_photos", pathlib.Path(__file__).resolve().parent.parent / "tools" / "make_photos.py")
make_photos = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_photos)
main, sketch = make_photos.main, make_photos.sketch

NAMES = ["page", "chelsea", "astronaut", "rocket", "motorcycle_right", "camera", "horse", "coffee"]


def white_fraction(image: Image.Image) -> float:
    return float((np.asarray(image.convert("L")) > 200).mean())


def test_the_eight_photos_load_offline_with_captions(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # found next to the package, not in the working directory
    photos = load_photos()
    assert [name for name, _, _ in photos] == NAMES == list(PHOTOS)
    for name, image, caption in photos:
        assert image.mode == "RGB", name
        assert 150 <= max(image.size) <= 512, (name, image.size)
        assert isinstance(caption, str) and caption.startswith("a"), (name, caption)
    assert len({caption for _, _, caption in photos}) == 8  # one distinct caption each


def test_sketches_are_line_drawings_of_the_photos():
    photos, sketches = load_photos("photo"), load_photos("sketch")
    for (name, photo, caption), (sketch_name, drawing, sketch_caption) in zip(photos, sketches):
        assert (sketch_name, sketch_caption) == (name, caption)
        assert drawing.mode == "RGB" and drawing.size == photo.size, name
        assert white_fraction(drawing) > 0.7, name  # mostly paper ...
        assert (np.asarray(drawing.convert("L")) < 60).mean() > 0.03, name  # ... with dark lines
        difference = np.abs(np.asarray(drawing, dtype=float) - np.asarray(photo, dtype=float)).mean()
        assert difference > 20, name


def test_unknown_style_lists_the_choices():
    with pytest.raises(ValueError, match="unknown style 'drawing'.*'photo', 'sketch'"):
        load_photos("drawing")


def shapes_picture() -> Image.Image:
    """A grey 256x256 picture with a red disk (centre 80, 80; radius 50) and a blue bar."""
    image = Image.new("RGB", (256, 256), (128, 128, 128))
    draw = ImageDraw.Draw(image)
    draw.ellipse((30, 30, 130, 130), fill=(220, 30, 30))
    draw.rectangle((150, 60, 230, 220), fill=(30, 30, 220))
    return image


@pytest.mark.parametrize("method", ["pillow", "canny"])
def test_sketch_draws_dark_outlines_on_white(method):
    if method == "canny":
        pytest.importorskip("skimage")
    drawing = sketch(shapes_picture(), method=method)
    assert drawing.mode == "RGB" and drawing.size == (256, 256)
    grey = np.asarray(drawing.convert("L"))  # (256, 256)
    assert white_fraction(drawing) > 0.8
    assert grey[80, 80] > 200 and grey[140, 190] > 200  # the inside of a flat shape stays white
    assert grey[75:86, 25:36].min() < 60 and grey[75:86, 125:136].min() < 60  # the disk's left and right rims
    assert grey[135:146, 145:156].min() < 60  # the bar's left edge


def test_sketch_rejects_an_unknown_method():
    with pytest.raises(ValueError, match="unknown sketch method 'pencil'.*'canny'"):
        sketch(shapes_picture(), method="pencil")


def test_licence_note_names_every_photo():
    text = (PHOTO_DIR / "LICENSE.md").read_text()
    for name in NAMES:
        assert f"**{name}.jpg**" in text
    assert "CC0" in text and "public domain" in text and "BSD-3-Clause" in text


def test_the_assets_can_be_remade_from_scikit_image(tmp_path):
    pytest.importorskip("skimage")
    assert main(["--out", str(tmp_path)]) == 0
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == sorted(["LICENSE.md"] + [f"{n}.jpg" for n in NAMES] + [f"{n}_sketch.png" for n in NAMES])
    assert sum(p.stat().st_size for p in tmp_path.iterdir()) < 1.5e6
    for name in NAMES:  # the same pictures as the shipped ones (JPEG bytes may differ across Pillow versions)
        with Image.open(tmp_path / f"{name}.jpg") as remade, Image.open(PHOTO_DIR / f"{name}.jpg") as shipped:
            assert remade.size == shipped.size
            assert np.abs(np.asarray(remade, dtype=float) - np.asarray(shipped, dtype=float)).mean() < 3, name
