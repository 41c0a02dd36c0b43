"""Similarity: how CLIP compares what its two towers produce.

On the unit sphere the cosine of two embeddings is just their dot product, so the
whole image-text similarity matrix of a batch is one matrix product. This module
also summarises how bright a matrix's diagonal is (`diagonal_stats`) and measures the *modality gap* (Liang et al. 2022, "Mind the Gap"): image and
text embeddings of a CLIP sit in two separate cones, and the distance between the
two centroids says how far apart.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F


def _check_embeddings(x: torch.Tensor, name: str) -> torch.Tensor:
    x = torch.as_tensor(x)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty (N, D) matrix of embeddings, got shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        bad = (~torch.isfinite(x)).any(dim=1).nonzero().flatten().tolist()
        raise ValueError(f"{name} has NaN or infinite values in rows {bad[:10]}; "
                         f"the model that made them may have diverged (retrain with a lower learning rate)")
    return x.float()


def similarity_matrix(image_embeddings: torch.Tensor, text_embeddings: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of every image with every text.

    image_embeddings: (N, D); text_embeddings: (M, D). Rows are normalised here, so
    raw (unnormalised) embeddings also give cosines.
    Returns (N, M) tensor in [-1, 1]; entry [i, j] compares image i with text j.
    """
    img = _check_embeddings(image_embeddings, "image_embeddings")
    txt = _check_embeddings(text_embeddings, "text_embeddings")
    if img.shape[1] != txt.shape[1]:
        raise ValueError(f"image embeddings have {img.shape[1]} dimensions but text embeddings have "
                         f"{txt.shape[1]}: they must come from the same CLIP model")
    return F.normalize(img, dim=-1) @ F.normalize(txt, dim=-1).T  # (N, D) @ (D, M) -> (N, M)


def modality_gap(image_embeddings: torch.Tensor, text_embeddings: torch.Tensor) -> float:
    """Distance between the centroids of the image and the text embeddings.

    image_embeddings: (N, D); text_embeddings: (M, D); rows are normalised first.
    Returns a float in [0, 2]: 0 when both modalities share a centre.
    """
    img = F.normalize(_check_embeddings(image_embeddings, "image_embeddings"), dim=-1)
    txt = F.normalize(_check_embeddings(text_embeddings, "text_embeddings"), dim=-1)
    if img.shape[1] != txt.shape[1]:
        raise ValueError(f"image embeddings have {img.shape[1]} dimensions but text embeddings have {txt.shape[1]}")
    return float((img.mean(dim=0) - txt.mean(dim=0)).norm())


class DiagonalStats(NamedTuple):
    """How bright the diagonal of a square similarity matrix is compared with the rest."""
    diagonal: float  # mean of the N matching cells [i, i]
    off_diagonal: float  # mean of the N * (N - 1) other cells
    gap: float  # diagonal - off_diagonal: > 0 once matching pairs are closer than the rest


def diagonal_stats(similarity: torch.Tensor) -> DiagonalStats:
    """Mean of the diagonal vs the off-diagonal cells of an (N, N) similarity matrix, N >= 2."""
    sim = torch.as_tensor(similarity).float()
    if sim.ndim != 2 or sim.shape[0] != sim.shape[1] or sim.shape[0] < 2:
        raise ValueError(f"need a square (N, N) similarity matrix with N >= 2, got shape {tuple(sim.shape)}")
    n = sim.shape[0]
    diagonal = sim.diagonal().mean().item()
    off_diagonal = (sim.sum() - sim.diagonal().sum()).item() / (n * n - n)
    return DiagonalStats(diagonal, off_diagonal, diagonal - off_diagonal)
