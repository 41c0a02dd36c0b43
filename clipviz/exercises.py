"""Exercise checkers: run a student's function against the package's own and say what differs.

Each `check_*` function calls the student's implementation on small random inputs,
compares it with the reference in clipviz, and returns a message. When it is
wrong, the message names the likely mistake (a transposed matrix, a missing
normalisation, only one direction of the loss, ...), not just "wrong".

    >>> cv.exercises.check_similarity_matrix(my_similarity)
    'Correct: your similarity matrix equals clipviz.similarity_matrix.'
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .loss import contrastive_loss
from .similarity import similarity_matrix


class ExerciseMistake(AssertionError):
    """The student's answer differs from the reference; the message says how."""


def _call(fn, *args):
    try:
        out = fn(*args)
    except Exception as err:
        raise ExerciseMistake(f"your function raised {type(err).__name__}: {err}") from None
    if not isinstance(out, torch.Tensor):
        try:
            out = torch.as_tensor(out, dtype=torch.float32)
        except Exception:
            raise ExerciseMistake(f"your function returned a {type(out).__name__}; return a torch tensor") from None
    return out.float()


def check_similarity_matrix(fn) -> str:
    """Check fn(image_embeddings (N, D), text_embeddings (M, D)) -> (N, M) cosine similarities."""
    g = torch.Generator().manual_seed(0)
    img, txt = torch.randn(5, 8, generator=g) * 3, torch.randn(3, 8, generator=g) * 2  # not normalised on purpose
    expected = similarity_matrix(img, txt)
    out = _call(fn, img, txt)
    if out.shape == (3, 5):
        raise ExerciseMistake("your matrix is (M, N): rows should be images and columns texts; use image @ text.T")
    if out.shape != (5, 3):
        raise ExerciseMistake(f"expected shape (N, M) = (5, 3), got {tuple(out.shape)}")
    if torch.allclose(out, img @ txt.T, atol=1e-4):
        raise ExerciseMistake("these are dot products of raw vectors: normalise each row to length 1 first "
                              "(x / x.norm(dim=-1, keepdim=True)) so they become cosines")
    if not torch.allclose(out, expected, atol=1e-4):
        if out.abs().max() > 1 + 1e-4:
            raise ExerciseMistake("some values are outside [-1, 1], so they are not cosines: normalise both "
                                  "the image and the text embeddings")
        raise ExerciseMistake(f"values differ from the cosine similarities (first row: yours "
                              f"{out[0].tolist()}, expected {expected[0].tolist()})")
    return "Correct: your similarity matrix equals clipviz.similarity_matrix."


def check_contrastive_loss(fn) -> str:
    """Check fn(image_embeddings (N, D), text_embeddings (N, D), logit_scale) -> scalar CLIP loss."""
    g = torch.Generator().manual_seed(1)
    img = F.normalize(torch.randn(6, 8, generator=g), dim=-1)
    txt = F.normalize(img + 0.8 * torch.randn(6, 8, generator=g), dim=-1)
    scale = 10.0
    ref = contrastive_loss(img, txt, scale)
    out = _call(fn, img, txt, scale)
    if out.numel() != 1:
        raise ExerciseMistake(f"return one number (a scalar tensor), got shape {tuple(out.shape)}: "
                              f"cross-entropy averages over the batch")
    value = out.item()
    if abs(value - ref.total.item()) < 1e-4:
        return "Correct: your loss equals clipviz.contrastive_loss (and open_clip's ClipLoss)."
    labels = torch.arange(6)
    wrong = {
        "you only used the image → text direction (rows); CLIP averages it with text → image (columns)":
            ref.image_to_text.item(),
        "you only used the text → image direction (columns); CLIP averages it with image → text (rows)":
            ref.text_to_image.item(),
        "you added the two cross-entropies; CLIP takes their mean (divide by 2)":
            (ref.image_to_text + ref.text_to_image).item(),
        "the logit scale is missing: multiply the cosines by logit_scale before the softmax":
            (F.cross_entropy(img @ txt.T, labels) + F.cross_entropy(txt @ img.T, labels)).item() / 2,
        "you divided by the logit scale; it multiplies the cosines (it is 1 / temperature)":
            (F.cross_entropy(img @ txt.T / scale, labels) + F.cross_entropy(txt @ img.T / scale, labels)).item() / 2,
    }
    for message, candidate in wrong.items():
        if abs(value - candidate) < 1e-4:
            raise ExerciseMistake(message)
    raise ExerciseMistake(f"your loss is {value:.4f} but CLIP's is {ref.total.item():.4f}. The targets of the "
                          f"cross-entropy are torch.arange(N): pair i is the right answer in row i and column i")


def check_zero_shot_classifier(fn, bundle) -> str:
    """Check fn(bundle, labels, templates) -> (D, C) class-embedding matrix, like clipviz.zero_shot_classifier."""
    from .zeroshot import zero_shot_classifier
    labels, templates = ["red circle", "blue square", "green star"], ["a photo of a {}", "a {}"]
    expected = zero_shot_classifier(bundle, labels, templates).weights  # (D, C)
    out = _call(fn, bundle, labels, templates)
    d, c = expected.shape
    if out.shape == (c, d):
        out = out.T
        transposed = True
    else:
        transposed = False
    if out.shape != (d, c):
        raise ExerciseMistake(f"expected one column per label, shape (D, C) = ({d}, {c}); got {tuple(out.shape)}")
    if torch.allclose(out, expected, atol=1e-4):
        if transposed:
            return "Nearly: your classifier is right but transposed: return (D, C), one column per label."
        return "Correct: your classifier equals clipviz.zero_shot_classifier."
    from .encode import encode_texts
    first_only = F.normalize(encode_texts(bundle, [templates[0].format(lb) for lb in labels]), dim=-1).T
    if torch.allclose(out, first_only, atol=1e-4):
        raise ExerciseMistake("you used only the first template: embed every template for each label and "
                              "average them (prompt ensembling)")
    norms = out.norm(dim=0)
    if not torch.allclose(norms, torch.ones(c), atol=1e-3):
        raise ExerciseMistake(f"the columns have lengths {[round(v, 3) for v in norms.tolist()]}: normalise the "
                              f"mean of each label's prompt embeddings to length 1")
    raise ExerciseMistake("the class embeddings differ from the reference: for each label, format every template "
                          "with it, encode the prompts, average them, normalise, and stack the columns")
