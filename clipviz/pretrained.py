"""Pretrained CLIPs: any open_clip model and its weights, loaded the way a laptop can afford.

`load_clip` returns the same `ClipBundle` as the mini CLIP. Three things make it
fit a student's machine:
- offline it fails within seconds with a message that says what to do, instead of
  hanging on a download (`_hub_reachable`, `pretrained_cached`);
- the precision follows the hardware (`choose_precision`): bfloat16 halves the
  memory, but only a CPU with native bf16 units computes it fast;
- a weights file is memory-mapped into a model whose parameters were never
  allocated, so the weights exist once in memory, not twice.
"""
from __future__ import annotations

import difflib
import os
import socket
import threading
import zipfile
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import open_clip
import torch

from .model import ClipBundle, _quiet_open_clip, pick_device


class PretrainedUnavailable(RuntimeError):
    """Pretrained weights could not be had (no internet, unknown tag, missing file)."""


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
    if not local:
        _check_name(name)
    pretrained = _check_pretrained(name, os.fspath(pretrained) if isinstance(pretrained, os.PathLike) else pretrained)
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


def _check_name(name: str) -> None:
    """ValueError, naming the close matches, unless `name` is an open_clip architecture."""
    if name not in open_clip.list_models():
        close = (difflib.get_close_matches(name, open_clip.list_models(), n=8, cutoff=0.5)  # "ViT-B/32" -> "ViT-B-32"
                 or [m for m in open_clip.list_models() if name.lower()[:4] in m.lower()][:10])
        raise ValueError(f"unknown open_clip model {name!r}. Similar names: {close or 'none'}; "
                         f"all of them: open_clip.list_models(). For the shapes world use cv.mini_clip().")


def _check_pretrained(name: str, pretrained: str | None) -> str | None:
    """`pretrained` if it is None, a file, or a tag of `name` whose weights are cached or can be downloaded.

    Raises ValueError for an unknown tag or a missing file, and PretrainedUnavailable, within
    seconds, when a tag's weights are not cached and the hub cannot be reached.
    """
    if pretrained is None or os.path.isfile(pretrained):
        return pretrained
    tags = open_clip.list_pretrained_tags_by_model(name)
    if pretrained not in tags:
        looks_like_path = os.sep in str(pretrained) or str(pretrained).endswith((".pt", ".bin", ".safetensors"))
        what = f"no such weights file {pretrained!r}" if looks_like_path else f"unknown pretrained tag {pretrained!r}"
        raise ValueError(f"{what} for {name}. Tags for {name}: {tags or 'none'}; "
                         f"or pass a local weights file, or pretrained=None for random weights.")
    if not _weights_cached(open_clip.get_pretrained_cfg(name, pretrained)) and not _hub_reachable():
        raise PretrainedUnavailable(
            f"cannot download the {name} weights {pretrained!r}: no internet connection "
            f"(or HF_HUB_OFFLINE=1) and they are not in the Hugging Face cache. "
            f"Do one of: connect and run again; load a local file with "
            f"cv.load_clip({name!r}, pretrained='/path/to/weights.bin'); or use the bundled mini CLIP, "
            f"cv.load_checkpoint(cv.SHIPPED).")
    return pretrained
