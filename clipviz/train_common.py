"""What the training loop's two paths share: one batch's loss, the run's History, and TrainingDiverged.

`clipviz.train.train` runs the CPU path itself and the GPU path through train_gpu.py; both
compute `_batch_loss` and record into a `History`, and both raise `TrainingDiverged` on a NaN.
These live here, below both, so that train.py and train_gpu.py import them and not each other
(train.py re-exports them: `from clipviz.train import History` keeps working).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .loss import contrastive_loss


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


def _batch_loss(model: torch.nn.Module, images: torch.Tensor, texts: torch.Tensor,
                fits: torch.Tensor | None = None) -> torch.Tensor:
    """Embed both sides and score every image against every caption: CLIP's loss on one batch, a scalar.

    images: (B, 3, H, W) normalised. texts: (B + k, L) tokens, the batch's captions then k hard negatives.
    fits: (B, B) bool, caption j true of image i too (false negatives, left out of the softmaxes), or None.
    """
    image_emb = model.encode_image(images, normalize=True)  # (B, D)
    text_emb = model.encode_text(texts, normalize=True)  # (B + k, D): the batch's captions, then k hard negatives
    b = image_emb.shape[0]
    return contrastive_loss(image_emb, text_emb[:b], model.logit_scale.exp(),
                            text_emb[b:] if len(text_emb) > b else None, fits).total
