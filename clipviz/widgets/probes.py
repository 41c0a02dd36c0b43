"""Classifying with words: the apps where a student writes captions or prompts and CLIP answers.

- `CaptionProbe` (chapter 01): pick an image, write candidate captions, see CLIP's probabilities.
- `PromptEffects` (chapters 06 and 08): the same labels under several prompt wordings, and their ensemble.
- `ZeroShotExplorer` (chapter 05): a zero-shot classifier over many test images, with its confusion matrix.

The apps only wire controls to figures; the numbers come from `clipviz.zeroshot` and
`clipviz.similarity`.
"""
from __future__ import annotations

import html
from typing import Sequence

import ipywidgets as W
import numpy as np
import torch

from .. import plots
from ..encode import encode_images, encode_texts
from ..model import ClipBundle
from ..similarity import similarity_matrix
from ..zeroshot import confusion_matrix, template_classifiers, zero_shot_classifier
from .base import App, Debounce, ImagePicker, LiveFigure, _lines


class CaptionProbe(App):
    """Start here: pick an image, write candidate captions, see the probability of each.

    bundle: a ClipBundle. images: {name: PIL image or (3, H, W) tensor in [0, 1]}.
    captions: the initial candidates, one per line in the text area.
    settings: settings text from another CaptionProbe's "copy settings" (the image and the captions).
    The probabilities are a softmax over the captions of logit_scale * cosine, as CLIP does.
    """

    def __init__(self, bundle: ClipBundle, images: dict, captions: Sequence[str], settings: str | None = None):
        self.bundle = bundle
        self.picker = ImagePicker(images)
        self.captions = W.Textarea(value="\n".join(captions), description="captions",
                                   layout=W.Layout(width="420px", height="170px"))
        self.captions.add_class("clipviz-prompt")
        self.chart = LiveFigure(plots.probability_bars([1.0], ["..."]))
        self.readout = W.HTML()  # the answer in words, beside the bars
        self._image_cache: dict = {}
        refresh = self.guarded(self.refresh)
        self.picker.dropdown.observe(lambda change: refresh(), "value")
        self.captions.observe(Debounce(lambda change: refresh()), "value")
        help_text = W.HTML("<i>One caption per line. The bars are CLIP's answer to "
                           "&ldquo;which caption goes with this image?&rdquo;</i>")
        super().__init__([W.HBox([self.picker, W.VBox([self.captions, help_text])]), self.chart.widget, self.readout],
                         state={"image": self.picker.dropdown, "captions": self.captions}, figure=self.chart)
        refresh()
        self.apply_settings(settings)

    def probabilities(self) -> tuple[list[str], torch.Tensor]:
        """The current captions and their probabilities for the chosen image."""
        captions = _lines(self.captions.value)
        if not captions:
            raise ValueError("there are no captions: write at least one, one per line")
        name = self.picker.dropdown.value
        if name not in self._image_cache:
            self._image_cache[name] = encode_images(self.bundle, self.picker.batch())
        scale = min(self.bundle.model.logit_scale.exp().item(), 100.0)
        probs = (scale * similarity_matrix(self._image_cache[name], encode_texts(self.bundle, captions))).softmax(-1)
        return captions, probs[0]

    def refresh(self) -> None:
        captions, probs = self.probabilities()
        best = int(probs.argmax())
        fresh = plots.probability_bars(probs, captions, highlight=best,
                                       title=f"CLIP's guess: “{html.escape(captions[best])}”")
        self.chart.replace(fresh)
        ranked = probs.argsort(descending=True).tolist()[:3]
        self.readout.value = "<b>CLIP's answer:</b> " + ", then ".join(
            f"“{html.escape(captions[i])}” {float(probs[i]):.0%}" for i in ranked)


class PromptEffects(App):
    """How the wording of a prompt changes CLIP's probabilities.

    bundle: a ClipBundle. images: {name: image}. labels: class names to choose between.
    templates: prompt templates with "{}" for the label; one more empty box is left
    for the student's own. Shows, for the chosen image, the probability of each label
    under each template, and under their ensemble (the mean of the template embeddings).
    test_images, test_targets: optionally a test set, (N, 3, H, W) in [0, 1] and N indices
    into `labels`; then a table scores every prompt, and the ensemble, on all N images,
    again each time a prompt changes.
    settings: settings text from another PromptEffects' "copy settings" (image, prompts, scale, ensemble).
    """

    def __init__(self, bundle: ClipBundle, images: dict, labels: Sequence[str],
                 templates: Sequence[str] = ("a photo of a {}", "an image of a {}", "{}"),
                 test_images: torch.Tensor | None = None, test_targets: Sequence[int] | None = None,
                 settings: str | None = None):
        if (test_images is None) != (test_targets is None):
            raise ValueError("give test_images and test_targets together (images and the label index of each), "
                             "or neither")
        self.bundle, self.labels = bundle, list(labels)
        self.test_emb = encode_images(bundle, test_images) if test_images is not None else None  # (N, D), once
        self.test_targets = list(test_targets) if test_targets is not None else None
        self.scores = W.HTML()
        self.picker = ImagePicker(images)
        self.boxes = [W.Text(value=t, description=f"prompt {i + 1}", continuous_update=False)
                      for i, t in enumerate(list(templates) + ["my own prompt: {}"])]
        for box in self.boxes:
            box.add_class("clipviz-prompt")
        self.scale = W.FloatLogSlider(value=min(bundle.model.logit_scale.exp().item(), 100.0), base=10, min=0,
                                      max=2, step=0.05, description="logit scale")
        self.ensemble = W.Checkbox(value=True, description="show the ensemble of all prompts",
                                   layout=W.Layout(width="auto"))  # the whole label visible, not cut short
        self.chart = LiveFigure(plots.grouped_bars([[1.0]], ["..."], ["..."]))
        self.readout = W.HTML()  # each prompt's winning label, in words
        self._image_cache: dict = {}
        refresh = self.guarded(self.refresh)
        for control in self.boxes + [self.scale, self.ensemble, self.picker.dropdown]:
            control.observe(lambda change: refresh(), "value")
        state = {"image": self.picker.dropdown, **{f"prompt {i + 1}": box for i, box in enumerate(self.boxes)},
                 "scale": self.scale, "ensemble": self.ensemble}
        warning = ([W.HTML(f"<b>{html.escape(bundle.name)} with random weights</b> (no pretrained weights were "
                           f"loaded): these probabilities show that the app runs, not what CLIP does.")]
                   if bundle.pretrained is None and not bundle.name.startswith("clipviz") else [])
        super().__init__(warning + [W.HBox([self.picker, W.VBox(self.boxes + [self.scale, self.ensemble])]),
                          W.HTML("<i>Edit a prompt and press Enter. {} marks where the label goes.</i>"),
                          self.chart.widget, self.readout, self.scores], state=state, figure=self.chart)
        refresh()
        self.apply_settings(settings)

    def templates(self) -> list[str]:
        out = [box.value.strip() for box in self.boxes if box.value.strip()]
        if not out:
            raise ValueError("every prompt box is empty: write at least one prompt such as 'a photo of a {}'")
        for t in out:
            if "{}" not in t:
                raise ValueError(f"the prompt {t!r} needs a {{}} where the label goes, e.g. 'a photo of a {{}}'")
        return out

    def probabilities(self) -> tuple[list[str], torch.Tensor]:
        """(series names, (S, C) probabilities): one row per template, then the ensemble."""
        templates = list(dict.fromkeys(self.templates()))  # a prompt typed twice counts once
        name = self.picker.dropdown.value
        if name not in self._image_cache:
            self._image_cache[name] = encode_images(self.bundle, self.picker.batch())
        classifiers = template_classifiers(self.bundle, self.labels, templates, ensemble=self.ensemble.value)
        names = [t if t != "ensemble" else "ensemble of all prompts" for t in classifiers]
        probs = torch.cat([c.probs(self._image_cache[name], self.scale.value) for c in classifiers.values()])  # (S, C)
        return names, probs

    def test_accuracy(self) -> dict[str, float]:
        """{prompt or "ensemble of all prompts": top-1 accuracy on the test set}; {} without a test set."""
        if self.test_emb is None:
            return {}
        templates = list(dict.fromkeys(self.templates()))
        classifiers = template_classifiers(self.bundle, self.labels, templates, ensemble=len(templates) > 1)
        return {t if t != "ensemble" else "ensemble of all prompts": c.accuracy(self.test_emb, self.test_targets)
                for t, c in classifiers.items()}

    def refresh(self) -> None:
        names, probs = self.probabilities()
        self.chart.replace(plots.grouped_bars(probs, names, self.labels,
                                              title="probability of each label, by prompt wording"))
        winners = [(name, int(row.argmax()), float(row.max())) for name, row in zip(names, probs)]
        self.readout.value = "<b>most probable label</b><br>" + "<br>".join(
            f"{html.escape(name)}: <b>{html.escape(self.labels[k])}</b> {p:.0%}" for name, k, p in winners)
        scores = self.test_accuracy()
        if scores:
            rows = "".join(f"<tr><td>{html.escape(name)}</td><td style='text-align:right'>{acc:.1%}</td></tr>"
                           for name, acc in scores.items())
            self.scores.value = (f"<b>accuracy on {len(self.test_targets)} test images</b>"
                                 f"<table>{rows}</table>")


class ZeroShotExplorer(App):
    """A zero-shot classifier of shapes-world images, steered by hand: what does it mistake for what?

    bundle: a ClipBundle. world: the ShapesWorld to draw test images from.
    n: images per (compositions, style) choice; each set is encoded once and kept.
    Controls: the label set (a kind of `ImageTextPairs.labels`), the prompt template (Enter applies
    it), the drawing style (photo or sketch) and the compositions tested (seen in training,
    or held out). Every change rebuilds the classifier from words alone
    (`zero_shot_classifier`); the readout gives its accuracy beside chance, and the
    confusion matrix shows which labels it mistakes for which.
    settings: settings text from another ZeroShotExplorer's "copy settings".
    """

    TEMPLATES = {"colour shape": "a {}", "shape": "a {}", "colour": "a {} shape"}  # label set -> first template
    SPLITS = {"held-out compositions": "heldout", "seen compositions": "test"}  # button -> ShapesWorld split

    def __init__(self, bundle: ClipBundle, world, n: int = 300, settings: str | None = None):
        self.bundle, self.world, self.n = bundle, world, n
        self.kind = W.ToggleButtons(options=list(self.TEMPLATES), value="colour shape", description="labels")
        self.template = W.Text(value=self.TEMPLATES["colour shape"], description="template", continuous_update=False)
        self.template.add_class("clipviz-prompt")
        self.style = W.ToggleButtons(options=["photo", "sketch"], value="photo", description="style")
        self.split = W.ToggleButtons(options=list(self.SPLITS), value="held-out compositions", description="images")
        self.readout = W.HTML()
        self.chart = LiveFigure(plots.confusion_heatmap(np.zeros((1, 1)), ["..."]))
        self._encoded: dict = {}  # (split, style) -> (ImageTextPairs, (n, D) image embeddings)
        self._refresh = self.guarded(self.refresh)
        self.kind.observe(self._choose_kind, "value")
        for control in (self.template, self.style, self.split):
            control.observe(lambda change: self._refresh(), "value")
        hint = W.HTML("<i>{} marks where the label goes; press Enter to apply.</i>")
        state = {"labels": self.kind, "template": self.template, "style": self.style, "images": self.split}
        super().__init__([self.kind, W.HBox([self.template, hint]), self.style, self.split, self.readout,
                          self.chart.widget], state=state, figure=self.chart)  # labels first: it resets the template
        self._refresh()
        self.apply_settings(settings)

    def _choose_kind(self, change) -> None:
        """A new label set starts from its own template (setting the box refreshes the figure)."""
        template = self.TEMPLATES[change["new"]]
        if self.template.value != template:
            self.template.value = template
        else:
            self._refresh()

    def evaluate(self) -> tuple[list[str], list[int], list[int], float]:
        """(labels, true classes, predicted classes, accuracy) under the current controls."""
        key = (self.SPLITS[self.split.value], self.style.value)
        if key not in self._encoded:
            data = self.world.dataset(key[0], self.n, key[1])
            self._encoded[key] = (data, encode_images(self.bundle, data.images))
        data, image_emb = self._encoded[key]  # ImageTextPairs, (n, D)
        labels, targets = data.labels(self.kind.value)
        classifier = zero_shot_classifier(self.bundle, labels, [self.template.value.strip()])
        predictions = classifier.predict_index(image_emb).tolist()  # (n,) class indices
        return labels, targets, predictions, classifier.accuracy(image_emb, targets)

    def refresh(self) -> None:
        labels, targets, predictions, accuracy = self.evaluate()
        matrix = confusion_matrix(targets, predictions, len(labels))  # (C, C) counts
        wrong = matrix * (1 - torch.eye(len(labels), dtype=matrix.dtype))  # the mistakes: off the diagonal
        true, guessed = divmod(int(wrong.argmax()), len(labels))
        mistake = (f"most common mistake: {html.escape(labels[true])} taken for {html.escape(labels[guessed])} "
                   f"({int(wrong[true, guessed])} times)" if wrong.sum() else "no mistakes")
        self.readout.value = (f"<b>accuracy</b> {accuracy:.0%} on {len(targets)} {self.style.value} images of "
                              f"{self.split.value} &nbsp;|&nbsp; chance: {1 / len(labels):.0%} "
                              f"({len(labels)} labels) &nbsp;|&nbsp; {mistake}")
        template = html.escape(self.template.value, quote=False)  # plotly titles read a little HTML
        title = f"{self.style.value} images, {self.split.value}, “{template}”"
        self.chart.replace(plots.confusion_heatmap(matrix, labels, title=title))
