"""The zero-shot explorer of chapter 5: its controls rebuild the classifier and redraw the confusion matrix."""
import numpy as np

from clipviz import widgets


def test_label_set_template_and_style_drive_the_confusion_matrix(trained, world):
    app = widgets.ZeroShotExplorer(trained[0], world, n=40)
    assert "clipviz-prompt" in app.template._dom_classes
    z = np.asarray(app.chart.figure.data[0].z)
    assert z.shape == (30, 30) and z.sum() == 40  # every held-out image counted once
    app.kind.value = "colour"
    assert app.template.value == app.TEMPLATES["colour"]  # a new label set starts from its own template
    assert np.asarray(app.chart.figure.data[0].z).shape == (6, 6)
    photos = np.asarray(app.chart.figure.data[0].z)
    app.style.value = "sketch"
    assert "sketch" in app.readout.value and not np.array_equal(np.asarray(app.chart.figure.data[0].z), photos)


def test_a_template_without_a_slot_is_reported_and_the_app_recovers(trained, world):
    app = widgets.ZeroShotExplorer(trained[0], world, n=20)
    app.template.value = "a shape"
    assert "needs a '{}'" in app.message.value.replace("&#x27;", "'")
    app.template.value = "a photo of a {}"
    assert app.message.value == "" and "photo of a" in app.chart.figure.layout.title.text
