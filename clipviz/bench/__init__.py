"""Benchmarks: the figures clipviz promises, measured on this machine.

`python -m clipviz bench` prints one `name: value` line per figure and can write
them all to JSON. Ratios compare two things measured in the same run, interleaved,
on the same batch, taking medians, so a busy machine slows both sides alike.

    training    the recipe end to end; one step against bare open_clip
    zeroshot    short label prompts; sketches after photo-only and after mixed training
    speed       rendering, encoding, projections, an app's redraw
    pretrained  a full-size ViT-B-32 doing chapter 08's work, in a fresh process
    gpu         on CUDA only: the tiny recipe against 2 CPU threads, the gpu preset, Start -> diagonal
"""
from __future__ import annotations

import json
import platform

import torch

from ..data import ShapesWorld
from ..model import pick_device
from .gpu import bench_gpu
from .pretrained import bench_vitb32
from .speed import bench_encode_ratio, bench_projection, bench_prompt_update, bench_render
from .training import bench_step_ratio, bench_training
from .zeroshot import bench_mixed_training, bench_zero_shot


def run_benchmarks(quick: bool = False, device: str | None = None, json_path: str | None = None) -> dict:
    """Measure every figure, print `name: value` lines, optionally write JSON; returns the dict."""
    device = pick_device(device)
    world = ShapesWorld(seed=0)
    figures: dict = {"device": str(device), "quick": quick, "torch": torch.__version__,
                     "cpu_threads": torch.get_num_threads(), "machine": platform.machine()}

    def emit(values: dict) -> None:
        for key, value in values.items():
            figures[key] = value
            print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}", flush=True)

    emit(dict(figures))
    emit(bench_render(world, quick))
    training, bundle = bench_training(world, device, quick)
    emit(training)
    emit(bench_zero_shot(bundle, world, quick))
    emit(bench_mixed_training(world, device, quick))
    emit(bench_step_ratio(world, device, quick))
    if device.type == "cuda":  # the GPU's own figures: speed-up over 2 CPU threads, the gpu preset, Start -> diagonal
        emit(bench_gpu(world, device, quick))
    emit(bench_encode_ratio(world, bundle, device, quick))
    emit(bench_projection(bundle, world))
    emit(bench_prompt_update(bundle, world, quick))
    emit(bench_vitb32(device, quick))
    if json_path:
        with open(json_path, "w") as f:
            json.dump(figures, f, indent=2)
        print(f"wrote {json_path}")
    return figures

