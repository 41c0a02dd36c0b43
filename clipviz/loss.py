"""The contrastive loss of CLIP, written out step by step.

For a batch of N matching (image, text) pairs, CLIP scores every image against
every text. The N x N matrix of scores should be largest on its diagonal, where
the true pairs sit. Each row is an N-way classification "which caption is mine?",
each column is "which image is mine?", and the loss is the mean of the two
cross-entropies. Follows Radford et al. 2021 (Figure 3) and open_clip's ClipLoss,
which a test checks it against.

NegCLIP (Yuksekgonul et al. 2023) adds K hard negatives: captions with the words of a
true caption in a wrong order ("a blue square left of a red circle" for a red square
left of a blue circle). They become K more columns, wrong for every image, so each
row is an (N + K)-way choice; the columns, which ask for an image, stay the N true
captions. Without them the loss is exactly CLIP's.

False negatives: CLIP counts caption j as wrong for image i whenever j != i, even when it is
true of both ("a red shape" under two red pictures). Passing `false_negatives` leaves those
cells out of both softmaxes, so a true caption is never pushed away from a picture it fits.
It needs ground truth a web-scale CLIP never has (which caption fits which other picture), so
the kit's recipe leaves it off and trains with CLIP's own loss; TrainConfig.mask_false_negatives
turns it on as an experiment (chapters 03 and 04), since the short alt-text captions make several
such cells per row of a 128-pair batch.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F


class ContrastiveLoss(NamedTuple):
    total: torch.Tensor  # scalar: (image_to_text + text_to_image) / 2
    image_to_text: torch.Tensor  # scalar: cross-entropy of each row (an image picks its caption)
    text_to_image: torch.Tensor  # scalar: cross-entropy of each column (a caption picks its image)
    logits: torch.Tensor  # (N, N + K): logit_scale * cosine similarity, rows are images, K hard negatives last


def contrastive_loss(image_embeddings: torch.Tensor, text_embeddings: torch.Tensor,
                     logit_scale: float | torch.Tensor = 100.0,
                     negative_texts: torch.Tensor | None = None,
                     false_negatives: torch.Tensor | None = None) -> ContrastiveLoss:
    """CLIP's symmetric cross-entropy over a batch of matching pairs.

    image_embeddings: (N, D), L2-normalised; row i is the image of pair i.
    text_embeddings: (N, D), L2-normalised; row i is the caption of pair i.
    logit_scale: the multiplier of the cosine similarities (1 / temperature),
        i.e. model.logit_scale.exp(), at most 100 in CLIP.
    negative_texts: (K, D), L2-normalised, or None: captions that match no image of the
        batch (NegCLIP's hard negatives), extra wrong answers for every row.
    false_negatives: (N, N) bool, or None: True where caption j is true of image i too (i != j,
        e.g. data.caption_fits() of the batch); those cells are left out of the softmaxes. The
        diagonal is ignored. None: CLIP's loss, every other caption is wrong.
    Returns ContrastiveLoss(total, image_to_text, text_to_image, logits).
    """
    if image_embeddings.shape != text_embeddings.shape or image_embeddings.ndim != 2:
        raise ValueError(f"need two (N, D) batches of matching pairs, got image {tuple(image_embeddings.shape)} "
                         f"and text {tuple(text_embeddings.shape)}")
    if negative_texts is not None and (negative_texts.ndim != 2 or negative_texts.shape[1] != text_embeddings.shape[1]):
        raise ValueError(f"negative_texts must be (K, {text_embeddings.shape[1]}) like the captions, "
                         f"got {tuple(negative_texts.shape)}; pass None for no hard negatives")
    n = image_embeddings.shape[0]
    if negative_texts is not None:
        text_embeddings = torch.cat([text_embeddings, negative_texts])  # (N + K, D), the K negatives last
    logits = logit_scale * image_embeddings @ text_embeddings.T  # (N, N + K), logits[i, j] = image i vs text j
    if false_negatives is not None:
        if false_negatives.shape != (n, n):
            raise ValueError(f"false_negatives must be ({n}, {n}) bool, one cell per (image, caption) of the batch; "
                             f"got {tuple(false_negatives.shape)}")
        off_diagonal = false_negatives.to(torch.bool) & ~torch.eye(n, dtype=torch.bool, device=logits.device)
        logits = logits.masked_fill(F.pad(off_diagonal, (0, logits.shape[1] - n)), float("-inf"))  # K columns kept
    labels = torch.arange(n, device=logits.device)  # (N,), pair i is the right answer for row/column i
    image_to_text = F.cross_entropy(logits, labels)  # each row: softmax over the N (+ K) captions
    text_to_image = F.cross_entropy(logits[:, :n].T, labels)  # each true caption's column: softmax over the N images
    return ContrastiveLoss((image_to_text + text_to_image) / 2, image_to_text, text_to_image, logits)
