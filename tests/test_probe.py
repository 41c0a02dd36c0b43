"""The linear probe of chapter 05: k labelled pictures per class against the classifier made of words."""
import pytest
import torch

import clipviz as cv
from clipviz import probe


def test_probe_learns_separable_embeddings_and_fails_on_noise():
    torch.manual_seed(0)
    centres = torch.nn.functional.normalize(torch.randn(5, 16), dim=-1)  # 5 classes, well apart
    targets = torch.arange(5).repeat(8)  # (40,)
    x = centres[targets] + 0.05 * torch.randn(40, 16)
    model = probe.fit_probe(x, targets)
    test_targets = torch.arange(5).repeat(20)
    assert probe.probe_accuracy(model, centres[test_targets] + 0.05 * torch.randn(100, 16), test_targets) > 0.95
    noise = probe.fit_probe(torch.randn(40, 16), targets)  # labels unrelated to the inputs
    assert probe.probe_accuracy(noise, torch.randn(100, 16), test_targets) < 0.5


def test_probe_curve_on_a_trained_model(trained, world):
    bundle = trained[0]
    curve = probe.probe_curve(bundle, world, shots=(1, 8), n_test=120, repeats=1)
    assert curve.shots == [1, 8] and len(curve.labels) == 30
    for split in ("seen", "heldout"):
        assert len(curve.probe[split]) == 2 and all(0 <= a <= 1 for a in curve.probe[split])
        assert curve.probe[split][1] > curve.probe[split][0]  # more labelled examples, a better probe
        assert curve.probe[split][1] > 3 / 30  # well above chance (1 in 30)
        k = curve.shots_to_match(split)
        assert k is None or curve.probe[split][curve.shots.index(k)] >= curve.zero_shot[split]


def test_shots_to_match_reads_the_curve():
    curve = probe.ProbeCurve([1, 2, 4], {"seen": [0.2, 0.5, 0.9]}, {"seen": 0.5})
    assert curve.shots_to_match("seen") == 2
    curve.zero_shot["seen"] = 0.95
    assert curve.shots_to_match("seen") is None


def test_probe_curve_refuses_no_shots(untrained, world):
    with pytest.raises(ValueError, match="labelled examples per class"):
        probe.probe_curve(untrained, world, shots=(0, 2))


def test_linear_probe_explorer_reads_the_curve_and_shares_k():
    curve = probe.ProbeCurve([1, 2, 4], {"seen": [0.2, 0.5, 0.9], "heldout": [0.1, 0.4, 0.8]},
                             {"seen": 0.7, "heldout": 0.6})
    app = cv.widgets.LinearProbeExplorer(curve)
    assert "k = 1" in app.readout.value and "20%" in app.readout.value and "70%" in app.readout.value
    app.shots.value = 4
    assert "90%" in app.readout.value and "matches it from k = 4" in app.readout.value
    assert app.chart.figure.layout.shapes[0].x0 == 4  # the chosen k is marked on the chart
    again = cv.widgets.LinearProbeExplorer(curve, settings=app.settings())
    assert again.shots.value == 4
