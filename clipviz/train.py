"""Training: the plain contrastive loop of CLIP.

Each step draws a batch of N (image, caption) pairs, embeds both sides, and lowers
`contrastive_loss` with AdamW, the optimiser of the CLIP paper, under a linear
warmup and a cosine decay of the learning rate. The temperature is learned too
(as logit_scale = log(1 / temperature)) and clamped so the scale never exceeds
100, as in the paper.

The loop draws nothing and prints nothing of its own: it reports each step, and
each evaluation, to callbacks (as minGPT's trainer does), and notebooks turn those
reports into live plots. Without callbacks it shows a tqdm progress bar.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

from .data import ImageTextPairs
from .encode import _as_pixel_batch, tokenize
from .loss import contrastive_loss
from .model import ClipBundle
from .zeroshot import caption_accuracy

MAX_LOGIT_SCALE = math.log(100)  # the paper clips the scale at 100, i.e. a temperature of at least 0.01


@dataclass(frozen=True)
class TrainConfig:
    """The training recipe: one home for every number of it (train, dashboard, command line, bench, chapters)."""
    steps: int = 1700  # optimiser steps
    batch_size: int = 128  # pairs per step: each image is contrasted with batch_size - 1 wrong captions
    lr: float = 3e-3  # peak learning rate of AdamW, reached after the warmup
    warmup: int = 50  # steps of linear warmup before the cosine decay
    weight_decay: float = 0.1  # AdamW decay on weight matrices (not on gains, biases, embeddings or the scale)
    learn_temperature: bool = True  # False freezes logit_scale at its initial value (scale 1 / 0.07 = 14.3)
    train_images: int = 24000  # images to render for training (295 MB of float32 pixels); more, better held-out
    eval_every: int = 600  # evaluate every this many steps (and at the end); 0 for never
    hard_negatives: int = 0  # NegCLIP: swapped captions (data.negatives) added per batch as extra wrong captions


RECIPES = {
    "normal": TrainConfig(),  # the tiny preset to seen 0.99 / held-out 0.96 in ~1 min on 2 CPU cores
    "fast": TrainConfig(steps=150, train_images=3000, eval_every=50),  # CI and quick classroom runs: ~5 s
}


def fast_mode() -> bool:
    """True when CLIPVIZ_FAST=1: CI and quick classroom runs. The one place the flag is read."""
    return os.environ.get("CLIPVIZ_FAST") == "1"


def recipe(name: str | None = None) -> TrainConfig:
    """The TrainConfig called `name` ("normal" or "fast"); None picks "fast" in fast mode, else "normal"."""
    name = name or ("fast" if fast_mode() else "normal")
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose one of {sorted(RECIPES)}")
    return RECIPES[name]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the model keeps its last finite weights."""

    def __init__(self, message: str, history: "History"):
        super().__init__(message)
        self.history = history


@dataclass
class History:
    """What one call of `train` did, step by step."""
    step: list[int] = field(default_factory=list)  # step numbers, 1-based
    loss: list[float] = field(default_factory=list)  # total contrastive loss per step
    logit_scale: list[float] = field(default_factory=list)  # exp(model.logit_scale) after each step
    lr: list[float] = field(default_factory=list)  # learning rate used at each step
    eval_step: list[int] = field(default_factory=list)  # steps at which the model was evaluated
    top1: dict[str, list[float]] = field(default_factory=dict)  # eval set name -> caption accuracy at those steps
    seconds: float = 0.0  # wall-clock time of the training loop
    stopped: str = ""  # "finished", "callback", "interrupted", "diverged" or "error"

    @property
    def seen_top1(self) -> list[float]:
        """Accuracies on the "seen" eval set (seen compositions), [] if there was none."""
        return self.top1.get("seen", [])

    @property
    def heldout_top1(self) -> list[float]:
        """Accuracies on the "heldout" eval set (compositions never shown in training), [] if there was none."""
        return self.top1.get("heldout", [])


@dataclass
class Event:
    """What a callback receives. kind is "step" or "eval"; top1 is {eval set: accuracy} on evals, None on steps."""
    kind: str
    step: int
    steps: int
    loss: float
    logit_scale: float
    lr: float
    top1: dict[str, float] | None = None

    @property
    def seen_top1(self) -> float | None:
        return (self.top1 or {}).get("seen")

    @property
    def heldout_top1(self) -> float | None:
        return (self.top1 or {}).get("heldout")


def lr_at(step: int, steps: int, lr: float, warmup: int) -> float:
    """Learning rate at 0-based `step`: linear warmup for `warmup` steps, then cosine decay to 0."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return lr * 0.5 * (1 + math.cos(math.pi * progress))


def make_optimizer(model: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on gains, biases, embeddings or the scale), as open_clip."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            exclude = p.ndim < 2 or "embedding" in name or "logit_scale" in name
            (no_decay if exclude else decay).append(p)
    groups = [{"params": no_decay, "weight_decay": 0.0}, {"params": decay, "weight_decay": weight_decay}]
    try:  # the fused kernel is several times faster on a CPU (torch >= 2.4); fall back where it is missing
        return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.98), eps=1e-6, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.98), eps=1e-6)


class _HardNegatives:
    """Every pair's swapped captions (data.negatives), tokenised once, for NegCLIP-style batches."""

    def __init__(self, bundle: ClipBundle, data: ImageTextPairs):
        lists = getattr(data, "negatives", None)
        if not lists or not any(lists):
            raise ValueError("hard_negatives > 0 needs data with swapped captions per pair (data.negatives), such as "
                             "clipviz.binding.TwoObjectWorld().dataset(); for other data set hard_negatives=0")
        self.counts = torch.tensor([len(n) for n in lists])  # (N,) swapped captions of each pair
        self.starts = self.counts.cumsum(0) - self.counts  # (N,) where pair i's captions begin in self.tokens
        self.tokens = tokenize(bundle, [c for n in lists for c in n])  # (sum of counts, L)

    def sample(self, idx: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
        """Tokens of one random swapped caption for each of the first k pairs of batch `idx` that have one."""
        owners = idx[self.counts[idx] > 0][:k]  # (k,) pair indices
        pick = self.starts[owners] + (torch.rand(len(owners), generator=generator) * self.counts[owners]).long()
        return self.tokens[pick]  # (k, L)


def train(bundle: ClipBundle, data: ImageTextPairs, config: TrainConfig | None = None, *,
          callbacks: Sequence[Callable[[Event], bool | None]] = (),
          eval_sets: dict[str, ImageTextPairs] | None = None, seed: int = 0) -> History:
    """Train `bundle.model` contrastively on the pairs of `data`, in place.

    data: ImageTextPairs whose images[i] and captions[i] match; images (N, 3, H, W) in [0, 1].
    config: the recipe (steps, batch size, learning rate, ...); None uses recipe(), which
        is the fast one when CLIPVIZ_FAST=1. Change one number with
        dataclasses.replace(cv.recipe(), steps=500).
    callbacks: functions called with an Event after every step and every evaluation;
        one that returns True stops training (the model stays usable).
    eval_sets: {name: ImageTextPairs} to evaluate caption retrieval on, e.g.
        {"seen": ..., "heldout": ...}; by default built from data.world (400 test
        images of each kind). Each name's accuracies go to history.top1[name].
    seed: seed of the batch order.
    Returns a History. Ctrl-C (a KeyboardInterrupt) returns the history so far.
    Raises TrainingDiverged (with .history) if the loss becomes NaN; the weights of
    the last finite step are kept.
    """
    config = config or recipe()
    steps, batch_size, eval_every = config.steps, config.batch_size, config.eval_every
    if len(data) < 2:
        raise ValueError(f"need at least 2 image-caption pairs to contrast, got {len(data)}")
    if steps < 1 or batch_size < 2:
        raise ValueError(f"steps must be >= 1 and batch_size >= 2, got steps={steps}, batch_size={batch_size}")
    batch_size = min(batch_size, len(data))
    model, device = bundle.model, bundle.device
    if eval_sets is None and eval_every and data.world is not None:
        eval_sets = {"seen": data.world.dataset("test", 400, data.style),
                     "heldout": data.world.dataset("heldout", 400, data.style)}
    eval_sets = eval_sets or {}
    model.logit_scale.requires_grad_(config.learn_temperature)
    optimizer = make_optimizer(model, config.lr, config.weight_decay)
    tokens = tokenize(bundle, data.captions)  # (N, context_length), tokenised once for the whole run
    negatives = _HardNegatives(bundle, data) if config.hard_negatives else None
    generator = torch.Generator().manual_seed(seed)
    history = History(top1={name: [] for name in eval_sets})
    bar = None
    if not callbacks:
        from tqdm.auto import tqdm
        bar = tqdm(total=steps, desc="training", unit="step")

    def report(event: Event) -> bool:
        stop = False
        for fn in callbacks:
            stop = bool(fn(event)) or stop
        return stop

    def evaluate(step: int) -> bool:
        model.eval()
        top1 = {name: caption_accuracy(bundle, pairs) for name, pairs in eval_sets.items()}
        model.train()
        history.eval_step.append(step)
        for name, value in top1.items():
            history.top1[name].append(value)
        if bar is not None:
            bar.set_postfix(loss=f"{history.loss[-1]:.3f}", **{name: f"{v:.2f}" for name, v in top1.items()})
        return report(Event("eval", step, steps, history.loss[-1], history.logit_scale[-1], history.lr[-1], top1))

    start = time.perf_counter()
    model.train()
    try:
        for step in range(steps):
            # 1) a random batch of matching pairs, and this step's learning rate
            idx = torch.randint(len(data), (batch_size,), generator=generator)
            images = _as_pixel_batch(bundle, data.images[idx]).to(device)  # (B, 3, H, W), normalised
            texts = tokens[idx]  # (B, L)
            if negatives is not None:  # 1b) NegCLIP: a swapped caption of each of the first k pairs, as wrong answers
                texts = torch.cat([texts, negatives.sample(idx, config.hard_negatives, generator)])  # (B + k, L)
            texts = texts.to(device)
            lr_now = lr_at(step, steps, config.lr, config.warmup)
            for group in optimizer.param_groups:
                group["lr"] = lr_now
            # 2) embed both sides and score every image against every caption
            image_emb = model.encode_image(images, normalize=True)  # (B, D)
            text_emb = model.encode_text(texts, normalize=True)  # (B + k, D): the batch's captions, then k hard negatives
            b = image_emb.shape[0]
            loss = contrastive_loss(image_emb, text_emb[:b], model.logit_scale.exp(),
                                    text_emb[b:] if len(text_emb) > b else None).total
            if not torch.isfinite(loss):
                history.stopped = "diverged"
                raise TrainingDiverged(
                    f"the loss became {loss.item()} at step {step + 1}; training stopped and the model keeps "
                    f"the weights of step {step}. Lower the learning rate (now {config.lr:g}) and train again.",
                    history)
            # 3) one AdamW step, then keep the temperature in range (scale <= 100)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                model.logit_scale.clamp_(0, MAX_LOGIT_SCALE)
            # 4) report to the outside world
            history.step.append(step + 1)
            history.loss.append(loss.item())
            history.logit_scale.append(model.logit_scale.exp().item())
            history.lr.append(lr_now)
            if bar is not None:
                bar.update(1)
            stop = report(Event("step", step + 1, steps, history.loss[-1], history.logit_scale[-1], lr_now))
            if eval_sets and eval_every and ((step + 1) % eval_every == 0 or step + 1 == steps):
                stop = evaluate(step + 1) or stop
            if stop:
                history.stopped = "callback"
                break
        else:
            history.stopped = "finished"
    except KeyboardInterrupt:
        history.stopped = "interrupted"
    except BaseException:
        history.stopped = history.stopped or "error"
        raise
    finally:
        model.eval()
        model.logit_scale.requires_grad_(True)
        history.seconds = time.perf_counter() - start
        if bar is not None:
            bar.close()
    return history
