"""The model: a mini CLIP built by open_clip, and any pretrained open_clip model.

Both come back as a `ClipBundle` (model + preprocess + tokenizer), so every other
helper in clipviz works the same on a 2 MB shapes-world CLIP and on a ViT-B-32.

The mini CLIP is not a hand-written copy of CLIP: each preset below is an ordinary
open_clip model config (the same JSON shape as open_clip's `ViT-B-32.json`),
registered with open_clip under the name "clipviz-<preset>", built by
`open_clip.create_model_and_transforms`, and fed by open_clip's real BPE tokenizer.
Only the sizes are small: a 32x32 image, two transformer layers per tower.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import logging
import os
import socket
import tempfile
import threading
import zipfile
from pathlib import Path
from urllib.parse import urlparse
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

import open_clip
import torch

# Preprocessing statistics of the shapes world (mean and std of its pixels, roughly).
SHAPES_MEAN = (0.62, 0.62, 0.60)
SHAPES_STD = (0.22, 0.22, 0.24)


@dataclass
class MiniClipConfig:
    image_size: int = 32  # side of the input images in pixels (the shapes world draws 32x32)
    patch_size: int = 8  # ViT patches of 8x8 pixels: a 32x32 image becomes 4x4 = 16 tokens
    vision_width: int = 64  # channels of the image transformer
    vision_layers: int = 2  # transformer blocks in the image tower
    vision_head_width: int = 16  # channels per attention head (heads = width / head_width)
    text_width: int = 32  # channels of the text transformer; its token table (49,408 x width) dominates the size
    text_layers: int = 2  # transformer blocks in the text tower
    text_heads: int = 4  # attention heads in the text tower
    context_length: int = 16  # tokens per caption, start and end included (the longest caption has 13); longer ones are cut
    embed_dim: int = 64  # size of the shared embedding space both towers project into
    quick_gelu: bool = True  # x * sigmoid(1.702 x), as in OpenAI's CLIP; cheaper on a CPU than the exact GELU

    @classmethod
    def from_preset(cls, preset: str) -> "MiniClipConfig":
        """The config of a preset, read back from its JSON file."""
        cfg = open_clip.get_model_config(f"clipviz-{preset}")
        v, t = cfg["vision_cfg"], cfg["text_cfg"]
        return cls(image_size=v["image_size"], patch_size=v["patch_size"], vision_width=v["width"],
                   vision_layers=v["layers"], vision_head_width=v["head_width"], text_width=t["width"],
                   text_layers=t["layers"], text_heads=t["heads"], context_length=t["context_length"],
                   embed_dim=cfg["embed_dim"], quick_gelu=cfg.get("quick_gelu", False))

    def open_clip_config(self) -> dict:
        """This config in open_clip's own format (as in open_clip/model_configs/*.json)."""
        return dict(
            embed_dim=self.embed_dim,
            quick_gelu=self.quick_gelu,
            vision_cfg=dict(image_size=self.image_size, patch_size=self.patch_size, width=self.vision_width,
                            layers=self.vision_layers, head_width=self.vision_head_width),
            text_cfg=dict(context_length=self.context_length, vocab_size=49408, width=self.text_width,
                          heads=self.text_heads, layers=self.text_layers),
        )


CONFIG_DIR = Path(__file__).resolve().parent / "model_configs"  # the presets, as open_clip model-config JSON
PRESETS = {  # name -> size; each is the file model_configs/clipviz-<name>.json, open it to read the sizes
    "tiny": "1.7M params (1.6M of them the token table), 6.9 MB checkpoint; ~1 min on 2 CPU cores",
    "small": "3.9M params, 15 MB checkpoint; a few minutes on 2 CPU cores",
    "gpu": "10.2M params (6.3M the token table), 4x4-pixel patches, 41 MB checkpoint; for a CUDA GPU (recipe('gpu'))",
}
open_clip.add_model_config(CONFIG_DIR)  # open_clip.create_model("clipviz-tiny") builds them too


def register_config(config: "MiniClipConfig | dict") -> str:
    """Register a model config with open_clip (public add_model_config) and return its model name.

    config: a MiniClipConfig, or an open_clip config dict (embed_dim, vision_cfg, text_cfg).
    The name is "clipviz-custom-<digest of the config>", so equal configs share one name.
    """
    cfg = config.open_clip_config() if isinstance(config, MiniClipConfig) else dict(config)
    text = json.dumps(cfg, sort_keys=True)
    name = f"clipviz-custom-{hashlib.sha1(text.encode()).hexdigest()[:10]}"
    if name not in open_clip.list_models():
        folder = Path(tempfile.mkdtemp(prefix="clipviz-configs-"))
        (folder / f"{name}.json").write_text(text)
        open_clip.add_model_config(folder / f"{name}.json")
    return name


class PretrainedUnavailable(RuntimeError):
    """Pretrained weights could not be had (no internet, unknown tag, missing file)."""


@dataclass
class ClipBundle:
    """A CLIP model with what it needs to read images and text.

    model: an open_clip CLIP (image tower, text tower, logit_scale).
    preprocess: PIL image -> (3, H, W) normalised tensor, open_clip's own transform.
    tokenizer: list of strings -> (M, context_length) LongTensor, open_clip's tokenizer.
    name: the open_clip model name ("clipviz-tiny", "ViT-B-32", ...).
    pretrained: where the weights came from (a tag, a file, or None for random).
    config: the open_clip model config, enough to rebuild the model.
    """
    model: torch.nn.Module
    preprocess: Callable
    tokenizer: Callable
    name: str
    pretrained: str | None
    config: dict

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def image_size(self) -> int:
        size = self.model.visual.preprocess_cfg["size"]
        return size if isinstance(size, int) else size[0]

    @property
    def context_length(self) -> int:
        return self.tokenizer.context_length

    def to(self, device) -> "ClipBundle":
        """Move the model to `device` (a string or torch.device); returns the bundle."""
        self.model.to(pick_device(device))
        return self

    def __repr__(self) -> str:
        params = sum(p.numel() for p in self.model.parameters())
        return (f"ClipBundle(name={self.name!r}, pretrained={self.pretrained!r}, "
                f"params={params / 1e6:.2f}M, device={str(self.device)!r})")


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The device to run on: `device` if given, else CUDA, then Apple's MPS, then the CPU."""
    if device is not None:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


@contextmanager
def _quiet_open_clip():
    """open_clip logs "No pretrained weights loaded" on the root logger; a random mini CLIP is meant."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)


def mini_clip(preset: "str | MiniClipConfig" = "tiny", seed: int = 0,
              device: str | torch.device | None = None) -> ClipBundle:
    """A freshly initialised mini CLIP for the shapes world.

    preset: a key of PRESETS ("tiny", "small"), or a MiniClipConfig of your own
        (e.g. dataclasses.replace(MiniClipConfig.from_preset("tiny"), text_layers=1)).
    seed: the weights' random seed (same seed, same initial model).
    device: where to put it; None picks CUDA, then MPS, then CPU.
    """
    if isinstance(preset, MiniClipConfig):
        name = register_config(preset)
    elif preset in PRESETS:
        name = f"clipviz-{preset}"
    else:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}, or pass a MiniClipConfig")
    with torch.random.fork_rng(devices=[]), _quiet_open_clip():
        torch.manual_seed(seed)
        model, _, preprocess = open_clip.create_model_and_transforms(
            name, pretrained=None, image_mean=SHAPES_MEAN, image_std=SHAPES_STD, image_interpolation="bilinear")
    model.to(pick_device(device)).eval()
    return ClipBundle(model, preprocess, open_clip.get_tokenizer(name), name, None,
                      open_clip.get_model_config(name))


def _from_config(name: str, config: dict, preprocess_cfg: dict | None) -> ClipBundle:
    """An untrained bundle for an open_clip `config` (used when loading a checkpoint)."""
    if name.startswith("local-dir:") or open_clip.get_model_config(name) != config:  # a name unknown here
        name = register_config(config)
    with _quiet_open_clip():
        model, _, preprocess = open_clip.create_model_and_transforms(
            name, pretrained=None, image_mean=(preprocess_cfg or {}).get("mean"),
            image_std=(preprocess_cfg or {}).get("std"),
            image_interpolation=(preprocess_cfg or {}).get("interpolation"))
    return ClipBundle(model.eval(), preprocess, open_clip.get_tokenizer(name), name, None, config)


def available_models() -> dict:
    """What `mini_clip` and `load_clip` accept.

    Returns {"mini": [preset names], "open_clip": [(model name, pretrained tag), ...]}.
    """
    return {"mini": sorted(PRESETS), "open_clip": open_clip.list_pretrained()}


def _hub_reachable(timeout: float = 3.0) -> bool:
    """True when the Hugging Face hub (or the mirror in HF_ENDPOINT) answers within `timeout` seconds.

    The probe runs in a daemon thread: a DNS lookup can block far longer than a socket
    timeout on a machine with no network, and the caller is promised an answer in time.
    """
    if os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE"):  # as huggingface_hub reads it
        return False
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    address = (endpoint.hostname, endpoint.port or (80 if endpoint.scheme == "http" else 443))
    answered = []

    def probe():
        try:
            with socket.create_connection(address, timeout=timeout):
                answered.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(answered)


def _weights_cached(pretrained_cfg: dict) -> bool:
    """True when a tag's weights are already in the Hugging Face cache (no download needed)."""
    from huggingface_hub import try_to_load_from_cache
    parts = pretrained_cfg.get("hf_hub", "").strip("/").split("/")
    if len(parts) < 2:
        return False
    files = parts[2:] or ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
    return any(isinstance(try_to_load_from_cache("/".join(parts[:2]), f), str) for f in files)


PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16}  # load_clip's precision="auto" picks one


def native_bf16_units(cpuinfo: str | None = None, capability: str | None = None) -> list[str]:
    """The units of this CPU that compute bfloat16 natively: [] for none (most laptops), else e.g. ["AVX512-BF16"].

    cpuinfo: the text of /proc/cpuinfo (read when None); its "flags" (x86) or "Features" (Arm) line is searched
        for avx512_bf16, amx_bf16 (Intel's AMX) and bf16 (Arm).
    capability: torch's own report, torch.backends.cpu.get_cpu_capability() ("AVX2", "AVX512", ...; read when
        None). On x86 an AVX512-BF16 or AMX unit counts only where torch dispatches to AVX512: with
        ATEN_CPU_CAPABILITY=avx2 torch runs as on an AVX2-only laptop.
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:  # not Linux: ask torch alone
            cpuinfo = ""
    if capability is None:
        capability = torch.backends.cpu.get_cpu_capability()
    flags = {flag for line in cpuinfo.splitlines() if line.split(":")[0].strip() in ("flags", "Features")
             for flag in line.split(":", 1)[1].split()}
    units = [unit for flag, unit in (("avx512_bf16", "AVX512-BF16"), ("amx_bf16", "AMX")) if flag in flags]
    if not cpuinfo and getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)():
        units.append("AVX512-BF16")
    if units and not capability.upper().startswith("AVX512"):
        units = []  # present in the CPU, but torch does not use them
    if "bf16" in flags:  # Arm: Neoverse V1/N2, Graviton3, Apple M2 under Linux
        units.append("Arm BF16")
    return units


def choose_precision(device: str | torch.device | None = None) -> tuple[str, str]:
    """The precision load_clip(precision="auto") uses on `device` (None: pick_device()), and why.

    Returns ("bf16" or "fp32", a sentence for the student). bf16 halves the weights' memory, but a CPU
    without native bfloat16 emulates it: a prompt edit on ViT-B-32 took 1,843 ms in bf16 and 275 ms in fp32
    on a 2-core AVX2 AMD EPYC. GPUs keep fp32, the reference, which their memory holds easily.
    """
    device = pick_device(device)
    if device.type != "cpu":
        return "fp32", f"fp32 on {device.type}: the reference precision, and the GPU has the memory for it"
    units = native_bf16_units()
    if units:
        return "bf16", (f"bf16: this CPU computes bfloat16 natively ({', '.join(units)}), "
                        f"so it halves the memory and runs faster too")
    return "fp32", (f"fp32: this CPU has no native bfloat16 (torch reports {torch.backends.cpu.get_cpu_capability()}), "
                    f"where bf16 would be several times slower; fp32 weights are read straight from the file, "
                    f"so ViT-B-32 still fits in about 1.5 GB")


@contextmanager
def _default_dtype(dtype: torch.dtype):
    """Create parameters directly in `dtype`, so a bf16 model never exists in fp32 (half the peak memory)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


@contextmanager
def _parameters_on_meta():
    """Build models whose parameters take no memory (torch's "meta" device) while their buffers are real.

    The weights come afterwards from a file (`_assign_weights`). Buffers stay real because weights files
    do not hold them all: open_clip's causal `attn_mask` is made at construction and never saved.
    (The same trick as accelerate's init_empty_weights.)
    """
    register = torch.nn.Module.register_parameter

    def register_on_meta(module, name, param):
        if param is not None:
            param = torch.nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
        register(module, name, param)

    torch.nn.Module.register_parameter = register_on_meta
    try:
        yield
    finally:
        torch.nn.Module.register_parameter = register


def _can_map(path: str) -> bool:
    """True for the weights files `_assign_weights` reads in place: safetensors and torch's zip format."""
    return path.endswith(".safetensors") or zipfile.is_zipfile(path)


def _map_weights(path: str) -> dict:
    """The state dict in a weights file, memory-mapped: a tensor's bytes are read from the file when used.

    open_clip_train wraps it in {"state_dict": ...}, with DDP's "module." before every key: both are removed.
    """
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file
        state = load_file(path)  # memory-mapped too
    else:
        state = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
    state = state.get("state_dict", state)
    return {key.removeprefix("module."): value for key, value in state.items()}


def _read_weights(path: str, dtype: torch.dtype, batch_bytes: int = 64 * 2**20) -> dict:
    """The state dict of `path` with its floating-point tensors in `dtype`.

    Already in `dtype` (fp32 weights, fp32 wanted): the memory-mapped tensors themselves, no copy.
    Otherwise (bf16 wanted) they are converted about `batch_bytes` at a time, each batch from a fresh
    mapping that is dropped afterwards, so the whole fp32 file is never resident next to its bf16 copy.
    """
    state = _map_weights(path)
    if all(t.dtype == dtype or not t.is_floating_point() for t in state.values()):
        return state
    sizes = {key: t.nbytes for key, t in state.items()}
    del state  # only the names and sizes were needed: no page of the file has been read yet
    converted, batch, batch_size = {}, [], 0
    for i, key in enumerate(sizes):
        batch, batch_size = batch + [key], batch_size + sizes[key]
        if batch_size >= batch_bytes or i == len(sizes) - 1:
            state = _map_weights(path)
            converted.update({k: state[k].to(dtype) if state[k].is_floating_point() else state[k].clone()
                              for k in batch})
            del state  # unmaps the file: the pages read for this batch leave memory with it
            batch, batch_size = [], 0
    return converted


def _assign_weights(model: torch.nn.Module, path: str, dtype: torch.dtype) -> None:
    """Load the weights file `path` into `model` (built under _parameters_on_meta) without a second copy.

    The file is memory-mapped and its tensors become the model's parameters (load_state_dict(assign=True)):
    in fp32 the weights are paged in from the file instead of being copied into freshly allocated
    parameters; in bf16 only the bf16 copy is kept. The steps are open_clip's load_checkpoint, which would copy.
    """
    # 1) the state dict, memory-mapped (in `dtype`)
    state = _read_weights(path, dtype)
    # 2) what open_clip's load_checkpoint adapts: other projects' layouts, the older text-tower names,
    #    a logit scale stored as a scalar or a 1-element vector, position embeddings for another image size
    state = open_clip.convert.convert_state_dict(model, state)
    if "positional_embedding" in state and not hasattr(model, "positional_embedding"):
        state = open_clip.model.convert_to_custom_text_state_dict(state)
    for key in ("logit_scale", "logit_bias"):
        if key in state and getattr(model, key, None) is not None:
            state[key] = state[key].reshape(getattr(model, key).shape)
    open_clip.model.resize_pos_embed(state, model)
    open_clip.model.resize_text_pos_embed(state, model)
    # 3) the file's tensors become the parameters; the meta placeholders are dropped
    model.load_state_dict(state, strict=True, assign=True)


def pretrained_cached(name: str = "ViT-B-32", pretrained: str = "laion2b_s34b_b79k") -> bool:
    """True when the weights of open_clip tag `pretrained` for model `name` are on this machine already
    (or when `pretrained` is a local weights file).

    Ask before load_clip when a download matters: ViT-B-32's are about 600 MB (over an hour on mybinder.org).
    Raises ValueError for a tag that model does not have, listing the ones it has.
    """
    if os.path.isfile(pretrained):
        return True
    cfg = open_clip.get_pretrained_cfg(name, pretrained)
    if not cfg:
        raise ValueError(f"unknown pretrained tag {pretrained!r} for {name}. "
                         f"Tags for {name}: {open_clip.list_pretrained_tags_by_model(name) or 'none'}")
    return _weights_cached(cfg)


def load_clip(name: str = "ViT-B-32", pretrained: str | None = "laion2b_s34b_b79k",
              device: str | torch.device | None = None, precision: str = "auto") -> ClipBundle:
    """Any open_clip model as a ClipBundle.

    name: an open_clip architecture ("ViT-B-32", "RN50", ...; see open_clip.list_models()), or
        "local-dir:DIR" for the model config in DIR/open_clip_config.json (see clipviz.export).
    pretrained: an open_clip tag (see available_models()), a path to a local weights
        file, or None for random weights (a dry run that costs the same compute).
    device: where to put it; None picks CUDA, then MPS, then CPU.
    precision: "fp32"; "bf16" to hold the weights in bfloat16: half the memory (ViT-B-32: 600 -> 300 MB)
        for nearly the same embeddings, but slow on a CPU without native bf16; or "auto" (the default):
        bf16 on a CPU that computes it natively, fp32 elsewhere (see choose_precision).
    A weights file is memory-mapped and becomes the parameters, never copied: ViT-B-32 in fp32 needs
    about 600 MB for its weights, not twice that.
    Raises ValueError for an unknown name or tag (listing the valid ones) and
    PretrainedUnavailable, within seconds, when a tag's weights cannot be downloaded.
    """
    if precision not in (*PRECISIONS, "auto"):
        raise ValueError(f"unknown precision {precision!r}; choose one of {(*PRECISIONS, 'auto')}")
    device = pick_device(device)
    if precision == "auto":
        precision, _ = choose_precision(device)
    local = name.startswith("local-dir:")  # a folder with open_clip_config.json, as `python -m clipviz export` writes
    if not local and name not in open_clip.list_models():
        close = (difflib.get_close_matches(name, open_clip.list_models(), n=8, cutoff=0.5)  # "ViT-B/32" -> "ViT-B-32"
                 or [m for m in open_clip.list_models() if name.lower()[:4] in m.lower()][:10])
        raise ValueError(f"unknown open_clip model {name!r}. Similar names: {close or 'none'}; "
                         f"all of them: open_clip.list_models(). For the shapes world use cv.mini_clip().")
    if isinstance(pretrained, os.PathLike):
        pretrained = os.fspath(pretrained)  # a pathlib.Path works like its string
    if pretrained is not None and not os.path.isfile(pretrained):
        tags = open_clip.list_pretrained_tags_by_model(name)
        if pretrained not in tags:
            looks_like_path = os.sep in str(pretrained) or str(pretrained).endswith((".pt", ".bin", ".safetensors"))
            what = f"no such weights file {pretrained!r}" if looks_like_path else f"unknown pretrained tag {pretrained!r}"
            raise ValueError(f"{what} for {name}. Tags for {name}: {tags or 'none'}; "
                             f"or pass a local weights file, or pretrained=None for random weights.")
        cfg = open_clip.get_pretrained_cfg(name, pretrained)
        if not _weights_cached(cfg) and not _hub_reachable():
            raise PretrainedUnavailable(
                f"cannot download the {name} weights {pretrained!r}: no internet connection "
                f"(or HF_HUB_OFFLINE=1) and they are not in the Hugging Face cache. "
                f"Do one of: connect and run again; load a local file with "
                f"cv.load_clip({name!r}, pretrained='/path/to/weights.bin'); or use the bundled mini CLIP, "
                f"cv.load_checkpoint(cv.SHIPPED).")
    try:
        # 1) the weights file: a local one, or a tag's (downloaded once into the Hugging Face cache)
        path = pretrained
        if pretrained is not None and not os.path.isfile(pretrained):
            path = open_clip.download_pretrained(open_clip.get_pretrained_cfg(name, pretrained))
        # 2) the network, with empty parameters where they will be mapped from the file
        mapped = path is not None and _can_map(path)
        with _quiet_open_clip(), _parameters_on_meta() if mapped else _default_dtype(PRECISIONS[precision]):
            model, _, preprocess = open_clip.create_model_and_transforms(  # a tag also sets the preprocessing
                name, pretrained=None if local else pretrained, load_weights=False,
                device=None if mapped else "cpu")  # None: no move, which meta parameters refuse
        # 3) the weights
        if mapped:
            _assign_weights(model, path, PRECISIONS[precision])
        elif path is not None:  # an old-style torch file or numpy weights: open_clip reads them into the model
            open_clip.load_checkpoint(model, path)
    except Exception as err:  # a corrupt or foreign file fails deep inside torch.load or load_state_dict
        raise PretrainedUnavailable(f"open_clip could not load {name} with pretrained={pretrained!r}: {err}. "
                                    f"Check the file or tag, or use pretrained=None for random weights.") from err
    model.to(device=device, dtype=PRECISIONS[precision]).eval()  # bf16: each mapped fp32 tensor converted
    return ClipBundle(model, preprocess, open_clip.get_tokenizer(name), name, pretrained,
                      open_clip.get_model_config(name))

