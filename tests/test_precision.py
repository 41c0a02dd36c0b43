"""load_clip's precision chosen by the hardware, and weights read from their file without a second copy."""
import json

import open_clip
import pytest
import torch
from safetensors.torch import save_file

import clipviz as cv
from clipviz.pretrained import choose_precision, native_bf16_units

AVX2_LAPTOP = "processor\t: 0\nflags\t\t: fpu sse4_2 avx avx2 fma f16c\n"
ZEN4 = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512bw avx512_bf16 avx512_vnni\n"
SAPPHIRE_RAPIDS = "flags\t\t: avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8\n"
GRAVITON3 = "processor\t: 0\nFeatures\t: fp asimd aes sha2 crc32 atomics sve bf16 i8mm\n"
GRAVITON2 = "processor\t: 0\nFeatures\t: fp asimd aes sha2 crc32 atomics\n"


@pytest.mark.parametrize("cpuinfo, capability, units", [
    (AVX2_LAPTOP, "AVX2", []),
    (ZEN4, "AVX512", ["AVX512-BF16"]),
    (ZEN4, "AVX2", []),  # the unit is there, but torch was told to run as on AVX2 (ATEN_CPU_CAPABILITY=avx2)
    (SAPPHIRE_RAPIDS, "AVX512", ["AVX512-BF16", "AMX"]),
    (GRAVITON3, "SVE256", ["Arm BF16"]),
    (GRAVITON2, "DEFAULT", []),
])
def test_native_bf16_is_read_from_the_cpu_flags_and_torchs_capability(cpuinfo, capability, units):
    assert native_bf16_units(cpuinfo, capability) == units


def test_auto_is_fp32_without_native_bf16_and_bf16_with_it(monkeypatch, tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(cv.mini_clip("tiny", seed=0, device="cpu").model.state_dict(), path)
    monkeypatch.setattr(cv.pretrained, "native_bf16_units", lambda: [])
    precision, why = choose_precision("cpu")
    assert precision == "fp32" and "no native bfloat16" in why
    assert next(cv.load_clip("clipviz-tiny", pretrained=path, device="cpu").model.parameters()).dtype == torch.float32
    monkeypatch.setattr(cv.pretrained, "native_bf16_units", lambda: ["AMX"])
    precision, why = choose_precision("cpu")
    assert precision == "bf16" and "AMX" in why
    assert next(cv.load_clip("clipviz-tiny", pretrained=path, device="cpu").model.parameters()).dtype == torch.bfloat16
    # (choose_precision("cuda") on a GPU is tests/test_gpu_path.py's: asking for CUDA here is refused, as it should be)
    with pytest.raises(ValueError, match="unknown precision 'fp8'.*auto"):
        cv.load_clip("clipviz-tiny", pretrained=None, precision="fp8")


TINY_VIT = {  # a small ViT CLIP in open_clip's config format; the 49408 x 512 token table is 100 MB in fp32
    "embed_dim": 64,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "head_width": 32, "patch_size": 8},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 512, "heads": 8, "layers": 1},
}


@pytest.fixture(scope="module")
def tiny_vit(tmp_path_factory):
    """(name, a model of that name with random weights) for an open_clip config written here."""
    folder = tmp_path_factory.mktemp("configs")
    (folder / "clipviz-test-vit.json").write_text(json.dumps(TINY_VIT))
    open_clip.add_model_config(folder / "clipviz-test-vit.json")
    torch.manual_seed(0)
    model = open_clip.create_model("clipviz-test-vit", pretrained=None).eval()
    return "clipviz-test-vit", model


def save(state, path):
    if path.suffix == ".safetensors":
        save_file({key: value.contiguous() for key, value in state.items()}, path)
    elif path.stem == "legacy":  # the pre-1.6 torch format, which cannot be memory-mapped: open_clip reads it
        torch.save(state, path, _use_new_zipfile_serialization=False)
    else:
        torch.save(state, path)


@pytest.mark.parametrize("file, wrap", [("weights.pt", False), ("weights.safetensors", False),
                                        ("epoch_1.pt", True), ("legacy.pt", False)])
def test_a_mapped_load_encodes_exactly_like_open_clips_own_load(tiny_vit, tmp_path, file, wrap):
    name, model = tiny_vit
    state = model.state_dict()
    assert "attn_mask" not in state  # a buffer open_clip rebuilds instead of saving: it must not end up empty
    if wrap:  # as open_clip_train saves under DDP
        state = {"epoch": 1, "state_dict": {f"module.{key}": value for key, value in state.items()}}
    save(state, tmp_path / file)
    ours = cv.load_clip(name, pretrained=tmp_path / file, device="cpu", precision="fp32")
    torch.save(model.state_dict(), tmp_path / "reference.pt")
    reference, _, _ = open_clip.create_model_and_transforms(name, pretrained=str(tmp_path / "reference.pt"))
    reference.eval()  # open_clip's own load: a model built in full, then the weights copied in
    assert not any(t.is_meta for t in [*ours.model.parameters(), *ours.model.buffers()])
    assert torch.equal(ours.model.attn_mask, reference.attn_mask)
    images, texts = torch.rand(3, 3, 32, 32), ours.tokenizer(["a red circle", "a blue square", "a photo of a cat"])
    with torch.no_grad():
        assert torch.allclose(ours.model.encode_image(images), reference.encode_image(images), atol=1e-6)
        assert torch.allclose(ours.model.encode_text(texts), reference.encode_text(texts), atol=1e-6)
        assert torch.allclose(ours.model.encode_text(texts), model.encode_text(texts), atol=1e-6)


def rss_anon_mb() -> float:
    """Memory this process holds that is not backed by a file (/proc/self/status RssAnon), in MB."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith("RssAnon:"))


def test_fp32_weights_are_mapped_from_the_file_not_copied(tiny_vit, tmp_path):
    name, model = tiny_vit
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    size_mb = (tmp_path / "weights.pt").stat().st_size / 2**20  # about 105 MB
    before = rss_anon_mb()
    bundle = cv.load_clip(name, pretrained=tmp_path / "weights.pt", device="cpu", precision="fp32")
    cv.encode_texts(bundle, ["a photo of a cat"])  # every weight of the text tower read once
    grown = rss_anon_mb() - before
    assert grown < 0.25 * size_mb, f"loading grew private memory by {grown:.0f} MB for a {size_mb:.0f} MB file"


def test_pretrained_cached_looks_in_the_hugging_face_cache_without_downloading(tmp_path, monkeypatch):
    import huggingface_hub.constants

    from clipviz.pretrained import pretrained_cached

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    assert not pretrained_cached("ViT-B-32", "laion2b_s34b_b79k")  # chapter 08 then warns before a 600 MB download
    repo = open_clip.get_pretrained_cfg("ViT-B-32", "laion2b_s34b_b79k")["hf_hub"].strip("/")
    snapshot = tmp_path / f"models--{repo.replace('/', '--')}" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "open_clip_model.safetensors").write_bytes(b"")  # what a finished download leaves
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("abc123")
    assert pretrained_cached("ViT-B-32", "laion2b_s34b_b79k")
    with pytest.raises(ValueError, match="unknown pretrained tag 'best'.*laion2b_s34b_b79k"):
        pretrained_cached("ViT-B-32", "best")
    assert pretrained_cached("ViT-B-32", str(snapshot / "open_clip_model.safetensors"))  # a local file: no download


@pytest.mark.parametrize("file", ["weights.pt", "weights.safetensors"])
def test_bf16_from_a_file_is_each_fp32_weight_rounded_once(tiny_vit, tmp_path, file):
    name, model = tiny_vit
    save(model.state_dict(), tmp_path / file)
    expected = {key: value.to(torch.bfloat16) for key, value in model.state_dict().items()}
    for batch_bytes in (1, 10**9):  # a mapping per tensor, and one for the whole file: the same result
        read = cv.pretrained._read_weights(str(tmp_path / file), torch.bfloat16, batch_bytes=batch_bytes)
        assert read.keys() == expected.keys() and all(torch.equal(read[k], expected[k]) for k in expected)
    half = cv.load_clip(name, pretrained=tmp_path / file, device="cpu", precision="bf16")
    state = half.model.state_dict()
    assert all(torch.equal(state[key], expected[key]) for key in expected)
    assert half.model.attn_mask.dtype == torch.bfloat16 and not half.model.attn_mask.is_meta
