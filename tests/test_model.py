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
    with pytest.raises(ValueError, match=r"choose one of \['gpu', 'small', 'tiny', 'tiny-p8'\]"):
        cv.mini_clip("huge")


@pytest.mark.parametrize("cuda, mps, expected", [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_device_is_chosen_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert cv.pick_device() == torch.device(expected)
    assert cv.pick_device("cpu") == torch.device("cpu")  # an explicit choice always wins


def test_presets_are_open_clip_json_configs():
    import json
    for name in cv.PRESETS:
        path = cv.model.CONFIG_DIR / f"clipviz-{name}.json"
        assert json.loads(path.read_text()) == open_clip.get_model_config(f"clipviz-{name}")
    assert cv.MiniClipConfig.from_preset("tiny") == cv.MiniClipConfig()  # the dataclass documents the tiny preset
    assert cv.MiniClipConfig().open_clip_config() == open_clip.get_model_config("clipviz-tiny")


def test_a_config_of_your_own_builds_and_round_trips(tmp_path):
    import dataclasses
    config = dataclasses.replace(cv.MiniClipConfig(), text_layers=3, embed_dim=32)
    bundle = cv.mini_clip(config, device="cpu")
    assert len(bundle.model.transformer.resblocks) == 3 and bundle.model.text_projection.shape[1] == 32
    path = cv.save_checkpoint(bundle, tmp_path / "own.pt")
    again = cv.load_checkpoint(path, device="cpu")
    texts = ["a red star"]
    assert torch.allclose(cv.encode_texts(bundle, texts), cv.encode_texts(again, texts), atol=1e-6)


def test_available_models_lists_both_kinds():
    models = cv.available_models()
    assert "tiny" in models["mini"]
    assert ("ViT-B-32", "openai") in models["open_clip"]
