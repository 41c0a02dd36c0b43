"""Training benchmarks: the default recipe end to end, and one step against bare open_clip."""
from __future__ import annotations

import statistics
import time

import numpy as np
import torch

from ..data import ShapesWorld
from ..encode import _as_pixel_batch, tokenize
from ..model import ClipBundle, mini_clip
from ..train import TrainConfig, make_optimizer, recipe, train
from ..zeroshot import caption_accuracy
from .timing import median_ms, sync


def bench_training(world: ShapesWorld, device: torch.device, quick: bool) -> tuple[dict, ClipBundle]:
    """Train the tiny preset with the kit's recipe; accuracies on fresh test images. Returns (figures, model)."""
    config = recipe("fast" if quick else "normal")
    data = world.dataset("train", n=config.train_images)
    bundle = mini_clip("tiny", seed=0, device=device)
    history = train(bundle, data, config, callbacks=[lambda event: None])
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
    config = TrainConfig(steps=steps, batch_size=128, lr=1e-4, warmup=1, eval_every=0)
    optimizer = make_optimizer(model, config.lr, config.weight_decay)  # the same AdamW settings clipviz uses

    def bare_steps():
        for _ in range(steps):
            image_features, text_features, logit_scale = model(images, texts)
            loss = loss_fn(image_features, text_features, logit_scale)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss.item()
        sync(device)

    stamps: list[float] = []

    def ours_steps():
        stamps.append(time.perf_counter())
        train(ours_bundle, data, config, callbacks=[lambda event: stamps.append(time.perf_counter())])

    ours, bare = [], []
    for _ in range(rounds):  # interleaved, so drifts in machine load hit both alike
        stamps.clear()
        ours_steps()
        if device.type == "cpu":
            ours.append(statistics.median(np.diff(stamps[1:])))  # step-to-step times, loop overhead included
        else:  # the GPU path reports steps in bursts (train's READBACK_EVERY): the whole run per step
            ours.append((stamps[-1] - stamps[0]) / steps)
        bare.append(median_ms(bare_steps, 1) / 1000 / steps)
    ours_ms, bare_ms = 1000 * statistics.median(ours), 1000 * statistics.median(bare)
    return {"step_ms": ours_ms, "open_clip_step_ms": bare_ms, "step_time_ratio_vs_open_clip": ours_ms / bare_ms}
