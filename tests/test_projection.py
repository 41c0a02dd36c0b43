import numpy as np
import pytest
import torch

import clipviz as cv


@pytest.mark.parametrize("method", ["pca", "umap", "tsne"])
@pytest.mark.parametrize("dims", [2, 3])
def test_projection_shapes(method, dims, rng):
    x = torch.randn(40, 16, generator=rng)
    out = cv.project(x, method, dims)
    assert out.shape == (40, dims) and np.isfinite(out).all()


def test_pca_keeps_the_main_direction(rng):
    x = torch.randn(100, 8, generator=rng) * 0.01
    x[:, 3] += torch.linspace(-1, 1, 100)
    xy = cv.project(x, "pca")
    assert abs(np.corrcoef(xy[:, 0], x[:, 3].numpy())[0, 1]) > 0.99


def test_umap_separates_clusters(rng):
    a = torch.randn(30, 16, generator=rng) + 5
    b = torch.randn(30, 16, generator=rng) - 5
    xy = cv.project(torch.cat([a, b]), "umap")
    gap = np.linalg.norm(xy[:30].mean(0) - xy[30:].mean(0))
    spread = max(xy[:30].std(0).max(), xy[30:].std(0).max())
    assert gap > 3 * spread


def test_too_few_points_fall_back_with_a_warning():
    with pytest.warns(UserWarning, match="umap needs at least 4 points.*PCA"):
        out = cv.project(torch.randn(3, 8), "umap")
    assert out.shape == (3, 2)
    with pytest.warns(UserWarning, match="tsne"):
        cv.project(torch.randn(4, 8), "tsne")
    assert cv.project(torch.randn(1, 8), "pca").shape == (1, 2)


def test_bad_arguments():
    with pytest.raises(ValueError, match="choose one of"):
        cv.project(torch.randn(5, 4), "lda")
    with pytest.raises(ValueError, match="dims"):
        cv.project(torch.randn(5, 4), "pca", dims=4)
    with pytest.raises(ValueError, match="NaN"):
        cv.project(torch.full((5, 4), float("nan")), "pca")
