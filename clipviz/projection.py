"""Projection: a picture of the embedding space.

Embeddings have tens to hundreds of dimensions; to look at them we project them to
2 or 3. PCA keeps the directions of largest variance (a linear view, fast, and the
same every time); UMAP and t-SNE keep neighbourhoods (a non-linear view that
separates clusters well but distorts distances). All three come from their usual
libraries (scikit-learn, umap-learn); this module only checks the input and picks
settings that work for the few hundred points of a classroom.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch

METHODS = ("pca", "umap", "tsne")


def project(embeddings, method: str = "pca", dims: int = 2, seed: int = 0) -> np.ndarray:
    """Project N embeddings to `dims` dimensions.

    embeddings: (N, D) tensor or array (e.g. image and text embeddings stacked).
    method: "pca", "umap" or "tsne".
    dims: 2 or 3.
    seed: random seed of UMAP and t-SNE.
    Returns (N, dims) float32 array. With too few points for UMAP (N < 4) or t-SNE
    (N < 5) it falls back to PCA with a warning.
    """
    if method not in METHODS:
        raise ValueError(f"unknown projection method {method!r}; choose one of {METHODS}")
    if dims not in (2, 3):
        raise ValueError(f"dims must be 2 or 3, got {dims}")
    x = embeddings.detach().cpu().numpy() if isinstance(embeddings, torch.Tensor) else np.asarray(embeddings)
    x = x.astype(np.float32)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"embeddings must be a non-empty (N, D) matrix, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("embeddings contain NaN or infinite values; check the model that made them")
    n = len(x)
    needed = {"pca": 1, "umap": 4, "tsne": 5}[method]
    if n < needed:
        warnings.warn(f"{method} needs at least {needed} points, got {n}; using PCA instead", stacklevel=2)
        method = "pca"
    if method == "pca":
        if n == 1 or x.shape[1] < dims:
            out = np.zeros((n, dims), np.float32)
            out[:, :min(dims, x.shape[1])] = (x - x.mean(0))[:, :dims]
            return out
        from sklearn.decomposition import PCA
        k = min(dims, n, x.shape[1])
        out = np.zeros((n, dims), np.float32)
        out[:, :k] = PCA(n_components=k, random_state=seed).fit_transform(x)
        return out
    if method == "umap":
        import umap
        reducer = umap.UMAP(n_components=dims, n_neighbors=min(15, n - 1), min_dist=0.1,
                            init="spectral" if n > dims + 1 else "random", random_state=seed, n_jobs=1)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*n_jobs.*")
            return reducer.fit_transform(x).astype(np.float32)
    from sklearn.manifold import TSNE
    return TSNE(n_components=dims, perplexity=min(30.0, (n - 1) / 3), init="pca", random_state=seed).fit_transform(x).astype(np.float32)
