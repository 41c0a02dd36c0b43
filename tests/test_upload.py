"""Your own picture in the apps: the picker's upload button (chapters 01 and 08)."""
import datetime
import io

import numpy as np
import pytest
from PIL import Image

import clipviz as cv
from clipviz.widgets.base import ImagePicker


def upload(picker, name: str, content: bytes) -> None:
    """Do what the browser does: set the FileUpload's value (ipywidgets 8 form)."""
    picker.upload.value = ({"name": name, "type": "image/jpeg", "size": len(content),
                            "last_modified": datetime.datetime.now(), "content": memoryview(content)},)


@pytest.fixture(scope="module")
def photo_12mp() -> bytes:
    """A 4000 x 3000 JPEG (12 megapixels): the chelsea photo enlarged, with grain so it does not compress to nothing."""
    base = cv.load_photos()[2][1].convert("RGB").resize((4000, 3000), Image.BILINEAR)
    grain = np.tile(np.random.default_rng(0).integers(-12, 12, (300, 400, 3), dtype=np.int16), (10, 10, 1))
    pixels = np.clip(np.asarray(base, np.int16) + grain, 0, 255).astype(np.uint8)  # (3000, 4000, 3)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture
def probe(shipped, world):
    images = {"red star": world.render([cv.Attributes("star", "red", "large", "left")], "photo")[0]}
    return cv.widgets.CaptionProbe(shipped, images, ["a large red star on the left", "a small blue circle"])


def test_an_upload_joins_the_picker_shrunk_and_the_app_redraws(probe, photo_12mp):
    before = list(probe.chart.figure.data[0].x)
    upload(probe.picker, "cat.jpg", photo_12mp)
    assert probe.picker.dropdown.value == "yours: cat.jpg"
    assert probe.picker.image.size == (448, 336)  # shrunk while decoding, aspect kept
    assert list(probe.chart.figure.data[0].x) != before  # the bars are the uploaded picture's
    assert probe.message.value == "" and probe.picker.upload.value == ()  # no error; the bytes are let go
    upload(probe.picker, "cat.jpg", photo_12mp)  # the same name again: a new entry, never a stale embedding
    assert probe.picker.dropdown.value == "yours: cat.jpg (2)"


def test_a_huge_or_unreadable_file_is_refused_in_the_app_which_keeps_working(probe):
    chosen = probe.picker.dropdown.value
    upload(probe.picker, "huge.tif", b"\0" * (21 * 2 ** 20))
    assert "huge.tif is 21 MB, over the 20 MB limit" in probe.picker.upload_note.value
    assert probe.picker.dropdown.value == chosen and len(probe.picker.images) == 1
    upload(probe.picker, "notes.jpg", b"these are not pixels")
    assert "notes.jpg cannot be used" in probe.picker.upload_note.value
    assert "not an image" in probe.picker.upload_note.value
    probe.captions.value = "a large red star on the left\na large red star on the right"  # still works
    assert probe.message.value == "" and len(probe.chart.figure.data[0].x) == 2
    assert probe.picker.upload.value == ()


def test_the_limit_is_shown_and_upload_can_be_turned_off():
    picker = ImagePicker({"a": Image.new("RGB", (8, 8))})
    assert "20 MB" in picker.upload_note.value and picker.upload in picker.children[2].children
    assert len(ImagePicker({"a": Image.new("RGB", (8, 8))}, upload=False).children) == 2
