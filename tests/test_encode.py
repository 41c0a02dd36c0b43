import io
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

import clipviz as cv


@pytest.fixture
def picture():
    array = np.zeros((40, 48, 3), np.uint8)
    array[8:30, 10:40] = (200, 40, 40)
    return Image.fromarray(array)


def test_embeddings_are_normalised_with_the_right_shape(untrained, world):
    d = world.dataset("test", 5)
    img = cv.encode_images(untrained, d.images)
    txt = cv.encode_texts(untrained, d.captions + ["a red circle"])
    assert img.shape == (5, 64) and txt.shape == (6, 64)
    assert torch.allclose(img.norm(dim=-1), torch.ones(5), atol=1e-5)
    assert torch.allclose(txt.norm(dim=-1), torch.ones(6), atol=1e-5)


def test_encode_matches_open_clip_directly(untrained, world):
    d = world.dataset("test", 8)
    mean = torch.tensor(untrained.model.visual.preprocess_cfg["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(untrained.model.visual.preprocess_cfg["std"]).view(1, 3, 1, 1)
    with torch.no_grad():
        ref = untrained.model.encode_image((d.images - mean) / std, normalize=True)
        ref_txt = untrained.model.encode_text(untrained.tokenizer(d.captions), normalize=True)
    assert torch.allclose(cv.encode_images(untrained, d.images), ref, atol=1e-5)
    assert torch.allclose(cv.encode_texts(untrained, d.captions), ref_txt, atol=1e-5)


def test_pil_path_and_tensor_inputs_agree(untrained, picture, tmp_path):
    path = tmp_path / "red.png"
    picture.save(path)
    from_pil = cv.encode_images(untrained, [picture])
    from_path = cv.encode_images(untrained, [str(path)])
    assert torch.allclose(from_pil, from_path)
    tensor = untrained.preprocess(picture)  # normalised, as open_clip's transform makes it
    mean = torch.tensor(untrained.model.visual.preprocess_cfg["mean"]).view(3, 1, 1)
    std = torch.tensor(untrained.model.visual.preprocess_cfg["std"]).view(3, 1, 1)
    from_tensor = cv.encode_images(untrained, (tensor * std + mean)[None])
    assert torch.allclose(from_pil, from_tensor, atol=1e-4)


def test_batches_give_the_same_answer(untrained, world):
    d = world.dataset("test", 10)
    assert torch.allclose(cv.encode_images(untrained, d.images, batch_size=3),
                          cv.encode_images(untrained, d.images), atol=1e-5)


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGBA", "CMYK", "I;16", "I", "F", "1"])
def test_every_pillow_mode_is_converted(untrained, picture, mode):
    if mode == "I;16":
        image = Image.fromarray(np.asarray(picture.convert("L"), np.uint16) * 200).convert("I;16")
    else:
        image = picture.convert(mode)
    rgb = cv.load_image(image)
    assert rgb.mode == "RGB" and rgb.size == picture.size
    grey = np.asarray(rgb)[..., 0]
    if mode in ("I;16", "I", "F"):  # wide greyscale is rescaled to its own range, not clipped to white
        assert grey.min() == 0 and grey.max() == 255
    if mode == "L":  # 8-bit greyscale keeps its values
        assert grey.max() == np.asarray(picture.convert("L")).max()
    assert cv.encode_images(untrained, [image]).shape == (1, 64)


def test_transparency_goes_onto_white():
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    assert np.asarray(cv.load_image(rgba))[0, 0].tolist() == [255, 255, 255]


def test_non_image_file_is_named(untrained, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("this is not a picture")
    with pytest.raises(ValueError, match="notes.png.*not an image"):
        cv.encode_images(untrained, [str(bad)])


def test_truncated_image_is_named(untrained, picture, tmp_path):
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    cut = tmp_path / "cut.png"
    cut.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(ValueError, match="cut.png.*truncated"):
        cv.encode_images(untrained, [cut])


def test_missing_file_is_named(untrained, tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.jpg"):
        cv.encode_images(untrained, [tmp_path / "nowhere.jpg"])


def test_decompression_bomb_is_refused_readably(tmp_path, monkeypatch):
    path = tmp_path / "huge.png"
    Image.new("L", (200, 200)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 40,000 pixels is > 2x the limit: a "bomb"
    with pytest.raises(ValueError, match="too large to open safely.*Resize"):
        cv.load_image(path)


def test_wrong_types_and_empty_inputs(untrained):
    with pytest.raises(ValueError, match="empty"):
        cv.encode_images(untrained, [])
    with pytest.raises(ValueError, match="empty"):
        cv.encode_images(untrained, torch.zeros(0, 3, 32, 32))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        cv.encode_images(untrained, torch.zeros(2, 32, 32, 3))
    with pytest.raises(ValueError, match="empty"):
        cv.encode_texts(untrained, [])
    with pytest.raises(TypeError, match=r"texts\[1\] is a int"):
        cv.encode_texts(untrained, ["a red circle", 7])
    with pytest.raises(TypeError, match="file path or a PIL image"):
        cv.encode_images(untrained, [np.zeros((4, 4, 3))])


def test_over_long_text_is_cut_with_a_warning(untrained):
    long = "a small red circle on the left " * 10
    with pytest.warns(UserWarning, match="longer than the model's 16-token context"):
        emb = cv.encode_texts(untrained, [long])
    assert emb.shape == (1, 64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cv.encode_texts(untrained, ["a small red circle on the left"])  # a normal caption does not warn


def test_a_single_string_or_image_is_accepted(untrained, picture):
    assert cv.encode_texts(untrained, "a red circle").shape == (1, 64)
    assert cv.encode_images(untrained, picture).shape == (1, 64)


def test_other_image_sizes_are_resized(untrained, world):
    d = world.dataset("test", 2)
    big = torch.nn.functional.interpolate(d.images, size=(64, 64), mode="nearest")
    assert torch.allclose(cv.encode_images(untrained, big), cv.encode_images(untrained, d.images), atol=0.05)
