"""GPU benchmarks: what training on a CUDA GPU buys, measured against the CPU in the same run.

    gpu_speedup_vs_cpu          the tiny recipe on the GPU against the same recipe on 2 CPU threads
    gpu_step_ms                 one step of the tiny preset (batch 128) on train()'s GPU path, steady state;
                                next to it the plain CPU-style loop on the GPU, and the compiled step
    gpu_preset_seconds          the gpu preset with recipe("gpu"), end to end, and its accuracies
    start_to_diagonal_seconds   from the dashboard's Start until the probe batch's diagonal mean
                                exceeds the off-diagonal mean by 0.3

`python -m clipviz bench --device cuda` adds these to the other figures;
`python -m clipviz.bench.gpu [--quick] [--json PATH]` measures them alone.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import time
import warnings

import torch

from ..data import ImageTextPairs, ShapesWorld
from ..encode import encode_images, encode_texts
from ..model import mini_clip
from ..similarity import diagonal_stats, similarity_matrix
from ..train import TrainConfig, recipe, train
from ..train_gpu import READBACK_EVERY
from ..zeroshot import caption_accuracy
from .timing import sync

CPU_THREADS = 2  # the CPU side of gpu_speedup_vs_cpu: a 2-core laptop or Colab's free CPU
DIAGONAL_GAP = 0.3  # "a clear diagonal": diagonal mean minus off-diagonal mean of the probe's cosines


def bench_gpu(world: ShapesWorld, device: torch.device, quick: bool) -> dict:
    """Every GPU figure (see the module docstring) on `device`, a CUDA device."""
    if torch.device(device).type != "cuda":
        raise ValueError(f"the GPU benchmark needs a CUDA device, got {device}; run it with --device cuda")
    device = torch.device(device)
    figures = {"gpu_name": torch.cuda.get_device_name(device)}
    figures.update(bench_speedup(world, device, quick))
    figures.update(bench_step_ms(world, device, quick))
    gpu_config = recipe("gpu") if not quick else dataclasses.replace(recipe("gpu"), steps=200, train_images=8000)
    t0 = time.perf_counter()
    gpu_data = world.dataset("train", gpu_config.train_images)
    figures["gpu_preset_render_seconds"] = time.perf_counter() - t0  # on the host, before Start
    figures.update(bench_gpu_preset(world, gpu_data, gpu_config, device, 300 if quick else 1000))
    seconds, steps = start_to_diagonal(world, gpu_data, "gpu", gpu_config, device)
    figures.update(start_to_diagonal_seconds=seconds, start_to_diagonal_steps=steps)
    return figures


def bench_speedup(world: ShapesWorld, device: torch.device, quick: bool) -> dict:
    """The tiny recipe (the fast one when quick) on `device`, then on CPU_THREADS CPU threads: same data, same seed."""
    config = recipe("fast" if quick else "normal")
    data = world.dataset("train", config.train_images)
    train(mini_clip("tiny", device=device), data, dataclasses.replace(config, steps=30, eval_every=0),
          callbacks=[lambda event: None])  # warm up: CUDA context, cuBLAS handles, the allocator
    gpu = train(mini_clip("tiny", seed=0, device=device), data, config, callbacks=[lambda event: None])
    threads = torch.get_num_threads()
    torch.set_num_threads(CPU_THREADS)
    try:
        cpu = train(mini_clip("tiny", seed=0, device="cpu"), data, config, callbacks=[lambda event: None])
    finally:
        torch.set_num_threads(threads)
    return {"gpu_tiny_seconds": gpu.seconds, "cpu2_tiny_seconds": cpu.seconds,
            "gpu_speedup_vs_cpu": cpu.seconds / gpu.seconds,
            "gpu_tiny_heldout_top1": gpu.heldout_top1[-1] if gpu.heldout_top1 else float("nan"),
            "cpu2_tiny_heldout_top1": cpu.heldout_top1[-1] if cpu.heldout_top1 else float("nan")}


def steady_step_ms(bundle, data: ImageTextPairs, config: TrainConfig, **train_kwargs) -> tuple[float, float]:
    """(ms per step after the first readback, seconds until the first readback) of one training run.

    The first READBACK_EVERY steps carry the one-off costs (uploading the data, compiling); the
    steps after them are the steady state. Steps are timed by when their numbers reach a callback.
    """
    stamps: list[tuple[int, float]] = []
    t0 = time.perf_counter()
    train(bundle, data, config, callbacks=[lambda event: stamps.append((event.step, time.perf_counter()))],
          **train_kwargs)
    sync(bundle.device)
    (first_step, first_time), (last_step, last_time) = stamps[READBACK_EVERY - 1], stamps[-1]
    return 1000 * (last_time - first_time) / (last_step - first_step), first_time - t0


@contextlib.contextmanager
def _compile_setting(value: str):
    """Run with CLIPVIZ_COMPILE=value (see clipviz.train_gpu.FastLoss), then put the old setting back."""
    old = os.environ.get("CLIPVIZ_COMPILE")
    os.environ["CLIPVIZ_COMPILE"] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("CLIPVIZ_COMPILE")
        else:
            os.environ["CLIPVIZ_COMPILE"] = old


def bench_step_ms(world: ShapesWorld, device: torch.device, quick: bool) -> dict:
    """Steady step time of the tiny preset at batch 128: the GPU path eager, compiled, and the plain loop."""
    data = world.dataset("train", 4096)
    config = TrainConfig(steps=150 if quick else 400, batch_size=128, eval_every=0)
    with _compile_setting("0"):
        eager_ms, eager_first = steady_step_ms(mini_clip("tiny", device=device), data, config)
        plain_ms, _ = steady_step_ms(mini_clip("tiny", device=device), data, config, resident=False)
    with _compile_setting("1"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compiled_ms, compiled_first = steady_step_ms(mini_clip("tiny", device=device), data, config)
    fell_back = any("torch.compile could not compile" in str(w.message) for w in caught)
    return {"gpu_step_ms": eager_ms, "gpu_step_ms_plain_loop": plain_ms, "gpu_step_ms_compiled": compiled_ms,
            "gpu_compile_seconds": compiled_first - eager_first, "gpu_compile_fell_back": fell_back}


def bench_gpu_preset(world: ShapesWorld, data: ImageTextPairs, config: TrainConfig, device: torch.device,
                     n_eval: int) -> dict:
    """The gpu preset trained with `config` on `data`; its accuracies on the same splits as the tiny model's."""
    bundle = mini_clip("gpu", seed=0, device=device)
    history = train(bundle, data, config, callbacks=[lambda event: None])
    return {"gpu_preset_seconds": history.seconds, "gpu_preset_steps": len(history.step),
            "gpu_preset_seen_top1": caption_accuracy(bundle, world.dataset("test", n_eval)),
            "gpu_preset_heldout_top1": caption_accuracy(bundle, world.dataset("heldout", n_eval)),
            "gpu_preset_sketch_top1": caption_accuracy(bundle, world.dataset("all", n_eval, style="sketch"))}


def start_to_diagonal(world: ShapesWorld, data: ImageTextPairs, preset: str, config: TrainConfig,
                      device: torch.device | str, probe_size: int = 8, gap: float = DIAGONAL_GAP) -> tuple[float, int]:
    """Seconds and steps from the dashboard's Start until its probe batch shows a clear diagonal.

    Start builds a fresh model and trains it as the dashboard does (config, evaluations every
    steps // 6). Every READBACK_EVERY steps the probe batch (the dashboard's: `probe_size` test
    images and their captions) is encoded and its diagonal_stats taken; the run stops when the
    diagonal mean exceeds the off-diagonal mean by `gap`. Returns (inf, steps) when it never does.
    """
    probe = world.dataset("test", probe_size)
    config = dataclasses.replace(config, eval_every=max(10, config.steps // 6))  # as the dashboard trains
    eval_sets = {"seen": world.dataset("test", 200), "heldout": world.dataset("heldout", 200)}
    reached: list[tuple[float, int]] = []
    start = time.perf_counter()
    bundle = mini_clip(preset, device=device)  # what Start does first

    def check(event) -> bool:
        if event.kind != "step" or (event.step % READBACK_EVERY and event.step != event.steps):
            return False
        sim = similarity_matrix(encode_images(bundle, probe.images), encode_texts(bundle, probe.captions))
        if diagonal_stats(sim).gap > gap:  # (probe_size, probe_size) cosines
            reached.append((time.perf_counter() - start, event.step))
            return True
        return False

    history = train(bundle, data, config, eval_sets=eval_sets, callbacks=[check])
    return reached[0] if reached else (float("inf"), len(history.step))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clipviz.bench.gpu", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short runs, for a smoke test")
    parser.add_argument("--device", default="cuda", help="a CUDA device (default: cuda)")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    figures = bench_gpu(ShapesWorld(seed=0), torch.device(args.device), args.quick)
    for key, value in figures.items():
        print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
