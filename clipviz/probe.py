"""A linear probe: the classifier that needs labelled pictures, against CLIP's classifier made of words.

The CLIP paper (Radford et al., 2021, section 3.1.5 and Figure 6) asks how many labelled examples per
class a logistic-regression classifier on CLIP's image embeddings needs to match zero-shot CLIP, whose
classes are given only as text. Averaged over 20 datasets, a 4-shot linear probe merely matched zero-shot
CLIP; the number varies widely from dataset to dataset. `probe_curve` measures the same thing in the
shapes world, on seen and on held-out compositions: the probe sees k labelled pictures of each of the
30 colour+shape classes (held-out ones included: labels are exactly what the probe has and CLIP's
training did not), the zero-shot classifier sees only the 30 label texts.

The probe follows the paper's: scikit-learn's L-BFGS logistic regression on the image embeddings.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from .data import LABEL_KINDS
from .encode import encode_images
from .model import ClipBundle
from .zeroshot import zero_shot_classifier

PROBE_C = 10.0  # inverse L2 strength of the logistic regression (the paper tunes it on validation data; one value here)
SHOTS = (1, 2, 4, 8, 16, 32)  # labelled examples per class (the paper's Figure 6 goes to 16)


@dataclass
class ProbeCurve:
    """Accuracy of a k-shot linear probe for each k, beside the zero-shot classifier's, on seen and held-out images."""
    shots: list[int]  # k: labelled examples per class
    probe: dict[str, list[float]]  # "seen" / "heldout" -> probe accuracy at each k (mean over repeats)
    zero_shot: dict[str, float]  # "seen" / "heldout" -> accuracy of the classifier made of words
    labels: list[str] = field(default_factory=list)  # the C class names
    templates: list[str] = field(default_factory=list)  # the zero-shot classifier's prompt templates

    def shots_to_match(self, split: str) -> int | None:
        """The smallest k whose probe reaches the zero-shot accuracy on `split`; None if no k does."""
        for k, accuracy in zip(self.shots, self.probe[split]):
            if accuracy >= self.zero_shot[split]:
                return k
        return None


def fit_probe(embeddings: torch.Tensor, targets: Sequence[int], c: float | None = None):
    """A logistic regression on (N, D) image embeddings with N integer targets (c: PROBE_C unless given);
    returns the fitted scikit-learn model."""
    import warnings

    from sklearn.linear_model import LogisticRegression

    x = torch.nn.functional.normalize(embeddings.float(), dim=-1).cpu().numpy()  # (N, D), as CLIP compares them
    with warnings.catch_warnings():  # one example per class is fine here, though scikit-learn asks if y is a regression
        warnings.filterwarnings("ignore", message="The number of unique classes")
        return LogisticRegression(C=PROBE_C if c is None else c, max_iter=2000).fit(x, np.asarray(targets))


def probe_accuracy(model, embeddings: torch.Tensor, targets: Sequence[int]) -> float:
    """Top-1 accuracy of a fitted probe on (N, D) embeddings."""
    x = torch.nn.functional.normalize(embeddings.float(), dim=-1).cpu().numpy()
    return float((model.predict(x) == np.asarray(targets)).mean())


def probe_curve(bundle: ClipBundle, world, shots: Sequence[int] = SHOTS,
                templates: Sequence[str] = ("a {}", "a photo of a {}"), n_test: int = 600, repeats: int = 3,
                style: str = "photo", seed: int = 0) -> ProbeCurve:
    """k-shot linear probes on the 30 colour+shape classes against the zero-shot classifier of their names.

    world: a ShapesWorld. shots: the k to try. n_test: test images per split ("test" = seen compositions,
    "heldout"). repeats: draws of the k labelled examples per k, averaged. style: how the pictures are drawn.
    The labelled examples come from the world's "all" split, never from the test images.
    """
    if not shots or min(shots) < 1:
        raise ValueError(f"shots are labelled examples per class, 1 or more; got {list(shots)}")
    labels = list(LABEL_KINDS["colour shape"])  # the 30 classes "red circle", ..., as chapter 05 names them
    index = {label: i for i, label in enumerate(labels)}
    target_of = lambda data: [index[f"{a.colour} {a.shape}"] for a in data.attributes]  # noqa: E731
    pool = world.dataset("all", n=max(shots) * len(labels) * 6, style=style)  # the labelled pictures to draw from
    pool_emb, pool_targets = encode_images(bundle, pool.images), np.asarray(target_of(pool))
    by_class = [np.flatnonzero(pool_targets == c) for c in range(len(labels))]
    if min(len(ids) for ids in by_class) < max(shots):
        raise ValueError(f"the pool has too few pictures of some class for {max(shots)} shots; try fewer shots")
    tests = {"seen": world.dataset("test", n_test, style=style), "heldout": world.dataset("heldout", n_test, style=style)}
    test_emb = {name: encode_images(bundle, data.images) for name, data in tests.items()}
    classifier = zero_shot_classifier(bundle, labels, templates)
    zero_shot = {name: classifier.accuracy(test_emb[name], target_of(data)) for name, data in tests.items()}
    rng = np.random.default_rng(seed)
    probe = {name: [] for name in tests}
    for k in shots:
        scores = {name: [] for name in tests}
        for _ in range(repeats):
            chosen = np.concatenate([rng.choice(ids, size=k, replace=False) for ids in by_class])  # (C * k,)
            model = fit_probe(pool_emb[torch.from_numpy(chosen)], pool_targets[chosen])
            for name, data in tests.items():
                scores[name].append(probe_accuracy(model, test_emb[name], target_of(data)))
        for name in tests:
            probe[name].append(float(np.mean(scores[name])))
    return ProbeCurve(list(shots), probe, zero_shot, labels, list(templates))
