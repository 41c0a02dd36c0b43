"""The GPU path of the training loop: keep a small GPU busy.

A tiny CLIP's step is a few hundred small kernels: a GPU runs them in about a
millisecond, so what decides the speed is whether the CPU ever makes the GPU wait.
`clipviz.train.train` takes this path on CUDA and MPS (or when asked with
resident=True); these helpers keep the GPU fed:
    DeviceData  the training images uploaded and normalised once; a step sends only indices
    FastLoss    bfloat16 autocast on CUDA, and torch.compile (CUDA graphs) for long runs
    Readback    the loss read back every READBACK_EVERY steps, not every step
The CPU path does not use them, and gives the same numbers as before they existed.
"""
from __future__ import annotations

import functools
import math
import os
import warnings
from typing import Callable

import torch

from .data import ImageTextPairs
from .encode import _as_pixel_batch
from .model import ClipBundle
from .recipe import TrainConfig
from .train_common import History, TrainingDiverged, _batch_loss

READBACK_EVERY = 25  # read the loss back every this many steps (each read waits for the GPU), see Readback
COMPILE_MIN_STEPS = 5000  # on CUDA, compile the step for runs this long (compiling costs tens of seconds), see FastLoss


class DeviceData:
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


class FastLoss:
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
        if wants_compile(device, steps):
            try:
                self.compiled = torch.compile(functools.partial(_batch_loss, model), mode="reduce-overhead")
            except Exception as err:  # noqa: BLE001 -- any failure to compile means: run eagerly
                self._run_eagerly(err)

    def __call__(self, images: torch.Tensor, texts: torch.Tensor, fits: torch.Tensor | None = None) -> torch.Tensor:
        """The loss of one batch (a scalar): images (B, 3, H, W), texts (B + k, L), fits (B, B) or None."""
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            if self.compiled is not None:
                try:
                    if self.device.type == "cuda":
                        torch.compiler.cudagraph_mark_step_begin()  # a new step: the last one's outputs are done
                    loss = self.compiled(images, texts, fits)  # compiles on the first call
                    self.compiled_once = True
                    return loss
                except Exception as err:  # a failure to compile shows on the first call
                    if self.compiled_once:  # it compiled and ran before: this is a real error
                        raise
                    self._run_eagerly(err)
            try:
                return _batch_loss(self.model, images, texts, fits)
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


def wants_compile(device: torch.device, steps: int) -> bool:
    """Compile the step? CLIPVIZ_COMPILE=1: yes, =0: no; otherwise on CUDA for runs of COMPILE_MIN_STEPS or more."""
    choice = os.environ.get("CLIPVIZ_COMPILE", "")
    if choice in ("0", "1"):
        return choice == "1"
    return device.type == "cuda" and steps >= COMPILE_MIN_STEPS


class Readback:
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
