"""folder_dataset: a folder of images plus captions.csv, as ImageTextPairs; every bad row named by its line."""
import numpy as np
import pytest
import torch
from PIL import Image

import clipviz as cv
from clipviz.export import export_for_open_clip
from clipviz.folder import FolderDataError, folder_dataset, open_downscaled


def write(folder, csv_text, images=()):
    """A captions.csv with `csv_text` and the named images (name -> PIL image or raw bytes)."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    for name, image in dict(images).items():
        if isinstance(image, bytes):
            (folder / name).write_bytes(image)
        else:
            image.save(folder / name)
    (folder / "captions.csv").write_text(csv_text)
    return folder


def test_export_then_read_gives_back_the_same_pairs(tmp_path):
    export = export_for_open_clip(tmp_path, n=24, n_val=4, seed=0)
    pairs = folder_dataset(export.train_csv)
    ref = cv.ShapesWorld(seed=0).dataset("train", 24)
    assert pairs.captions == ref.captions
    assert any("," in c for c in pairs.captions)  # a caption with a comma survived the CSV (quoted)
    assert pairs.images.shape == (24, 3, 32, 32) and pairs.images.dtype == torch.float32
    assert torch.allclose(pairs.images, ref.images, atol=1 / 255)  # PNG is lossless up to 8-bit rounding
    assert pairs.split == "train" and pairs.world is None


def test_folder_pairs_train_encode_and_zero_shot(tmp_path, untrained):
    red, blue = Image.new("RGB", (40, 30), (220, 30, 30)), Image.new("RGB", (30, 40), (30, 30, 220))
    folder = write(tmp_path, "filepath,title\nimages/r.png,a red square\nimages/b.png,\"a blue square, big\"\n",
                   {"images/r.png": red, "images/b.png": blue})
    pairs = folder_dataset(folder)  # a folder: its captions.csv
    assert pairs.captions == ["a red square", "a blue square, big"]
    assert torch.allclose(pairs.images[0, :, 0, 0], torch.tensor([220, 30, 30]) / 255)
    bundle = cv.mini_clip("tiny", seed=1, device="cpu")
    history = cv.train(bundle, pairs, cv.TrainConfig(steps=2, batch_size=2, warmup=1, eval_every=0),
                       callbacks=[lambda e: None])
    assert history.stopped == "finished" and history.top1 == {}
    emb = cv.encode_images(untrained, pairs.images)
    assert emb.shape == (2, 64)
    classifier = cv.zero_shot_classifier(untrained, ["red", "blue"])
    assert len(classifier.predict(emb)) == 2


def test_every_bad_row_is_reported_with_its_line(tmp_path):
    good = Image.new("RGB", (32, 32), "white")
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8))
    noise.save(tmp_path / "noise.png")
    truncated = (tmp_path / "noise.png").read_bytes()[:1000]  # cut inside the pixel data
    folder = write(tmp_path / "data", "\n".join([
        "filepath,title",  # line 1
        "images/good.png,a white square",  # 2
        "images/gone.png,a missing file",  # 3
        "images/good.png,",  # 4: empty caption
        "images/text.jpg,not an image",  # 5
        "images/cut.png,a truncated file",  # 6
        "images/good.png,too,many,fields",  # 7
        "",  # 8: blank lines are skipped
        '"images/good.png","a caption over',  # 9
        'two lines"',  # 10
        "images/also_gone.png,missing after a two-line record",  # 11
    ]) + "\n", {"images/good.png": good, "images/text.jpg": b"hello, I am text", "images/cut.png": truncated})
    with pytest.raises(FolderDataError) as info:
        folder_dataset(folder)
    err = info.value
    assert [line for line, _ in err.problems] == [3, 4, 5, 6, 7, 11]
    message = str(err)
    for needle in ("line 3: 'images/gone.png' does not exist", "line 4: empty caption", "line 5:",
                   "not an image Pillow can read", "line 6:", "truncated or corrupt", "line 7: 4 fields",
                   "double quotes", "line 11:", "6 of 8 rows", "nothing was loaded"):
        assert needle in message, needle


def test_a_header_without_the_columns_says_what_it_found(tmp_path):
    write(tmp_path, "path,caption\nimages/a.png,a\n")
    with pytest.raises(FolderDataError, match=r"\['path', 'caption'\].*must be filepath,title"):
        folder_dataset(tmp_path)
    write(tmp_path, "filepath\ttitle\nimages/a.png\ta\n")
    with pytest.raises(FolderDataError, match="tab-separated"):
        folder_dataset(tmp_path)
    write(tmp_path, "filepath,title\n")
    with pytest.raises(FolderDataError, match="no rows"):
        folder_dataset(tmp_path)
    (tmp_path / "captions.csv").write_bytes(b"filepath,title\nimages/a.png,a caf\xc3\xa9\nimages/b.png,a caf\xe9\n")
    with pytest.raises(FolderDataError, match="line 3: this line is not UTF-8"):
        folder_dataset(tmp_path)
    with pytest.raises(FileNotFoundError, match="no captions file"):
        folder_dataset(tmp_path / "elsewhere")


def test_a_wide_photo_is_centre_cropped_and_shrunk(tmp_path):
    wide = np.zeros((300, 900, 3), np.uint8)
    wide[:, :300], wide[:, 300:600], wide[:, 600:] = (255, 0, 0), (0, 200, 0), (0, 0, 255)  # red | green | blue
    folder = write(tmp_path, "filepath,title\nimages/wide.jpg,three bands\n", {"images/wide.jpg": Image.fromarray(wide)})
    pairs = folder_dataset(folder, image_size=16)
    assert pairs.images.shape == (1, 3, 16, 16)
    centre = pairs.images[0, :, 2:-2, 2:-2]  # the crop is the green middle third (JPEG blurs the edges a little)
    assert centre[1].min() > 0.6 and centre[0].max() < 0.25 and centre[2].max() < 0.25


def test_open_downscaled_shrinks_big_jpegs_and_explains_bad_bytes(tmp_path):
    big = Image.fromarray(np.random.default_rng(0).integers(0, 255, (1500, 2000, 3), dtype=np.uint8))
    big.save(tmp_path / "big.jpg", quality=80)
    image = open_downscaled((tmp_path / "big.jpg").read_bytes(), 512)
    assert image.mode == "RGB" and max(image.size) == 512 and image.size == (512, 384)
    with pytest.raises(ValueError, match="not an image"):
        open_downscaled(b"not a picture", 512)
