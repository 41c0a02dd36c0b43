import open_clip
import pytest
import torch
import torch.nn.functional as F

import clipviz as cv


@pytest.mark.parametrize("n,d,scale", [(2, 8, 1.0), (16, 64, 14.3), (33, 17, 100.0)])
def test_contrastive_loss_equals_open_clip(n, d, scale, rng):
    img = F.normalize(torch.randn(n, d, generator=rng), dim=-1)
    txt = F.normalize(torch.randn(n, d, generator=rng), dim=-1)
    ours = cv.contrastive_loss(img, txt, torch.tensor(scale))
    ref = open_clip.ClipLoss()(img, txt, torch.tensor(scale))
    assert torch.allclose(ours.total, ref, atol=1e-6)
    assert torch.allclose(ours.total, (ours.image_to_text + ours.text_to_image) / 2)
    logits_per_image, logits_per_text = open_clip.ClipLoss().get_logits(img, txt, torch.tensor(scale))
    assert torch.allclose(ours.logits, logits_per_image, atol=1e-5)
    assert torch.allclose(ours.logits.T, logits_per_text, atol=1e-5)


def test_gradients_match_open_clip(rng):
    img = torch.randn(8, 16, generator=rng, requires_grad=True)
    txt = torch.randn(8, 16, generator=rng, requires_grad=True)
    cv.contrastive_loss(F.normalize(img, dim=-1), F.normalize(txt, dim=-1), 20.0).total.backward()
    ours = img.grad.clone(), txt.grad.clone()
    img.grad = txt.grad = None
    open_clip.ClipLoss()(F.normalize(img, dim=-1), F.normalize(txt, dim=-1), 20.0).backward()
    assert torch.allclose(ours[0], img.grad, atol=1e-6) and torch.allclose(ours[1], txt.grad, atol=1e-6)


def test_matched_pairs_give_low_loss_and_shuffled_high(rng):
    emb = F.normalize(torch.randn(32, 64, generator=rng), dim=-1)
    matched = cv.contrastive_loss(emb, emb, 100.0).total
    shuffled = cv.contrastive_loss(emb, emb[torch.randperm(32, generator=rng)], 100.0).total
    assert matched < 0.01 < 1.0 < shuffled


def test_the_halves_differ_when_the_matrix_is_not_symmetric(rng):
    img = F.normalize(torch.randn(6, 8, generator=rng), dim=-1)
    txt = F.normalize(torch.randn(6, 8, generator=rng), dim=-1)
    parts = cv.contrastive_loss(img, txt, 10.0)
    rows = F.cross_entropy(10.0 * img @ txt.T, torch.arange(6))
    assert torch.allclose(parts.image_to_text, rows)
    assert not torch.allclose(parts.image_to_text, parts.text_to_image)


def test_mismatched_batches_are_refused():
    with pytest.raises(ValueError, match="matching pairs"):
        cv.contrastive_loss(torch.randn(4, 8), torch.randn(5, 8))


def test_false_negatives_leave_the_softmaxes(rng):
    n, d = 6, 8
    img = F.normalize(torch.randn(n, d, generator=rng), dim=-1)
    txt = F.normalize(torch.randn(n, d, generator=rng), dim=-1)
    fits = torch.zeros(n, n, dtype=torch.bool)
    fits[0, 3] = True  # caption 3 is true of image 0 too
    fits.fill_diagonal_(True)  # the diagonal is ignored
    masked = cv.contrastive_loss(img, txt, 10.0, false_negatives=fits)
    logits = 10.0 * img @ txt.T
    keep = torch.ones(n, n, dtype=torch.bool)
    keep[0, 3] = False
    rows = torch.stack([F.cross_entropy(logits[i][keep[i]][None], torch.tensor([i]))
                        for i in range(n)]).mean()
    cols = torch.stack([F.cross_entropy(logits[:, j][keep[:, j]][None], torch.tensor([j - int(j == 3)]))
                        for j in range(n)]).mean()
    assert torch.allclose(masked.image_to_text, rows, atol=1e-6)  # row 0 chooses among 5 captions, not 6
    assert torch.allclose(masked.text_to_image, cols, atol=1e-6)  # column 3 chooses among 5 images
    plain = cv.contrastive_loss(img, txt, 10.0)
    assert masked.image_to_text < plain.image_to_text and masked.text_to_image < plain.text_to_image
    none_off = cv.contrastive_loss(img, txt, 10.0, false_negatives=torch.eye(n, dtype=torch.bool))
    assert torch.allclose(none_off.total, plain.total)  # only the diagonal: CLIP's loss exactly
    with pytest.raises(ValueError, match=r"\(6, 6\) bool"):
        cv.contrastive_loss(img, txt, 10.0, false_negatives=fits[:5])
