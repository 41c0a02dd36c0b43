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

from .captions import a_or_an
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
        return [self.labels[i] for i in self.predict_index(image_embeddings).tolist()]

    def predict_index(self, image_embeddings: torch.Tensor) -> torch.Tensor:
        """(N,) index into `labels` of each image's most likely class."""
        return self.logits(image_embeddings).argmax(dim=-1)

    def accuracy(self, image_embeddings: torch.Tensor, targets: Sequence[int]) -> float:
        """Top-1 accuracy: the fraction of the N images whose predicted class is targets[i]."""
        targets = torch.as_tensor(list(targets))
        if len(targets) != len(image_embeddings):
            raise ValueError(f"{len(image_embeddings)} image embeddings but {len(targets)} targets: give one each")
        return float((self.predict_index(image_embeddings).cpu() == targets).float().mean())

    @classmethod
    def from_prompt_embeddings(cls, embeddings: torch.Tensor, labels: Sequence[str],
                               templates: Sequence[str]) -> "ZeroShotClassifier":
        """The ensemble classifier of (T, C, D) prompt embeddings: each class is its T prompts' normalised mean."""
        class_emb = F.normalize(embeddings.float().mean(dim=0), dim=-1)  # (C, D): ensemble the templates
        return cls(class_emb.T.contiguous(), list(labels), list(templates))  # weights (D, C)


ARTICLE = "a(n) {}"  # in a template: the label with the article it takes, "a red shape", "an orange shape"


def fill_template(template: str, label: str) -> str:
    """The prompt: the label written into the template's "{}". Where the template says "a(n) {}", the label gets the
    article it takes, as every training caption writes it: "a photo of a(n) {}" gives "a photo of an orange" and
    "a photo of a red". A plain "a {}" is left as written ("a photo of a orange"), as CLIP's own templates are."""
    if ARTICLE in template:
        template = template.replace(ARTICLE, f"{a_or_an(label)} {{}}")
    return template.format(label)


def _check_prompts(labels: Sequence[str], templates: Sequence[str]) -> tuple[list[str], list[str]]:
    labels, templates = list(labels), list(templates)
    if not labels:
        raise ValueError("no labels: give at least one class name, e.g. ['circle', 'square']")
    if not templates:
        raise ValueError("no templates: give at least one prompt template such as 'a photo of a {}.'")
    for i, t in enumerate(templates):
        if not isinstance(t, str) or "{}" not in t:
            raise ValueError(f"templates[{i}] = {t!r} needs a '{{}}' where the label goes, e.g. 'a photo of a {{}}.'")
    return labels, templates


def prompt_embeddings(bundle: ClipBundle, labels: Sequence[str], templates: Sequence[str]) -> torch.Tensor:
    """Every label written into every template, embedded once.

    labels: C class names. templates: T format strings with one "{}" for the label ("a(n) {}": with its article).
    Returns (T, C, D): entry [t, c] is the normalised embedding of fill_template(templates[t], labels[c]).
    """
    labels, templates = _check_prompts(labels, templates)
    prompts = [fill_template(t, label) for t in templates for label in labels]  # T * C prompts, template-major
    return encode_texts(bundle, prompts).view(len(templates), len(labels), -1)  # (T, C, D)


def zero_shot_classifier(bundle: ClipBundle, labels: Sequence[str],
                         templates: Sequence[str] = ("a photo of a {}.",)) -> ZeroShotClassifier:
    """Build a classifier from label names and prompt templates.

    labels: C class names, e.g. ["red circle", "blue star"].
    templates: T format strings with one "{}" for the label; each class embedding is
        the normalised mean of its T prompt embeddings (prompt ensembling).
    Returns a ZeroShotClassifier with weights (D, C).
    """
    return ZeroShotClassifier.from_prompt_embeddings(prompt_embeddings(bundle, labels, templates), labels, templates)


def template_classifiers(bundle: ClipBundle, labels: Sequence[str], templates: Sequence[str],
                         ensemble: bool = True) -> dict[str, ZeroShotClassifier]:
    """One classifier per template, plus (ensemble=True, T > 1) their ensemble, from one pass of the text tower.

    Returns {template: classifier, ..., "ensemble": classifier}, in the order of `templates`.
    """
    emb = prompt_embeddings(bundle, labels, templates)  # (T, C, D)
    out = {t: ZeroShotClassifier.from_prompt_embeddings(emb[i:i + 1], labels, [t]) for i, t in enumerate(templates)}
    if ensemble and len(templates) > 1:
        out["ensemble"] = ZeroShotClassifier.from_prompt_embeddings(emb, labels, templates)
    return out


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
