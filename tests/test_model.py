import open_clip
import pytest
import torch

import clipviz as cv


def test_mini_clip_is_a_real_open_clip_model(untrained):
    assert isinstance(untrained.model, open_clip.CLIP)
    assert "clipviz-tiny" in open_clip.list_models()  # registered: open_clip can build it by name too
    assert isinstance(untrained.tokenizer, open_clip.tokenizer.SimpleTokenizer)  # the real BPE tokenizer
    built = open_clip.create_model("clipviz-tiny")
    assert built.state_dict().keys() == untrained.model.state_dict().keys()


def test_tokenizer_is_clips_bpe(untrained):
    tokens = untrained.tokenizer(["a red circle"])[0]
    reference = open_clip.tokenize(["a red circle"], context_length=untrained.context_length)[0]
    assert torch.equal(tokens, reference)


def test_presets_and_checkpoint_budget():
    assert {"tiny", "small"} <= set(cv.PRESETS)
    tiny = cv.mini_clip("tiny", device="cpu")
    bytes_fp32 = sum(p.numel() * 4 for p in tiny.model.state_dict().values())
    assert bytes_fp32 <= 8e6
    small = cv.mini_clip("small", device="cpu")
    assert sum(p.numel() for p in small.model.parameters()) > sum(p.numel() for p in tiny.model.parameters())


def test_same_seed_same_weights():
    a, b, c = (cv.mini_clip("tiny", seed=s, device="cpu") for s in (1, 1, 2))
    assert torch.equal(a.model.visual.conv1.weight, b.model.visual.conv1.weight)
    assert not torch.equal(a.model.visual.conv1.weight, c.model.visual.conv1.weight)


def test_unknown_preset_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"choose one of \['small', 'tiny'\]"):
        cv.mini_clip("huge")


def test_device_is_chosen_not_assumed(untrained):
    assert cv.pick_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available() and torch.backends.mps.is_available():
        expected = "mps"
    assert cv.pick_device().type == expected
    assert untrained.device == torch.device("cpu")


def test_available_models_lists_both_kinds():
    models = cv.available_models()
    assert "tiny" in models["mini"]
    assert ("ViT-B-32", "openai") in models["open_clip"]
