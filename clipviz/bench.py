"""Benchmarks: the figures clipviz promises, measured on this machine.

`python -m clipviz bench` prints one `name: value` line per figure and can write
them all to JSON. Ratios compare two things measured in the same run, interleaved,
on the same batch, taking medians, so a busy machine slows both sides alike.
"""
from __future__ import annotations

import json
import platform
import statistics
import time

import numpy as np
import torch

from .data import ShapesWorld
from .encode import _as_pixel_batch, encode_images, tokenize
from .model import mini_clip, pick_device
from .pretrained_bench import bench_vitb32
from .projection import project
from .train import TRAIN_IMAGES, make_optimizer, train
from .widgets import bench_prompt_update
from .zeroshot import caption_accuracy


def _median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench_training(world: ShapesWorld, device: torch.device, quick: bool) -> dict:
    """Train the tiny preset with the default recipe; accuracies on fresh test images."""
    data = world.dataset("train", n=3000 if quick else TRAIN_IMAGES)
    bundle = mini_clip("tiny", seed=0, device=device)
    history = train(bundle, data, callbacks=[lambda event: None], **({"steps": 150} if quick else {}))
    n_eval = 300 if quick else 1000
    return {
        "train_seconds": history.seconds,
        "train_steps": len(history.step),
        "seen_top1": caption_accuracy(bundle, world.dataset("test", n_eval)),
        "heldout_top1": caption_accuracy(bundle, world.dataset("heldout", n_eval)),
        "sketch_top1": caption_accuracy(bundle, world.dataset("all", n_eval, style="sketch")),
    }, bundle


def bench_step_ratio(world: ShapesWorld, device: torch.device, quick: bool) -> dict:
    """A clipviz.train step over a bare open_clip step (model, ClipLoss, AdamW) on the same batch."""
    import open_clip

    data = world.dataset("train", n=1024)
    rounds, steps = (2, 10) if quick else (5, 30)
    ours_bundle, bare_bundle = mini_clip("tiny", seed=0, device=device), mini_clip("tiny", seed=0, device=device)
    images = _as_pixel_batch(bare_bundle, data.images[:128]).to(device)  # (128, 3, H, W)
    texts = tokenize(bare_bundle, data.captions[:128]).to(device)  # (128, L)
    model, loss_fn = bare_bundle.model.train(), open_clip.ClipLoss()
    optimizer = make_optimizer(model, 1e-4, 0.1)  # the same AdamW settings clipviz uses

    def bare_steps():
        for _ in range(steps):
            image_features, text_features, logit_scale = model(images, texts)
            loss = loss_fn(image_features, text_features, logit_scale)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss.item()
        _sync(device)

    stamps: list[float] = []

    def ours_steps():
        stamps.append(time.perf_counter())
        train(ours_bundle, data, steps=steps, batch_size=128, lr=1e-4, warmup=1, eval_every=0,
              callbacks=[lambda event: stamps.append(time.perf_counter())])

    ours, bare = [], []
    for _ in range(rounds):  # interleaved, so drifts in machine load hit both alike
        stamps.clear()
        ours_steps()
        ours.append(statistics.median(np.diff(stamps[1:])))  # step-to-step times, loop overhead included
        bare.append(_median_ms(bare_steps, 1) / 1000 / steps)
    ours_ms, bare_ms = 1000 * statistics.median(ours), 1000 * statistics.median(bare)
    return {"step_ms": ours_ms, "open_clip_step_ms": bare_ms, "step_time_ratio_vs_open_clip": ours_ms / bare_ms}


def bench_encode_ratio(world: ShapesWorld, bundle, device: torch.device, quick: bool) -> dict:
    """encode_images on a (256, 3, 32, 32) batch over bare open_clip code doing the same work on the same batch.

    The bare side is what one writes with open_clip alone: normalise the pixels with the model's
    mean and std, then model.encode_image(..., normalize=True). The ratio is clipviz's wrapper cost.
    """
    raw = world.dataset("test", 256).images.to(device)  # (256, 3, H, W) in [0, 1]
    model = bundle.model.eval()
    mean = torch.tensor(model.visual.preprocess_cfg["mean"], device=device).view(1, 3, 1, 1)
    std = torch.tensor(model.visual.preprocess_cfg["std"], device=device).view(1, 3, 1, 1)

    def bare():
        with torch.no_grad():
            model.encode_image((raw - mean) / std, normalize=True).cpu()
        _sync(device)

    def ours():
        encode_images(bundle, raw)
        _sync(device)

    ours_ms, bare_ms = [], []
    for _ in range(10 if quick else 60):  # alternate call by call; compare each pair measured side by side
        ours_ms.append(_median_ms(ours, 1))
        bare_ms.append(_median_ms(bare, 1))
    ratio = statistics.median(o / b for o, b in zip(ours_ms, bare_ms))
    return {"encode_ms_256": statistics.median(ours_ms), "encode_overhead_ratio": ratio}


def bench_render(world: ShapesWorld, quick: bool) -> dict:
    n = 2000 if quick else 10000
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)  # rendering is Pillow + NumPy on one core; keep torch from helping
    try:
        t0 = time.perf_counter()
        world.dataset("train", n)
        seconds = time.perf_counter() - t0
    finally:
        torch.set_num_threads(torch_threads)
    return {"render_images_per_s": n / seconds}


def bench_projection(bundle, world: ShapesWorld) -> dict:
    emb = encode_images(bundle, world.dataset("all", 2000).images)  # (2000, D)
    out = {}
    t0 = time.perf_counter()
    project(emb, "pca")
    out["pca_seconds_2000"] = time.perf_counter() - t0
    for key in ("umap_seconds_2000_cold", "umap_seconds_2000_warm"):  # cold includes numba compiling UMAP
        t0 = time.perf_counter()
        project(emb, "umap")
        out[key] = time.perf_counter() - t0
    return out


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
    emit(bench_step_ratio(world, device, quick))
    emit(bench_encode_ratio(world, bundle, device, quick))
    emit(bench_projection(bundle, world))
    emit(bench_prompt_update(bundle, world, device, quick))
    emit(bench_vitb32(bundle, world, device, quick))
    if json_path:
        with open(json_path, "w") as f:
            json.dump(figures, f, indent=2)
        print(f"wrote {json_path}")
    return figures

