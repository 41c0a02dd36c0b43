"""The contrastive loss of CLIP, written out step by step.

For a batch of N matching (image, text) pairs, CLIP scores every image against
every text. The N x N matrix of scores should be largest on its diagonal, where
the true pairs sit. Each row is an N-way classification "which caption is mine?",
each column is "which image is mine?", and the loss is the mean of the two
cross-entropies. Follows Radford et al. 2021 (Figure 3) and open_clip's ClipLoss,
which a test checks it against.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F


class ContrastiveLoss(NamedTuple):
    total: torch.Tensor  # scalar: (image_to_text + text_to_image) / 2
    image_to_text: torch.Tensor  # scalar: cross-entropy of each row (an image picks its caption)
    text_to_image: torch.Tensor  # scalar: cross-entropy of each column (a caption picks its image)
    logits: torch.Tensor  # (N, N): logit_scale * cosine similarity, rows are images


def contrastive_loss(image_embeddings: torch.Tensor, text_embeddings: torch.Tensor,
                     logit_scale: float | torch.Tensor = 100.0) -> ContrastiveLoss:
    """CLIP's symmetric cross-entropy over a batch of matching pairs.

    image_embeddings: (N, D), L2-normalised; row i is the image of pair i.
    text_embeddings: (N, D), L2-normalised; row i is the caption of pair i.
    logit_scale: the multiplier of the cosine similarities (1 / temperature),
        i.e. model.logit_scale.exp(), at most 100 in CLIP.
    Returns ContrastiveLoss(total, image_to_text, text_to_image, logits).
    """
    if image_embeddings.shape != text_embeddings.shape or image_embeddings.ndim != 2:
        raise ValueError(f"need two (N, D) batches of matching pairs, got image {tuple(image_embeddings.shape)} "
                         f"and text {tuple(text_embeddings.shape)}")
    logits = logit_scale * image_embeddings @ text_embeddings.T  # (N, N), logits[i, j] = image i vs text j
    labels = torch.arange(logits.shape[0], device=logits.device)  # (N,), pair i is the right answer for row/column i
    image_to_text = F.cross_entropy(logits, labels)  # each row: softmax over the N captions
    text_to_image = F.cross_entropy(logits.T, labels)  # each column: softmax over the N images
    return ContrastiveLoss((image_to_text + text_to_image) / 2, image_to_text, text_to_image, logits)
