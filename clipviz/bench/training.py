"""Training benchmarks: the default recipe end to end (per seed, against the old recipe, on one core), the tiny-p8
preset beside it, one step against bare open_clip."""
from __future__ import annotations

import dataclasses
import functools
import statistics
import time

import numpy as np
import torch

from ..data import UNSEEN_STYLE, ShapesWorld
from ..encode import _as_pixel_batch, tokenize
from ..model import ClipBundle, mini_clip
from ..train import TrainConfig, make_optimizer, recipe_for, train
from ..zeroshot import caption_accuracy


# The recipe before issue 18 (CLIP's loss plus a ground-truth mask, 1,700 steps of the tiny preset of then, today's
# tiny-p8), timed beside today's for train_time_ratio_vs_v1.
V1_PRESET = "tiny-p8"
V1 = TrainConfig(steps=1700, batch_size=128, lr=3e-3, warmup=50, weight_decay=0.5, train_images=24000,
                 eval_every=600, mask_false_negatives=True)


@functools.lru_cache(maxsize=2)  # the photo set and the photo+sketch set of one run
def training_pairs(world: ShapesWorld, n: int, style: str = "photo"):
    """The bench's training pairs, rendered once a run for every preset, seed and timing that trains on them
    (ShapesWorld.dataset gives the same pairs for the same arguments; 24,000 take a few seconds)."""
    return world.dataset("train", n=n, style=style)


def _seconds_on_one_core(preset: str, data, config: TrainConfig, device: torch.device) -> dict:
    """{"train_seconds_one_core": ...}: `preset` trained with `config` on one CPU thread (what Binder gives), the
    threads given back after; {} off the CPU."""
    if device.type != "cpu":
        return {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        bundle = mini_clip(preset, seed=0, device=device)
        return {"train_seconds_one_core": train(bundle, data, config, callbacks=[lambda event: None]).seconds}
    finally:
        torch.set_num_threads(threads)


def bench_training(world: ShapesWorld, device: torch.device, quick: bool,
                   seed: int = 0, preset: str = "tiny") -> tuple[dict, ClipBundle]:
    """Train `preset` with its recipe (recipe_for: the kit's, for tiny) at `seed` (weights and batch order);
    accuracies on fresh test images. Returns (figures, model)."""
    config = recipe_for(preset, fast=quick)
    data = training_pairs(world, config.train_images)
    bundle = mini_clip(preset, seed=seed, device=device)
    history = train(bundle, data, config, callbacks=[lambda event: None], seed=seed)
    n_eval = 300 if quick else 1000
    return {
        "train_seconds": history.seconds,
        "train_steps": len(history.step),
        "seen_top1": caption_accuracy(bundle, world.dataset("test", n_eval)),
        "heldout_top1": caption_accuracy(bundle, world.dataset("heldout", n_eval)),
        "sketch_top1": caption_accuracy(bundle, world.dataset("all", n_eval, style="sketch")),
        "unseen_style_top1_photo_only": caption_accuracy(bundle, world.dataset("all", n_eval, style=UNSEEN_STYLE)),
    }, bundle


def bench_train_time(world: ShapesWorld, device: torch.device, quick: bool, seconds: float) -> dict:
    """The recipe's time over V1's, V1 trained here and now; and the recipe on one thread (what Binder gives).

    seconds: the recipe's own time at seed 0, from bench_training in the same run.
    Quick mode times V1 cut to the fast recipe's length, so the ratio is only a smoke test there.
    """
    config = recipe_for("tiny", fast=quick)
    v1 = dataclasses.replace(V1, steps=config.steps, train_images=config.train_images) if quick else V1
    data = training_pairs(world, config.train_images)  # V1 trains on as many images: the recipe's own
    assert v1.train_images == config.train_images, "V1 and the recipe must train on the same images"
    bundle = mini_clip(V1_PRESET, seed=0, device=device)
    v1_seconds = train(bundle, data, v1, callbacks=[lambda event: None]).seconds
    return {"train_seconds_v1": v1_seconds, **bench_preset_time("tiny", world, device, quick, seconds, v1_seconds)}


def bench_preset_time(preset: str, world: ShapesWorld, device: torch.device, quick: bool, seconds: float,
                      v1_seconds: float) -> dict:
    """A preset with its recipe (recipe_for): its time over V1's, both timed in the same run (seconds: its seed-0
    run's, from bench_training), and on one core (what Binder gives)."""
    config = recipe_for(preset, fast=quick)
    return {"train_time_ratio_vs_v1": seconds / v1_seconds,
            **_seconds_on_one_core(preset, training_pairs(world, config.train_images), config, device)}


def bench_step_ratio(world: ShapesWorld, device: torch.device, quick: bool) -> dict:
    """A clipviz.train step over a bare open_clip step (model, ClipLoss, AdamW) on the same batch."""
    import open_clip

    data = world.dataset("train", n=1024)
    rounds, steps = (2, 10) if quick else (5, 30)
    ours_bundle, bare_bundle = mini_clip("tiny", seed=0, device=device), mini_clip("tiny", seed=0, device=device)
    images = _as_pixel_batch(bare_bundle, data.images[:128]).to(device)  # (128, 3, H, W)
    texts = tokenize(bare_bundle, data.captions[:128]).to(device)  # (128, L)
    model, loss_fn = bare_bundle.model.train(), open_clip.ClipLoss()
    config = TrainConfig(steps=steps, batch_size=128, lr=1e-4, warmup=1, eval_every=0)
    optimizer = make_optimizer(model, config.lr, config.weight_decay)  # the same AdamW settings clipviz uses

    def bare_steps() -> list[float]:
        marks = [time.perf_counter()]
        for _ in range(steps):
            image_features, text_features, logit_scale = model(images, texts)
            loss = loss_fn(image_features, text_features, logit_scale)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss.item()  # as train reads its loss back; it also waits for the GPU, so each mark is a step's end
            marks.append(time.perf_counter())
        return marks

    stamps: list[float] = []

    def ours_steps():
        stamps.append(time.perf_counter())
        train(ours_bundle, data, config, callbacks=[lambda event: stamps.append(time.perf_counter())])

    ours, bare = [], []
    for _ in range(rounds):  # interleaved, so drifts in machine load hit both alike
        stamps.clear()
        ours_steps()
        marks = bare_steps()
        if device.type == "cpu":  # the median step-to-step time of each, loop overhead included: like with like,
            ours.append(statistics.median(np.diff(stamps[1:])))  # and a fresh model's slow first step counts
            bare.append(statistics.median(np.diff(marks[1:])))  # for neither
        else:  # the GPU path reports steps in bursts (train's READBACK_EVERY): the whole run per step
            ours.append((stamps[-1] - stamps[0]) / steps)
            bare.append((marks[-1] - marks[0]) / steps)
    ours_ms, bare_ms = 1000 * statistics.median(ours), 1000 * statistics.median(bare)
    return {"step_ms": ours_ms, "open_clip_step_ms": bare_ms, "step_time_ratio_vs_open_clip": ours_ms / bare_ms}
