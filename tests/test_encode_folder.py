import pytest
import torch
from PIL import Image

import clipviz as cv

PICTURES = {  # file -> colour; sorted by path, as encode_folder returns them
    "a.png": (220, 30, 30), "b.png": (30, 200, 30), "c.png": (30, 30, 220), "d.png": (240, 220, 40),
    "more/e.jpg": (20, 20, 20),
}


@pytest.fixture
def folder(tmp_path):
    """Five small pictures (one in a subfolder, one RGBA) and two files that are not images."""
    root = tmp_path / "pictures"
    (root / "more").mkdir(parents=True)
    for i, (name, colour) in enumerate(PICTURES.items()):
        image = Image.new("RGB", (40 + 8 * i, 36), colour)
        image.paste((255, 255, 255), (4 * i, 4, 4 * i + 12, 16))  # a white patch, so no two are alike
        (image.convert("RGBA") if name == "b.png" else image).save(root / name)
    (root / "notes.txt").write_text("not a picture")
    (root / ".hidden.png").write_bytes(b"editor junk")
    return root


@pytest.fixture
def count_images(monkeypatch):
    """Wrap a bundle's encode_image so a test can see how many images reached the model."""
    def wrap(bundle):
        seen = []
        original = bundle.model.encode_image

        def counting(pixels, *args, **kwargs):
            seen.append(len(pixels))
            return original(pixels, *args, **kwargs)
        monkeypatch.setattr(bundle.model, "encode_image", counting)
        return seen
    return wrap


def test_every_image_in_sorted_order_as_encode_images_would(untrained, folder):
    paths, emb = cv.encode_folder(untrained, folder, progress=False)
    assert paths == [str(folder / name) for name in PICTURES]
    assert emb.shape == (5, 64) and emb.dtype == torch.float32
    assert torch.allclose(emb.norm(dim=-1), torch.ones(5), atol=1e-5)
    assert torch.allclose(emb, cv.encode_images(untrained, paths), atol=1e-6)


def test_batches_bound_what_is_loaded_at_once(untrained, folder, count_images):
    seen = count_images(untrained)
    cv.encode_folder(untrained, folder, batch_size=2, progress=True)
    assert seen == [2, 2, 1]


def test_a_bad_file_is_named(untrained, folder):
    (folder / "broken.jpg").write_bytes(b"this is not a jpeg")
    with pytest.raises(ValueError, match=r"broken\.jpg.*not an image.*move it out"):
        cv.encode_folder(untrained, folder, progress=False)


def test_empty_or_missing_folders_are_explained(untrained, tmp_path):
    with pytest.raises(ValueError, match="no image files"):
        cv.encode_folder(untrained, tmp_path, progress=False)
    with pytest.raises(NotADirectoryError, match="no folder"):
        cv.encode_folder(untrained, tmp_path / "nowhere", progress=False)


def test_a_rerun_reads_the_cache_without_the_model(untrained, folder, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    paths, first = cv.encode_folder(untrained, folder, cache_dir=cache, progress=False)

    def no_model(*args, **kwargs):
        raise AssertionError("the model was called although every embedding is cached")
    monkeypatch.setattr(untrained.model, "encode_image", no_model)
    again_paths, again = cv.encode_folder(untrained, folder, cache_dir=cache, progress=False)
    assert again_paths == paths and torch.equal(again, first)


def test_an_edited_file_is_encoded_again_and_only_it(untrained, folder, tmp_path, count_images):
    cache = tmp_path / "cache"
    paths, before = cv.encode_folder(untrained, folder, cache_dir=cache, progress=False)
    Image.new("RGB", (50, 50), (255, 128, 0)).save(folder / "c.png")  # same name, new content
    seen = count_images(untrained)
    _, after = cv.encode_folder(untrained, folder, cache_dir=cache, progress=False)
    assert seen == [1]
    changed = [i for i in range(5) if not torch.equal(before[i], after[i])]
    assert changed == [paths.index(str(folder / "c.png"))]
    assert torch.allclose(after, cv.encode_images(untrained, paths), atol=1e-6)


def test_the_cache_is_kept_apart_per_model_and_per_weights(untrained, folder, tmp_path, count_images):
    cache = tmp_path / "cache"
    cv.encode_folder(untrained, folder, cache_dir=cache, progress=False)
    other = cv.mini_clip("tiny", seed=1, device="cpu")  # same architecture, other weights
    seen = count_images(other)
    cv.encode_folder(other, folder, cache_dir=cache, progress=False)
    assert sum(seen) == 5
    with torch.no_grad():  # an in-place update, as an optimizer step makes
        other.model.visual.conv1.weight.add_(0.1 * torch.randn_like(other.model.visual.conv1.weight))
    seen.clear()
    paths, emb = cv.encode_folder(other, folder, cache_dir=cache, progress=False)
    assert sum(seen) == 5
    assert torch.allclose(emb, cv.encode_images(other, paths), atol=1e-6)
    assert len([d for d in cache.iterdir() if d.is_dir()]) == 3
