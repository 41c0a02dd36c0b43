"""The contrastive diagonal (chapter 03): a batch's similarity matrix, its two softmaxes and the loss."""
from __future__ import annotations

import ipywidgets as W
import numpy as np
import torch

from .. import plots
from ..captions import alt_text
from ..data import false_negatives
from ..encode import encode_images, encode_texts
from ..loss import contrastive_loss
from ..model import ClipBundle
from ..similarity import diagonal_stats, similarity_matrix
from .base import App, LiveFigure


class ContrastiveExplorer(App):
    """The N x N similarity matrix of a batch, its row and column softmaxes, and the loss.

    bundle: a ClipBundle. data: a shapes-world ImageTextPairs to draw the batch from.
    Controls: batch size N, the logit scale (1 / temperature), which matrix to view,
    shuffling the captions (the diagonal vanishes), duplicate captions and alt-text captions
    (both make false negatives: wrong-by-position cells whose caption is true of the picture,
    counted in the readout).
    settings: settings text from another ContrastiveExplorer's "copy settings".
    """

    VIEWS = ("cosine similarity", "row softmax: image → caption", "column softmax: caption → image")

    def __init__(self, bundle: ClipBundle, data, n: int = 8, settings: str | None = None):
        self.bundle, self.data = bundle, data
        self.n = W.IntSlider(value=n, min=2, max=min(32, len(data)), description="batch N")
        scale = min(bundle.model.logit_scale.exp().item(), 100.0)
        self.scale = W.FloatLogSlider(value=scale, base=10, min=0, max=2, step=0.05, description="logit scale")
        self.view = W.ToggleButtons(options=self.VIEWS, value=self.VIEWS[0], description="view",
                                    style={"button_width": "auto"})
        self.shuffle = W.Checkbox(value=False, description="shuffle the captions", layout=W.Layout(width="auto"))
        self.duplicates = W.Checkbox(value=False, description="duplicate captions (false negatives)",
                                     layout=W.Layout(width="auto"))
        self.alt_text = W.Checkbox(value=False, description="alt-text captions, as in training",
                                   layout=W.Layout(width="auto"))
        rng = np.random.default_rng(0)  # one training-style caption per picture, drawn once
        self._alt = [alt_text(a, rng) for a in data.attributes[:self.n.max]]  # [(caption, what it says)]
        self.false_negatives = 0  # in the batch shown: off-diagonal cells whose caption is true of the picture
        self.readout = W.HTML()
        self.chart = LiveFigure(plots.similarity_heatmap(torch.eye(2)))
        refresh = self.guarded(self.refresh)
        for control in (self.n, self.scale, self.view, self.shuffle, self.duplicates, self.alt_text):
            control.observe(lambda change: refresh(), "value")
        state = {"N": self.n, "scale": self.scale, "view": self.view, "shuffle": self.shuffle,
                 "duplicates": self.duplicates, "alt text": self.alt_text}
        super().__init__([W.HBox([self.n, self.scale]), W.HBox([self.shuffle, self.duplicates, self.alt_text]),
                          self.view, self.readout, self.chart.widget], state=state, figure=self.chart)
        refresh()
        self.apply_settings(settings)

    def batch(self) -> tuple[torch.Tensor, list[str], list[str]]:
        """The batch as the controls ask: images (N, 3, H, W), captions, and a label naming each image row."""
        n = self.n.value
        images, captions = self.data.images[:n].clone(), list(self.data.captions[:n])
        shows, says = list(self.data.attributes[:n]), list(self.data.mentions[:n])  # per image; per caption
        if self.alt_text.value:
            captions, says = map(list, zip(*self._alt[:n]))
        rows = [f"{i}: {c}" for i, c in enumerate(captions)]
        if self.duplicates.value:  # every odd item becomes another picture of the item before it, same caption
            world = self.data.world
            for i in range(1, n, 2):
                a = shows[i] = shows[i - 1]
                images[i] = world.render([a], self.data.styles[i - 1], np.random.default_rng(i))[0]
                captions[i], says[i] = captions[i - 1], says[i - 1]
                rows[i] = f"{i}: {captions[i]} (again)"  # the row shows item i-1's scene, drawn anew
        if self.shuffle.value:
            order = torch.randperm(n, generator=torch.Generator().manual_seed(n))
            captions, says = [captions[j] for j in order], [says[j] for j in order]
        self.false_negatives = false_negatives(shows, says)
        return images, captions, rows

    def refresh(self) -> None:
        images, captions, rows = self.batch()
        img, txt = encode_images(self.bundle, images), encode_texts(self.bundle, captions)  # (N, D) each
        cos = similarity_matrix(img, txt)  # (N, N)
        parts = contrastive_loss(img, txt, self.scale.value)
        view = self.VIEWS.index(self.view.value)
        z = [cos, parts.logits.softmax(dim=1), parts.logits.softmax(dim=0)][view]
        stats = diagonal_stats(cos)
        self.readout.value = (f"<b>loss</b> {parts.total.item():.3f} = mean of image→text "
                              f"{parts.image_to_text.item():.3f} and text→image {parts.text_to_image.item():.3f}"
                              f" &nbsp;|&nbsp; chance level ln N = {torch.log(torch.tensor(float(len(cos)))):.3f}"
                              f" &nbsp;|&nbsp; mean cosine: diagonal {stats.diagonal:.3f}, "
                              f"off-diagonal {stats.off_diagonal:.3f}"
                              f" &nbsp;|&nbsp; <b>false negatives</b> {self.false_negatives} "
                              f"(off-diagonal captions true of their picture)")
        self.chart.replace(plots.similarity_heatmap(
            z, rows, captions, thumbnails=list(images) if len(images) <= 16 else None, title=self.view.value,
            zmin=0 if view else None, zmax=1 if view else None,
            colorbar_title="cosine" if view == 0 else "probability"))
