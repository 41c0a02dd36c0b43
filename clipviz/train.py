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
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from .data import Attributes, ImageTextPairs, attribute_codes, fits_from_codes
from .encode import tokenize
from .model import ClipBundle
from .recipe import RECIPES, TrainConfig, fast_mode, recipe, recipe_for  # noqa: F401 -- re-exported: the recipe lives there
from .train_common import History, TrainingDiverged, _batch_loss  # shared with train_gpu.py, so they live below both
from .zeroshot import caption_accuracy

MAX_LOGIT_SCALE = math.log(100)  # the paper clips the scale at 100, i.e. a temperature of at least 0.01


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


def train(bundle: ClipBundle, data: ImageTextPairs, config: TrainConfig | None = None, *,
          callbacks: Sequence[Callable[[Event], bool | None]] = (),
          eval_sets: dict[str, ImageTextPairs] | None = None, seed: int = 0,
          resident: bool | None = None) -> History:
    """Train `bundle.model` contrastively on the pairs of `data`, in place; returns a History.

    data: ImageTextPairs whose images[i] (N, 3, H, W, in [0, 1]) and captions[i] match.
    config: the recipe; None uses recipe() (the fast one when CLIPVIZ_FAST=1). Change one
        number with dataclasses.replace(cv.recipe(), steps=500).
    callbacks: called with an Event after every step and evaluation; one returning True stops
        training (the model stays usable). Without callbacks a tqdm bar shows progress.
    eval_sets: {name: ImageTextPairs} to measure caption retrieval on (history.top1[name]); by
        default "seen" and "heldout" from data.world, 400 test images each.
    seed: seed of the batch order.
    resident: the GPU path (train_gpu.py): None takes it on CUDA and MPS, True forces it (on
        the CPU it gives the CPU path's losses), False keeps the CPU path.
    Ctrl-C (KeyboardInterrupt) returns the history so far. A NaN loss raises TrainingDiverged
    (with .history); the weights of the last finite step are kept.
    """
    run = TrainingRun(bundle, data, config, callbacks=callbacks, eval_sets=eval_sets, seed=seed, resident=resident)
    while run.advance(math.inf):
        pass
    return run.history


class TrainingRun:
    """One call of `train`, taken a slice at a time: `advance(seconds)` runs steps for about that long.

    `train` runs it to the end in one go. The training dashboards advance it a tenth of a second at a time
    from Jupyter's event loop, so the steps run on the kernel's own thread, between the widgets' messages:
    on a CPU, torch's OpenMP threads run a second Python thread's steps about half as fast once the kernel's
    thread has computed anything (measured: 1,700 steps of the tiny preset of then, today's tiny-p8, 47 s in the
    kernel's thread, 91 s in another, 2-core Intel Xeon). The arguments are train's.
    """

    def __init__(self, bundle: ClipBundle, data: ImageTextPairs, config: TrainConfig | None = None, *,
                 callbacks: Sequence[Callable[[Event], bool | None]] = (),
                 eval_sets: dict[str, ImageTextPairs] | None = None, seed: int = 0, resident: bool | None = None):
        config = _checked(config or recipe(), data)
        self.bundle, self.config = bundle, config
        model, device = bundle.model, bundle.device
        if eval_sets is None and config.eval_every and data.world is not None:
            eval_sets = {"seen": data.world.dataset("test", 400, data.style),
                         "heldout": data.world.dataset("heldout", 400, data.style)}
        model.logit_scale.requires_grad_(config.learn_temperature)
        self.optimizer = make_optimizer(model, config.lr, config.weight_decay)
        self.reporter = _Reporter(bundle, eval_sets or {}, callbacks, config)
        from .train_gpu import READBACK_EVERY, DeviceData, FastLoss, Readback  # the GPU path, see train_gpu.py

        resident = device.type in ("cuda", "mps") if resident is None else resident
        # the batches; on the GPU path the images are uploaded once
        self.batches = _Batches(bundle, data, config, DeviceData(bundle, data, resident), seed)
        self.fast = FastLoss(model, device, config.steps) if resident else None  # bf16 on CUDA, compiled for long runs
        self.readback = (Readback(model, self.reporter.step, self.reporter.history, config, READBACK_EVERY)
                         if resident else None)
        self.step_index, self.closed = 0, False
        self.start = time.perf_counter()
        model.train()

    @property
    def history(self) -> History:
        return self.reporter.history

    def advance(self, seconds: float) -> bool:
        """Train for about `seconds` (at least one step); False once the run has ended, and is closed.

        It ends when every step is done ("finished"), when a callback asks ("callback"), on Ctrl-C
        ("interrupted", no error), or on an error, which is raised after closing (TrainingDiverged on a NaN).
        """
        if self.closed:
            return False
        until = time.perf_counter() + seconds
        try:
            while True:
                if self._one_step():
                    self.history.stopped = "callback"
                    break
                if self.step_index == self.config.steps:
                    self.history.stopped = "finished"
                    break
                if time.perf_counter() >= until:
                    return True
        except KeyboardInterrupt:
            self.history.stopped = "interrupted"
        except BaseException:
            self.history.stopped = self.history.stopped or "error"
            self.close()
            raise
        self.close()
        return False

    def _one_step(self) -> bool:
        """One training step; True when a callback asks to stop."""
        config, model, step = self.config, self.bundle.model, self.step_index
        # 1) a random batch of matching pairs, and this step's learning rate
        images, texts, fits = self.batches.next()  # (B, 3, H, W) normalised, (B + k, L) tokens, (B, B) or None
        lr_now = lr_at(step, config.steps, config.lr, config.warmup)
        for group in self.optimizer.param_groups:
            group["lr"] = lr_now
        # 2) embed both sides, score every image against every caption, take one AdamW step
        loss = _contrastive_step(model, self.optimizer, images, texts, fits, step, config, self.history, self.fast)
        self.step_index += 1
        # 3) report to the outside world, and evaluate now and then
        if self.readback is None:  # the CPU path: this step's numbers, now
            return self.reporter.step(step + 1, loss.item(), model.logit_scale.exp().item(), lr_now)
        return self.readback.add(step + 1, loss, lr_now)  # the GPU path: every few steps all at once

    def close(self) -> None:
        """End the run (once): the model back in eval mode, the history's time, the progress bar closed."""
        if self.closed:
            return
        self.closed = True
        model = self.bundle.model
        model.eval()
        model.logit_scale.requires_grad_(True)
        self.reporter.close(time.perf_counter() - self.start)


def _checked(config: TrainConfig, data: ImageTextPairs) -> TrainConfig:
    """`config`, once it and `data` are known to make a training run (ValueError saying why not)."""
    if len(data) < 2:
        raise ValueError(f"need at least 2 image-caption pairs to contrast, got {len(data)}")
    if config.steps < 1 or config.batch_size < 2:
        raise ValueError(f"steps must be >= 1 and batch_size >= 2, got steps={config.steps}, "
                         f"batch_size={config.batch_size}")
    return config


def _contrastive_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, images: torch.Tensor,
                      texts: torch.Tensor, fits: torch.Tensor | None, step: int, config: TrainConfig,
                      history: History, fast: Callable[..., torch.Tensor] | None = None) -> torch.Tensor:
    """One step of CLIP: embed, contrast, and (if the loss is finite) one AdamW update. Returns the loss.

    fast: the GPU path's way to compute `_batch_loss`; its finiteness check waits for the readback
        (train_gpu.Readback), since checking here would make the CPU wait for the GPU every step.
    """
    if fast is not None:
        loss = fast(images, texts, fits)
    else:
        loss = _batch_loss(model, images, texts, fits)
        if not torch.isfinite(loss):
            history.stopped = "diverged"
            raise TrainingDiverged(
                f"the loss became {loss.item()} at step {step + 1}; training stopped and the model keeps "
                f"the weights of step {step}. Lower the learning rate (now {config.lr:g}) and train again.", history)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        model.logit_scale.clamp_(0, MAX_LOGIT_SCALE)  # keep the temperature in range: scale <= 100
    return loss.detach()


class _Batches:
    """Random batches of matching pairs, plus NegCLIP's swapped captions, on the model's device."""

    def __init__(self, bundle: ClipBundle, data: ImageTextPairs, config: TrainConfig, on_device, seed: int):
        self.tokens = tokenize(bundle, data.captions)  # (N, context_length), tokenised once for the whole run
        self.negatives = _HardNegatives(bundle, data) if config.hard_negatives else None
        self.k, self.n, self.size = config.hard_negatives, len(data), min(config.batch_size, len(data))
        self.on_device = on_device  # train_gpu.DeviceData: gathers and normalises the images
        self.generator = torch.Generator().manual_seed(seed)
        self.codes = _fit_codes(data) if config.mask_false_negatives else None

    def next(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(B, 3, H, W) normalised images, (B + k, L) tokens (B captions, then k swapped ones as wrong
        answers), and (B, B) bool false negatives, caption j true of image i too (None if not masked)."""
        idx = torch.randint(self.n, (self.size,), generator=self.generator)
        texts = self.tokens[idx]  # (B, L)
        if self.negatives is not None:  # NegCLIP: a swapped caption of each of the first k pairs
            texts = torch.cat([texts, self.negatives.sample(idx, self.k, self.generator)])  # (B + k, L)
        fits = None
        if self.codes is not None:
            fits = self.on_device.send(fits_from_codes(self.codes[0][idx], self.codes[1][idx]))  # (B, B)
        return self.on_device.images(idx), self.on_device.send(texts), fits


def _fit_codes(data: ImageTextPairs) -> tuple[torch.Tensor, torch.Tensor]:
    """What each picture shows and each caption says, as codes from which a batch's false negatives follow.

    Shapes-world pairs: (N, 4) attribute codes of both (data.attribute_codes), compared by data.fits_from_codes.
    Other pairs (your own folder, the binding world's scenes): one code per distinct caption, so only identical
    captions match.
    """
    if all(isinstance(a, Attributes) for a in data.attributes):
        return attribute_codes(data.attributes), attribute_codes(data.mentions)
    ids = {caption: i for i, caption in enumerate(dict.fromkeys(data.captions))}
    codes = torch.tensor([ids[c] for c in data.captions]).view(-1, 1)  # (N, 1)
    return codes, codes


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


class _Reporter:
    """The outside world of one training run: its History, the callbacks, the evaluations, a progress bar.

    Without callbacks it shows a tqdm bar; with them it stays silent and lets them draw.
    """

    def __init__(self, bundle: ClipBundle, eval_sets: dict, callbacks: Sequence[Callable], config: TrainConfig):
        self.bundle, self.eval_sets, self.callbacks, self.config = bundle, eval_sets, list(callbacks), config
        self.history = History(top1={name: [] for name in eval_sets})
        self.bar = None
        if not self.callbacks:
            from tqdm.auto import tqdm
            self.bar = tqdm(total=config.steps, desc="training", unit="step")

    def _tell(self, event: Event) -> bool:
        stop = False
        for fn in self.callbacks:
            stop = bool(fn(event)) or stop
        return stop

    def step(self, step: int, loss: float, logit_scale: float, lr: float) -> bool:
        """Record step `step` (1-based); evaluate when it is time. True when a callback asks to stop."""
        h = self.history
        h.step.append(step)
        h.loss.append(loss)
        h.logit_scale.append(logit_scale)
        h.lr.append(lr)
        if self.bar is not None:
            self.bar.update(1)
        stop = self._tell(Event("step", step, self.config.steps, loss, logit_scale, lr))
        every = self.config.eval_every
        if self.eval_sets and every and (step % every == 0 or step == self.config.steps):
            stop = self.evaluate(step) or stop
        return stop

    def evaluate(self, step: int) -> bool:
        """Caption retrieval accuracy on every eval set, recorded and reported."""
        model = self.bundle.model
        model.eval()
        top1 = {name: caption_accuracy(self.bundle, pairs) for name, pairs in self.eval_sets.items()}
        model.train()
        h = self.history
        h.eval_step.append(step)
        for name, value in top1.items():
            h.top1[name].append(value)
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{h.loss[-1]:.3f}", **{name: f"{v:.2f}" for name, v in top1.items()})
        return self._tell(Event("eval", step, self.config.steps, h.loss[-1], h.logit_scale[-1], h.lr[-1], top1))

    def close(self, seconds: float) -> None:
        self.history.seconds = seconds
        if self.bar is not None:
            self.bar.close()
