"""Zero-shot classification: a classifier made of words.

CLIP never trains a classification head. To sort images into classes it writes
each class name into one or more prompt templates ("a photo of a {}."), embeds the
prompts with the text tower, averages the templates of each class (prompt
ensembling, CLIP paper section 3.1.4) and picks, for each image, the class whose
text embedding is most similar. Follows open_clip's build_zero_shot_classifier,
which a test checks this against.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F

from .encode import encode_images, encode_texts
from .model import ClipBundle


@dataclass
class ZeroShotClassifier:
    """Class embeddings built from text.

    weights: (D, C) tensor; column c is the normalised mean prompt embedding of class c.
    labels: the C class names.
    templates: the prompt templates that were averaged.
    """
    weights: torch.Tensor
    labels: list[str]
    templates: list[str]

    def logits(self, image_embeddings: torch.Tensor, logit_scale: float = 100.0) -> torch.Tensor:
        """(N, C) scores: logit_scale * cosine(image, class)."""
        return logit_scale * F.normalize(image_embeddings.float(), dim=-1) @ self.weights  # (N, D) @ (D, C)

    def probs(self, image_embeddings: torch.Tensor, logit_scale: float = 100.0) -> torch.Tensor:
        """(N, C) probabilities of each class, a softmax over the logits of each row."""
        return self.logits(image_embeddings, logit_scale).softmax(dim=-1)

    def predict(self, image_embeddings: torch.Tensor) -> list[str]:
        """The most likely label of each of the N images."""
        return [self.labels[i] for i in self.logits(image_embeddings).argmax(dim=-1).tolist()]


def zero_shot_classifier(bundle: ClipBundle, labels: Sequence[str],
                         templates: Sequence[str] = ("a photo of a {}.",)) -> ZeroShotClassifier:
    """Build a classifier from label names and prompt templates.

    labels: C class names, e.g. ["red circle", "blue star"].
    templates: T format strings with one "{}" for the label; each class embedding is
        the normalised mean of its T prompt embeddings.
    Returns a ZeroShotClassifier with weights (D, C).
    """
    labels, templates = list(labels), list(templates)
    if not labels:
        raise ValueError("no labels: give at least one class name, e.g. ['circle', 'square']")
    if not templates:
        raise ValueError("no templates: give at least one prompt template such as 'a photo of a {}.'")
    for i, t in enumerate(templates):
        if not isinstance(t, str) or "{}" not in t:
            raise ValueError(f"templates[{i}] = {t!r} needs a '{{}}' where the label goes, e.g. 'a photo of a {{}}.'")
    prompts = [t.format(label) for label in labels for t in templates]  # C * T prompts, class-major
    emb = encode_texts(bundle, prompts)  # (C*T, D), normalised
    emb = emb.view(len(labels), len(templates), -1).mean(dim=1)  # (C, D): ensemble the templates
    return ZeroShotClassifier(F.normalize(emb, dim=-1).T.contiguous(), labels, templates)  # weights (D, C)


def confusion_matrix(targets: Sequence[int], predictions: Sequence[int], num_classes: int) -> torch.Tensor:
    """(C, C) counts: entry [t, p] is how many items of true class t were predicted as p."""
    matrix = torch.zeros(num_classes, num_classes, dtype=torch.long)
    matrix.index_put_((torch.as_tensor(targets), torch.as_tensor(predictions)),
                      torch.ones(len(targets), dtype=torch.long), accumulate=True)
    return matrix


def caption_accuracy(bundle: ClipBundle, data, captions: Sequence[str] | None = None) -> float:
    """Top-1 image -> caption retrieval accuracy on a shapes-world ImageTextPairs.

    Each image of `data` must pick its own canonical caption out of `captions`
    (default: the canonical caption of every combination in data.world, 240 of them).
    Returns the fraction picked right, in [0, 1].
    """
    captions = list(captions) if captions is not None else data.world.all_captions()
    position = {c: i for i, c in enumerate(captions)}
    truth = torch.tensor([position[data.world.caption(a)] for a in data.attributes])  # (N,)
    scores = encode_images(bundle, data.images) @ encode_texts(bundle, captions).T  # (N, C)
    return float((scores.argmax(dim=-1) == truth).float().mean())
