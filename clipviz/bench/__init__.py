"""Benchmarks: the figures clipviz promises, measured on this machine.

`python -m clipviz bench` prints one `name: value` line per figure and can write
them all to JSON. Ratios compare two things measured in the same run, interleaved,
on the same batch, taking medians, so a busy machine slows both sides alike.

    training    the recipe end to end at each seed (min and mean over seeds), against the old recipe and on one
                core; the tiny-p8 preset (the default before issue 18) beside it, each key prefixed tiny_p8_; one
                step against bare open_clip
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
from .training import bench_preset_time, bench_step_ratio, bench_train_time, bench_training
from .zeroshot import bench_mixed_training, bench_zero_shot

# The accuracies that must hold at every training seed (issue 18): per seed, and their min and mean over seeds.
SEED_KEYS = ("seen_top1", "heldout_top1", "zeroshot_shape_top1", "zeroshot_colour_shape_heldout_top1",
             "sketch_top1_mixed", "seen_top1_mixed", "unseen_style_top1_photo_only", "unseen_style_top1_mixed",
             "prompt_spread_points", "ensemble_gain_points")


def over_seeds(per_seed: list[dict], keys=SEED_KEYS) -> dict:
    """{key}_seed{s}, {key}_min_over_seeds and {key}_mean_over_seeds for each key, from one dict per seed."""
    figures = {}
    for key in keys:
        values = [figures_of_seed[key] for figures_of_seed in per_seed]
        figures.update({f"{key}_seed{s}": v for s, v in enumerate(values)})
        figures[f"{key}_min_over_seeds"] = min(values)
        figures[f"{key}_mean_over_seeds"] = sum(values) / len(values)
    return figures


def run_benchmarks(quick: bool = False, device: str | None = None, json_path: str | None = None,
                   seeds: int = 1) -> dict:
    """Measure every figure, print `name: value` lines, optionally write JSON; returns the dict.

    seeds: train the recipe at training seeds 0 .. seeds-1 (weights and batch order, one world); the
        plain keys are seed 0's, and SEED_KEYS also come per seed with their min and mean over seeds.
    """
    if seeds < 1:
        raise ValueError(f"seeds is how many training seeds to run (1 or more), got {seeds}")
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

    def at_seed(preset: str, seed: int) -> tuple[dict, object]:
        """One training seed of `preset`: the photo model's figures and zero-shot, and its photo+sketch twin's."""
        trained_figures, trained = bench_training(world, device, quick, seed, preset=preset)
        trained_figures.update(bench_zero_shot(trained, world, quick))
        trained_figures.update(bench_mixed_training(world, device, quick, seed, preset=preset))
        return trained_figures, trained

    per_seed, models = zip(*(at_seed("tiny", seed) for seed in range(seeds)))
    bundle = models[0]
    emit(per_seed[0])
    emit(over_seeds(per_seed))
    emit(bench_train_time(world, device, quick, per_seed[0]["train_seconds"]))
    # the tiny-p8 preset beside it: the default before issue 18, twice the time
    p8 = [at_seed("tiny-p8", seed)[0] for seed in range(seeds)]
    p8_figures = {**p8[0], **over_seeds(p8), **bench_preset_time(
        "tiny-p8", world, device, quick, p8[0]["train_seconds"], figures["train_seconds_v1"])}
    p8_figures.pop("prompt_effects_measured_on")  # the tiny model's line says what it is measured on
    emit({f"tiny_p8_{key}": value for key, value in p8_figures.items()})
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

