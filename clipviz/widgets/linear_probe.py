"""LinearProbeExplorer (chapter 05): how many labelled pictures per class match a classifier made of words?"""
from __future__ import annotations

import html

import ipywidgets as W

from .. import plots
from ..probe import ProbeCurve
from .base import App, LiveFigure


class LinearProbeExplorer(App):
    """A probe.ProbeCurve with k on a slider: the k-shot probe's accuracy beside the zero-shot classifier's.

    curve: from probe.probe_curve (computed once; moving the slider only reads it).
    settings: settings text from another LinearProbeExplorer's "copy settings".
    """

    def __init__(self, curve: ProbeCurve, settings: str | None = None):
        self.curve = curve
        self.shots = W.SelectionSlider(options=list(curve.shots), value=curve.shots[0],
                                       description="labelled pictures per class (k)",
                                       style={"description_width": "initial"}, layout=W.Layout(width="420px"))
        self.readout = W.HTML()
        self.chart = LiveFigure(plots.probe_curve(curve, marked=curve.shots[0]))
        self._refresh = self.guarded(self.refresh)
        self.shots.observe(lambda change: self._refresh(), "value")
        super().__init__([self.shots, self.readout, self.chart.widget], state={"shots": self.shots}, figure=self.chart)
        self._refresh()
        self.apply_settings(settings)

    def refresh(self) -> None:
        k, curve = self.shots.value, self.curve
        i = curve.shots.index(k)
        rows = []
        for split, name in (("seen", "seen compositions"), ("heldout", "held-out compositions")):
            probe, words = curve.probe[split][i], curve.zero_shot[split]
            match = curve.shots_to_match(split)
            needs = f"the probe matches it from k = {match}" if match else "no k tried here matches it"
            rows.append(f"<li>{name}: probe with k = {k}: <b>{probe:.0%}</b>; zero-shot from words: "
                        f"<b>{words:.0%}</b> ({html.escape(needs)})</li>")
        self.readout.value = "<ul style='margin:0'>" + "".join(rows) + "</ul>"
        self.chart.replace(plots.probe_curve(curve, marked=k))
