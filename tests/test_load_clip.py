import time

import open_clip
import pytest
import torch

import clipviz as cv


def test_local_weights_file_loads_to_the_same_embeddings(untrained, world, tmp_path):
    path = tmp_path / "open_clip_weights.pt"
    torch.save(untrained.model.state_dict(), path)  # an ordinary open_clip state dict
    loaded = cv.load_clip("clipviz-tiny", pretrained=str(path), device="cpu", precision="fp32")
    assert isinstance(loaded.model, open_clip.CLIP) and loaded.pretrained == str(path)
    world.dataset("test", 4)
    texts = ["a red circle", "a blue square"]
    assert torch.allclose(cv.encode_texts(loaded, texts), cv.encode_texts(untrained, texts), atol=1e-6)
    # the checkpoint carries no preprocessing, so compare on tensors normalised the same way
    with torch.no_grad():
        x = torch.rand(2, 3, 32, 32)
        assert torch.allclose(loaded.model.encode_image(x), untrained.model.encode_image(x), atol=1e-6)


def test_random_weights_for_a_dry_run():
    bundle = cv.load_clip("RN50", pretrained=None, device="cpu")
    assert bundle.pretrained is None and bundle.image_size == 224
    assert cv.encode_texts(bundle, ["a photo of a cat"]).shape == (1, 1024)


def test_unknown_model_and_tag_list_the_valid_choices():
    with pytest.raises(ValueError, match="unknown open_clip model 'ViT-B-99'.*Similar names.*ViT-B-32"):
        cv.load_clip("ViT-B-99", pretrained=None)
    with pytest.raises(ValueError, match="unknown pretrained tag 'best'.*openai"):
        cv.load_clip("ViT-B-32", pretrained="best")
    with pytest.raises(ValueError, match="no such weights file"):
        cv.load_clip("ViT-B-32", pretrained="/nowhere/weights.pt")


def test_offline_pretrained_tag_fails_fast_and_says_what_to_do():
    start = time.perf_counter()
    with pytest.raises(cv.PretrainedUnavailable, match="no internet.*local file.*mini CLIP"):
        cv.load_clip("ViT-B-32", pretrained="laion2b_s34b_b79k")
    assert time.perf_counter() - start < 10


def test_corrupt_weights_file_is_explained(tmp_path):
    path = tmp_path / "broken.pt"
    path.write_bytes(b"not weights at all")
    with pytest.raises(cv.PretrainedUnavailable, match="could not load clipviz-tiny"):
        cv.load_clip("clipviz-tiny", pretrained=str(path))


def test_bf16_weights_halve_the_memory_and_still_encode(untrained, tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(untrained.model.state_dict(), path)
    half = cv.load_clip("clipviz-tiny", pretrained=str(path), device="cpu", precision="bf16")
    assert {p.dtype for p in half.model.parameters()} == {torch.bfloat16}
    full_bytes = sum(p.numel() * p.element_size() for p in untrained.model.parameters())
    assert sum(p.numel() * p.element_size() for p in half.model.parameters()) == full_bytes // 2
    full = cv.load_clip("clipviz-tiny", pretrained=str(path), device="cpu", precision="fp32")  # same file
    texts, images = ["a red circle", "a blue square"], torch.rand(2, 3, 32, 32)
    emb = cv.encode_texts(half, texts)
    assert emb.dtype == torch.float32
    assert (emb * cv.encode_texts(full, texts)).sum(-1).min() > 0.99  # cosine between bf16 and fp32 embeddings
    assert (cv.encode_images(half, images) * cv.encode_images(full, images)).sum(-1).min() > 0.99
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        cv.load_clip("clipviz-tiny", pretrained=None, precision="fp8")
