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

import functools
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

from .data import ImageTextPairs
from .encode import _as_pixel_batch, tokenize
from .loss import contrastive_loss
from .model import ClipBundle
from .zeroshot import caption_accuracy

MAX_LOGIT_SCALE = math.log(100)  # the paper clips the scale at 100, i.e. a temperature of at least 0.01
READBACK_EVERY = 25  # on a GPU, read the loss back every this many steps (each read waits for the GPU), see _Readback
COMPILE_MIN_STEPS = 5000  # on CUDA, compile the step for runs this long (compiling costs tens of seconds), see _FastLoss

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
    "gpu": TrainConfig(steps=1500, batch_size=1024, lr=2e-3, warmup=100, train_images=48000,  # the gpu preset on
                       eval_every=500),  # one CUDA GPU, meant for <= 30 s (not yet measured on a GPU); 590 MB of images
}


def fast_mode() -> bool:
    """True when CLIPVIZ_FAST=1: CI and quick classroom runs. The one place the flag is read."""
    return os.environ.get("CLIPVIZ_FAST") == "1"


def recipe(name: str | None = None) -> TrainConfig:
    """The TrainConfig called `name` ("normal", "fast" or "gpu"); None picks "fast" in fast mode, else "normal"."""
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


def _batch_loss(model: torch.nn.Module, images: torch.Tensor, texts: torch.Tensor) -> torch.Tensor:
    """Embed both sides and score every image against every caption: CLIP's loss on one batch, a scalar.

    images: (B, 3, H, W) normalised. texts: (B + k, L) tokens, the batch's captions then k hard negatives.
    """
    image_emb = model.encode_image(images, normalize=True)  # (B, D)
    text_emb = model.encode_text(texts, normalize=True)  # (B + k, D): the batch's captions, then k hard negatives
    b = image_emb.shape[0]
    return contrastive_loss(image_emb, text_emb[:b], model.logit_scale.exp(),
                            text_emb[b:] if len(text_emb) > b else None).total


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
          eval_sets: dict[str, ImageTextPairs] | None = None, seed: int = 0,
          resident: bool | None = None) -> History:
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
    resident: the GPU path. None (the default) takes it on CUDA and MPS, True forces it (even on
        the CPU, where it gives the CPU path's losses), False keeps the CPU path. On it the training
        images stay on the device, normalised once (_DeviceData); the loss is read back every
        READBACK_EVERY steps, so callbacks get each step's numbers in bursts, and a stop takes
        effect at the next burst (_Readback); on CUDA the step runs in bfloat16 (_FastLoss).
    Returns a History. Ctrl-C (a KeyboardInterrupt) returns the history so far.
    Raises TrainingDiverged (with .history) if the loss becomes NaN; the weights of
    the last finite step are kept (on the GPU path: of the last readback before it).
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

    def record(step: int, loss: float, logit_scale: float, lr: float) -> bool:
        """Record step `step` (1-based); evaluate when it is time. True when a callback asks to stop."""
        history.step.append(step)
        history.loss.append(loss)
        history.logit_scale.append(logit_scale)
        history.lr.append(lr)
        if bar is not None:
            bar.update(1)
        stop = report(Event("step", step, steps, loss, logit_scale, lr))
        if eval_sets and eval_every and (step % eval_every == 0 or step == steps):
            stop = evaluate(step) or stop
        return stop

    resident = device.type in ("cuda", "mps") if resident is None else resident
    on_device = _DeviceData(bundle, data, resident)  # the images: uploaded once when resident
    fast = _FastLoss(model, device, steps) if resident else None  # bf16 on CUDA, compiled for long runs
    readback = _Readback(model, record, history, config, READBACK_EVERY) if resident else None
    start = time.perf_counter()
    model.train()
    try:
        for step in range(steps):
            # 1) a random batch of matching pairs, and this step's learning rate
            idx = torch.randint(len(data), (batch_size,), generator=generator)
            images = on_device.images(idx)  # (B, 3, H, W), normalised, on the model's device
            texts = tokens[idx]  # (B, L)
            if negatives is not None:  # 1b) NegCLIP: a swapped caption of each of the first k pairs, as wrong answers
                texts = torch.cat([texts, negatives.sample(idx, config.hard_negatives, generator)])  # (B + k, L)
            texts = on_device.send(texts)
            lr_now = lr_at(step, steps, config.lr, config.warmup)
            for group in optimizer.param_groups:
                group["lr"] = lr_now
            # 2) embed both sides and score every image against every caption
            if fast is not None:  # the GPU path: the loss is checked when it is read back (_Readback)
                loss = fast(images, texts)
            else:
                loss = _batch_loss(model, images, texts)
            if fast is None and not torch.isfinite(loss):
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
            # 4) report to the outside world, and evaluate now and then
            if readback is None:  # the CPU path: this step's numbers, now
                stop = record(step + 1, loss.item(), model.logit_scale.exp().item(), lr_now)
            else:  # the GPU path: every few steps all at once, so the GPU never waits for Python
                stop = readback.add(step + 1, loss, lr_now)
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


# The GPU path. A tiny CLIP's step is a few hundred small kernels: a GPU runs them in about a
# millisecond, so what decides the speed is whether the CPU ever makes the GPU wait. These helpers
# keep it fed: the data already on the device, no number read back each step, bf16 and CUDA graphs.

class _DeviceData:
    """How each batch reaches the model: gathered on the CPU every step, or resident on the device.

    resident=False (the CPU path): a step gathers its B images, normalises them and moves them over.
    resident=True (the GPU path): every training image is uploaded and normalised once (24,000
    images of 32x32: 295 MB); a step then sends only its B indices and captions, through pinned
    memory so the copy never makes the CPU wait for the GPU, and gathers its images on the device.
    """

    def __init__(self, bundle: ClipBundle, data: ImageTextPairs, resident: bool):
        self.bundle, self.data, self.device = bundle, data, bundle.device
        self.pinned = self.device.type == "cuda"  # pinned host memory makes a copy to CUDA asynchronous
        self.pixels = None  # (N, 3, H, W) normalised images on the device, when resident
        if resident:
            try:
                self.pixels = _as_pixel_batch(bundle, data.images.to(self.device))  # normalised on the device
            except NotImplementedError as err:  # Apple's MPS lacks an op (antialiased resizing): do it on the CPU
                warnings.warn(f"{self.device.type} cannot prepare the images ({err}); clipviz normalises them "
                              f"on the CPU once and uploads the result", stacklevel=3)
                self.pixels = _as_pixel_batch(bundle, data.images).to(self.device)
            except torch.cuda.OutOfMemoryError:
                warnings.warn(f"the {len(data)} training images do not fit in the memory of {self.device}; each "
                              f"step copies its batch over instead (slower). Render fewer with a smaller "
                              f"train_images.", stacklevel=3)

    def images(self, idx: torch.Tensor) -> torch.Tensor:
        """The images at indices idx (B,), normalised, on the model's device: (B, 3, H, W)."""
        if self.pixels is None:
            return _as_pixel_batch(self.bundle, self.data.images[idx]).to(self.device)
        return self.pixels[self.send(idx)]

    def send(self, tensor: torch.Tensor) -> torch.Tensor:
        """`tensor` on the model's device; on CUDA through pinned memory, so the CPU need not wait."""
        if self.pinned:
            return tensor.pin_memory().to(self.device, non_blocking=True)
        return tensor.to(self.device)


class _FastLoss:
    """`_batch_loss` as a GPU likes it: bfloat16 autocast on CUDA, and compiled with CUDA graphs for long runs.

    torch.compile(mode="reduce-overhead") fuses the step's kernels and replays them as one CUDA graph,
    which removes the launch costs that bound a tiny model. Compiling takes tens of seconds, so it pays
    only for long runs: it is used on CUDA when steps >= COMPILE_MIN_STEPS; CLIPVIZ_COMPILE=1 asks for
    it always, CLIPVIZ_COMPILE=0 never. When it cannot compile (no Triton, an unsupported op), it warns
    once and runs eagerly: the same numbers, slower. MPS runs eagerly in float32.
    """

    def __init__(self, model: torch.nn.Module, device: torch.device, steps: int):
        self.model, self.device = model, device
        self.autocast = device.type == "cuda"  # matmuls in bfloat16 on CUDA; the loss itself stays float32
        self.compiled, self.compiled_once = None, False
        if _wants_compile(device, steps):
            try:
                self.compiled = torch.compile(functools.partial(_batch_loss, model), mode="reduce-overhead")
            except Exception as err:  # noqa: BLE001 -- any failure to compile means: run eagerly
                self._run_eagerly(err)

    def __call__(self, images: torch.Tensor, texts: torch.Tensor) -> torch.Tensor:
        """The loss of one batch (a scalar): images (B, 3, H, W), texts (B + k, L)."""
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            if self.compiled is not None:
                try:
                    if self.device.type == "cuda":
                        torch.compiler.cudagraph_mark_step_begin()  # a new step: the last one's outputs are done
                    loss = self.compiled(images, texts)  # compiles on the first call
                    self.compiled_once = True
                    return loss
                except Exception as err:  # a failure to compile shows on the first call
                    if self.compiled_once:  # it compiled and ran before: this is a real error
                        raise
                    self._run_eagerly(err)
            try:
                return _batch_loss(self.model, images, texts)
            except NotImplementedError as err:
                if self.device.type != "mps":
                    raise
                raise NotImplementedError(
                    f"{err}\nclipviz: Apple's MPS lacks an operation this training step needs. Start Python with "
                    f"PYTORCH_ENABLE_MPS_FALLBACK=1 set to run that operation on the CPU, or train on the CPU: "
                    f"cv.mini_clip(preset, device='cpu').") from err

    def _run_eagerly(self, err: Exception) -> None:
        self.compiled = None
        warnings.warn(f"torch.compile could not compile the training step ({type(err).__name__}: "
                      f"{str(err).splitlines()[0] if str(err) else ''}); training runs eagerly instead: the same "
                      f"numbers, more slowly. Set CLIPVIZ_COMPILE=0 to skip compiling.", stacklevel=4)


def _wants_compile(device: torch.device, steps: int) -> bool:
    """Compile the step? CLIPVIZ_COMPILE=1: yes, =0: no; otherwise on CUDA for runs of COMPILE_MIN_STEPS or more."""
    choice = os.environ.get("CLIPVIZ_COMPILE", "")
    if choice in ("0", "1"):
        return choice == "1"
    return device.type == "cuda" and steps >= COMPILE_MIN_STEPS


class _Readback:
    """The GPU path's numbers, read back every `every` steps instead of every step.

    loss.item() makes the CPU wait until the GPU has run every kernel queued so far; once a step,
    that wait leaves the GPU idle while Python prepares the next step. Here each step's loss and
    scale are copied into a small buffer on the device (no wait), and the buffer is read in one go
    every `every` steps, at each evaluation and at the end. Then each step is reported in order:
    callbacks see every step's numbers, at most every - 1 steps late. A callback's stop takes effect
    at the end of its burst (the later steps of the burst are reported too: the model took them), and
    Ctrl-C loses the unread steps of the burst from the history.
    The losses are checked here too: the weights are copied aside at every readback whose losses are
    all finite, and put back when a later readback finds NaN (the CPU path checks before each update).
    """

    def __init__(self, model: torch.nn.Module, record: Callable[[int, float, float, float], bool], history: History,
                 config: TrainConfig, every: int):
        device = model.logit_scale.device
        self.model, self.record, self.history, self.config, self.every = model, record, history, config, max(1, every)
        self.losses = torch.zeros(self.every, device=device)  # (every,) the unread steps' losses
        self.scales = torch.zeros(self.every, device=device)  # (every,) and their exp(logit_scale)
        self.lrs: list[float] = []  # and their learning rates (known on the CPU)
        self.saved = [p.detach().clone() for p in model.parameters()]  # the weights of step saved_step
        self.saved_step = 0

    def add(self, step: int, loss: torch.Tensor, lr: float) -> bool:
        """Keep step `step`'s numbers (1-based); every few steps report them all. True when a callback asks to stop."""
        n = len(self.lrs)
        self.losses[n].copy_(loss)  # a copy on the device: the CPU does not wait
        self.scales[n].copy_(self.model.logit_scale.detach().exp())
        self.lrs.append(lr)
        eval_every, steps = self.config.eval_every, self.config.steps
        if n + 1 < self.every and step < steps and not (eval_every and step % eval_every == 0):
            return False
        # 1) one wait for the GPU, for all the unread steps
        losses, scales, lrs, first = self.losses[:n + 1].tolist(), self.scales[:n + 1].tolist(), self.lrs, step - n
        self.lrs = []
        # 2) report them in order, up to the first non-finite loss
        finite = next((i for i, value in enumerate(losses) if not math.isfinite(value)), len(losses))
        stop = False
        for i in range(finite):
            stop = self.record(first + i, losses[i], scales[i], lrs[i]) or stop
        with torch.no_grad():
            if finite < len(losses):  # 3a) diverged: back to the weights of the last finite readback
                for saved, p in zip(self.saved, self.model.parameters()):
                    p.copy_(saved)
                self.history.stopped = "diverged"
                raise TrainingDiverged(
                    f"the loss became {losses[finite]} at step {first + finite}; training stopped and the model "
                    f"keeps the weights of step {self.saved_step}. Lower the learning rate (now "
                    f"{self.config.lr:g}) and train again.", self.history)
            for saved, p in zip(self.saved, self.model.parameters()):  # 3b) all finite: keep these weights
                saved.copy_(p)
        self.saved_step = step
        return stop
