import pytest
import torch
import torch.nn.functional as F

import clipviz as cv


def test_similarity_is_cosine(rng):
    a, b = torch.randn(4, 8, generator=rng), torch.randn(3, 8, generator=rng)
    s = cv.similarity_matrix(a, b)
    assert s.shape == (4, 3)
    expected = F.cosine_similarity(a[:, None], b[None], dim=-1)
    assert torch.allclose(s, expected, atol=1e-6)


def test_mismatched_dimensions_are_explained():
    with pytest.raises(ValueError, match="8 dimensions but text embeddings have 6"):
        cv.similarity_matrix(torch.randn(2, 8), torch.randn(2, 6))


def test_nans_are_refused_with_their_rows():
    img = torch.randn(3, 4)
    img[1, 2] = float("nan")
    with pytest.raises(ValueError, match=r"NaN.*rows \[1\]"):
        cv.similarity_matrix(img, torch.randn(2, 4))
    with pytest.raises(ValueError, match="non-empty"):
        cv.similarity_matrix(torch.randn(0, 4), torch.randn(2, 4))


def test_modality_gap(rng):
    x = F.normalize(torch.randn(50, 16, generator=rng), dim=-1)
    assert cv.modality_gap(x, x) == pytest.approx(0.0, abs=1e-6)
    shifted = F.normalize(x + 3 * torch.eye(16)[0], dim=-1)
    assert cv.modality_gap(x, shifted) > 0.5


def test_diagonal_stats_of_a_known_matrix():
    sim = torch.tensor([[0.9, 0.1, 0.2], [0.0, 0.8, 0.3], [0.1, 0.2, 0.7]])
    stats = cv.diagonal_stats(sim)
    assert stats.diagonal == pytest.approx(0.8) and stats.off_diagonal == pytest.approx(0.9 / 6)
    assert stats.gap == pytest.approx(0.8 - 0.15)
    with pytest.raises(ValueError, match=r"square \(N, N\).*\(2, 3\)"):
        cv.diagonal_stats(torch.zeros(2, 3))
