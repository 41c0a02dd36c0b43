"""The model: a mini CLIP built by open_clip, and the ClipBundle every helper takes.

A mini CLIP and any pretrained open_clip model (`clipviz.pretrained.load_clip`) both
come back as a `ClipBundle` (model + preprocess + tokenizer), so every other helper
in clipviz works the same on a 2 MB shapes-world CLIP and on a ViT-B-32.

The mini CLIP is not a hand-written copy of CLIP: each preset below is an ordinary
open_clip model config (the same JSON shape as open_clip's `ViT-B-32.json`),
registered with open_clip under the name "clipviz-<preset>", built by
`open_clip.create_model_and_transforms`, and fed by open_clip's real BPE tokenizer.
Only the sizes are small: a 32x32 image, two transformer layers in the image tower and one in the text tower.
"""
from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from pathlib import Path
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
    patch_size: int = 16  # ViT patches of 16x16 pixels, as CLIP's ViT-B/16 cuts its pictures: 2x2 = 4 tokens here
    vision_width: int = 64  # channels of the image transformer
    vision_layers: int = 2  # transformer blocks in the image tower
    vision_head_width: int = 16  # channels per attention head (heads = width / head_width)
    text_width: int = 32  # channels of the text transformer; its token table (49,408 x width) dominates the size
    text_layers: int = 1  # transformer blocks in the text tower (the captions are short: one is enough, issue 18)
    text_heads: int = 4  # attention heads in the text tower
    context_length: int = 16  # tokens per caption, start and end included (the longest caption has 13); longer ones are cut
    embed_dim: int = 64  # size of the shared embedding space both towers project into
    quick_gelu: bool = True  # x * sigmoid(1.702 x), as in OpenAI's CLIP (the exact GELU steps 7-14 % faster on a CPU,
    # measured in recipe.py; the presets keep QuickGELU, which the shipped checkpoints were trained with)

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
    "tiny": "1.75M params (1.6M of them the token table), 16x16-pixel patches, one text layer, 7.0 MB checkpoint; "
            "about half a minute on 2 CPU cores (recipe())",
    "tiny-p8": "the tiny model before issue 18: 8x8-pixel patches (16 per picture) and two text layers, twice the "
               "training time (recipe('tiny-p8')); chapter 09's binding models",
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
        with tempfile.TemporaryDirectory(prefix="clipviz-configs-") as folder:  # open_clip reads it at once and
            (Path(folder) / f"{name}.json").write_text(text)  # keeps the config in memory, so the file can go
            open_clip.add_model_config(Path(folder) / f"{name}.json")
    return name


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


def available_devices() -> list[str]:
    """The kinds of device this machine can compute on, best first: "cuda" or "mps" if present, then "cpu"."""
    found = ["cuda"] if torch.cuda.is_available() else []
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        found.append("mps")
    return found + ["cpu"]


def device_problem(device: str | torch.device) -> str | None:
    """Why `device` cannot be used on this machine, in a few words; None when it can.

    Checked before any work, so a missing GPU is one clear sentence, not a driver's traceback later.
    """
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError, ValueError):  # "gpu", "cuda0", ...
        return "torch knows no device of that name (device names look like cpu, cuda, cuda:1, mps)"
    if device.type == "cpu":
        return None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            return "this machine has no CUDA GPU that torch can use (torch.cuda.is_available() is False)"
        if device.index is not None and device.index >= count:
            return f"this machine has {count} CUDA GPU{'s' if count > 1 else ''}, cuda:0 to cuda:{count - 1}"
        return None
    if device.type == "mps":
        if "mps" in available_devices():
            return None
        return ("Apple's MPS needs a Mac with Apple silicon and a torch built for it "
                "(torch.backends.mps.is_available() is False)")
    accelerator = getattr(torch, device.type, None)  # torch.xpu and the like
    if accelerator is not None and getattr(accelerator, "is_available", lambda: False)():
        return None
    return f"this machine has no {device.type} device"


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The device to run on: `device` if given, else CUDA, then Apple's MPS, then the CPU.

    Raises ValueError naming `device` when this machine lacks it (cuda without a GPU, mps off a Mac)
    or when it is no device name at all ("gpu").
    """
    if device is None:
        return torch.device(available_devices()[0])
    problem = device_problem(device)
    if problem is not None:
        here = available_devices()
        raise ValueError(f"device={str(device)!r} is not available: {problem}; devices here: {', '.join(here)}; "
                         f"pass device={here[0]!r}, or device=None for the best one available")
    return torch.device(device)


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

    preset: a key of PRESETS ("tiny", "tiny-p8", "small", "gpu"), or a MiniClipConfig of your own
        (e.g. dataclasses.replace(MiniClipConfig.from_preset("tiny"), vision_layers=3)).
    seed: the weights' random seed (same seed, same initial model).
    device: where to put it; None picks CUDA, then MPS, then CPU.
    """
    if isinstance(preset, MiniClipConfig):
        name = register_config(preset)
    elif preset in PRESETS:
        name = f"clipviz-{preset}"
    else:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}, or pass a MiniClipConfig")
    device = pick_device(device)  # before building: a missing device is a ValueError, not a driver's traceback
    with torch.random.fork_rng(devices=[]), _quiet_open_clip():
        torch.manual_seed(seed)
        model, _, preprocess = open_clip.create_model_and_transforms(
            name, pretrained=None, image_mean=SHAPES_MEAN, image_std=SHAPES_STD, image_interpolation="bilinear")
    model.to(device).eval()
    return ClipBundle(model, preprocess, open_clip.get_tokenizer(name), name, None,
                      open_clip.get_model_config(name))


def _from_config(name: str, config: dict, preprocess_cfg: dict | None) -> ClipBundle:
    """An untrained bundle for an open_clip `config` (used when loading a checkpoint)."""
    if name.startswith("local-dir:") or open_clip.get_model_config(name) != config:  # a name unknown here
        same = [f"clipviz-{p}" for p in PRESETS if open_clip.get_model_config(f"clipviz-{p}") == config]
        name = same[0] if same else register_config(config)  # a preset renamed since (tiny -> tiny-p8) keeps its name
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
