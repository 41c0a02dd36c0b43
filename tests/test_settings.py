"""Shareable settings and figure export, in every app: change controls, copy the settings, restore them elsewhere.

`build(name, ...)` makes each app of clipviz.widgets small and fast (an untrained tiny CLIP, a few images);
tests/test_a11y_widgets.py and tests/test_plots_palette.py build their apps with it too.
"""
import html
import importlib.util
import re

import plotly.graph_objects as go
import pytest
from plotly.io.json import to_json_plotly

from clipviz import widgets
from clipviz.widgets.share import SETTINGS_VERSION, encode_settings

APPS = ["CaptionProbe", "PromptEffects", "ZeroShotExplorer", "ToyEmbeddings", "EmbeddingMap", "ContrastiveExplorer",
        "TrainingDashboard", "BindingExplorer", "HardNegativeDashboard", "LinearProbeExplorer"]
CHANGES = {  # app -> {setting: a value other than the app's first}; cheap to redraw
    "CaptionProbe": {"image": "image 2", "captions": "a green square\na yellow cross"},
    "PromptEffects": {"image": "image 1", "prompt 2": "a drawing of a {}", "scale": 3.0, "ensemble": False},
    "ZeroShotExplorer": {"labels": "colour", "template": "a {} thing", "style": "sketch",
                         "images": "seen compositions"},  # labels resets the template: the order matters
    "ToyEmbeddings": {"house x": -1.5, "car 2 y": 0.3, "normalise": True},
    "EmbeddingMap": {"dims": 3, "colour": "colour", "pairs": False},
    "ContrastiveExplorer": {"N": 4, "scale": 5.0, "view": widgets.ContrastiveExplorer.VIEWS[1], "shuffle": True,
                            "duplicates": True, "alt text": True},
    "TrainingDashboard": {"preset": "small", "batch size": 64, "learning rate": 0.01, "steps": 120,
                          "learn temperature": False, "skip false negatives": False, "sketches": 0.5,
                          "black and white": 0.3},
    "BindingExplorer": {"left": "triangle", "left colour": "green", "image 2": "shapes",  # the scene resets ...
                        "caption 1": "a green triangle and a blue circle"},  # ... the captions: order matters
    "HardNegativeDashboard": {"steps": 50, "hard negatives": 32},
    "LinearProbeExplorer": {"shots": 4},
}


@pytest.fixture(scope="session")
def two_objects():
    from clipviz.binding import TwoObjectWorld
    return TwoObjectWorld(seed=0)


def build(name, bundle, world, two_objects, settings=None):
    """A small `name` app on `bundle` (a ClipBundle), restored from `settings` if given."""
    from clipviz.probe import ProbeCurve
    from clipviz.widgets.binding import BindingExplorer, HardNegativeDashboard
    data = world.dataset("test", 16)
    curve = ProbeCurve([1, 2, 4], {"seen": [0.2, 0.5, 0.9], "heldout": [0.1, 0.4, 0.8]}, {"seen": 0.7, "heldout": 0.6})
    images = {f"image {i}": data.images[i] for i in range(4)}
    make = {
        "CaptionProbe": lambda: widgets.CaptionProbe(bundle, images, ["a red star", "a blue circle"],
                                                     settings=settings),
        "PromptEffects": lambda: widgets.PromptEffects(bundle, images, ["circle", "star"], settings=settings),
        "ZeroShotExplorer": lambda: widgets.ZeroShotExplorer(bundle, world, n=12, settings=settings),
        "ToyEmbeddings": lambda: widgets.ToyEmbeddings(settings=settings),
        "EmbeddingMap": lambda: widgets.EmbeddingMap(bundle, data.subset(slice(0, 10)), settings=settings),
        "ContrastiveExplorer": lambda: widgets.ContrastiveExplorer(bundle, data, n=6, settings=settings),
        "TrainingDashboard": lambda: widgets.TrainingDashboard(world, n=100, settings=settings),
        "BindingExplorer": lambda: BindingExplorer({"plain": bundle}, two_objects, settings=settings),
        "HardNegativeDashboard": lambda: HardNegativeDashboard(two_objects, n=60, settings=settings),
        "LinearProbeExplorer": lambda: widgets.LinearProbeExplorer(curve, settings=settings),
    }
    return make[name]()


def values(app) -> dict:
    return {key: control.value for key, control in app.state.items()}


def note(app) -> str:
    """The share bar's note as plain text (what the student reads)."""
    return html.unescape(app.share_note.value)


@pytest.fixture(params=APPS)
def name(request):
    return request.param


def test_every_app_of_the_package_is_covered():
    from clipviz.widgets import binding
    apps = {n for n in widgets.__all__ if isinstance(getattr(widgets, n), type) and issubclass(getattr(widgets, n),
                                                                                             widgets.App)}
    apps |= {n for n in dir(binding) if isinstance(getattr(binding, n), type) and issubclass(getattr(binding, n),
                                                                                              widgets.App)}
    assert apps - {"App"} == set(APPS) == set(CHANGES)


def test_settings_round_trip(name, untrained, world, two_objects):
    app = build(name, untrained, world, two_objects)
    first = values(app)
    for key, value in CHANGES[name].items():
        app.state[key].value = value
    changed = values(app)
    assert changed != first and app.message.value == ""
    text = app.copy_settings()
    assert app.settings_box.value == text and text.startswith(f"clipviz:{name}:v{SETTINGS_VERSION}:")
    assert "copy" in note(app).lower()

    restored = build(name, untrained, world, two_objects, settings=text)  # passed to the constructor
    assert values(restored) == changed and restored.message.value == ""
    assert note(restored) == "Settings applied."

    pasted = build(name, untrained, world, two_objects)  # pasted into the box, then "apply settings"
    pasted.settings_box.value = "  " + text[:40] + "\n" + text[40:] + " "  # as a paste may break it
    pasted.apply_button.click()
    assert values(pasted) == changed and pasted.message.value == ""


def test_the_settings_redraw_the_figure(untrained, world, two_objects):
    app = build("CaptionProbe", untrained, world, two_objects)
    app.captions.value = "a green square\na yellow cross\na purple triangle"
    restored = build("CaptionProbe", untrained, world, two_objects, settings=app.settings())
    assert list(restored.chart.figure.data[0].y) == ["a green square", "a yellow cross", "a purple triangle"]


def test_bad_settings_leave_the_app_as_it_was_and_say_why(name, untrained, world, two_objects):
    app = build(name, untrained, world, two_objects)
    before = values(app)
    some_key = next(iter(app.state))
    other = "ToyEmbeddings" if name != "ToyEmbeddings" else "CaptionProbe"
    bad = {
        "hello world": "not clipviz settings text",
        f"clipviz:{name}:v{SETTINGS_VERSION}:%%%not-base64": "damaged",
        f"clipviz:{name}:v{SETTINGS_VERSION}:" + "eyJhIjox"[:-2]: "damaged",  # cut short
        encode_settings(other, {"normalise": True}): f"settings of the {other} app",
        encode_settings(name, {some_key: before[some_key]}, version=SETTINGS_VERSION + 1): "newer clipviz",
        encode_settings(name, {some_key: before[some_key]}, version=0): "older clipviz",
        encode_settings(name, {"no such control": 1}): "has no setting 'no such control'",
        encode_settings(name, {some_key: [1, 2]}): "nothing was changed",
        encode_settings(name, ["not", "a", "dict"]): "damaged",
    }
    for text, why in bad.items():
        assert app.apply_settings(text) is False, text
        assert why in note(app) and "Settings not applied" in note(app), (text, note(app))
        assert values(app) == before
    restored = build(name, untrained, world, two_objects, settings="garbage")  # never raises into the notebook
    assert "not clipviz settings text" in note(restored) and values(restored) == before


def test_values_a_control_cannot_take_are_refused_before_anything_changes(untrained, world, two_objects):
    app = build("ContrastiveExplorer", untrained, world, two_objects)
    before = values(app)
    for state, why in [({"shuffle": True, "N": 1000}, "outside 2 ... 16"),
                       ({"shuffle": True, "N": 4.5}, "whole number"),
                       ({"shuffle": True, "scale": 1000.0}, "outside 1 ... 100"),
                       ({"view": "sideways"}, "is not one of"), ({"shuffle": "yes"}, "should be bool"),
                       ({"N": True}, "whole number")]:
        assert not app.apply_settings(encode_settings("ContrastiveExplorer", state))
        assert why in note(app) and values(app) == before  # shuffle stays off: nothing was set
    app = build("CaptionProbe", untrained, world, two_objects)
    assert not app.apply_settings(encode_settings("CaptionProbe", {"image": "yours: cat.jpg"}))
    assert "'image 0', 'image 1'" in note(app)  # lists the pictures it has


def test_save_figure_writes_a_page_that_works_offline(name, untrained, world, two_objects, tmp_path):
    app = build(name, untrained, world, two_objects)
    app.figure_file.value = str(tmp_path / "figure.html")
    app.save_figure_button.click()
    page = (tmp_path / "figure.html").read_text(encoding="utf-8")
    assert str(tmp_path / "figure.html") in note(app) and "Not saved" not in note(app)
    assert "plotly.js v" in page and not re.search(r"<script[^>]*src=", page)  # plotly.js inside, nothing fetched
    figure = go.Figure(app.saved_figure.figure)
    data = to_json_plotly(figure.to_dict()["data"]).replace("</", "<\\/")  # as plotly's writer puts it in a page
    assert figure.data and data in page  # the figure's traces, every number and label


def test_png_without_kaleido_says_so_and_writes_nothing(untrained, world, two_objects, tmp_path, monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "kaleido" else find_spec(n, *a))
    app = build("PromptEffects", untrained, world, two_objects)
    assert app.save_figure(str(tmp_path / "bars.png")) is None
    assert "kaleido" in note(app) and "save as .html" in note(app)
    assert not (tmp_path / "bars.png").exists()
    assert app.save_figure(str(tmp_path / "bars.pdf")) is None and "end the file name with .html" in note(app)
    app.figure_file.value = ""  # no name at all: a message too, not an exception
    app.save_figure_button.click()
    assert "Not saved" in note(app)


def test_the_file_name_defaults_to_the_notebooks_folder(untrained, world, two_objects, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a notebook's kernel runs in the notebook's folder
    app = build("ToyEmbeddings", untrained, world, two_objects)
    assert app.figure_file.value == "toy_embeddings.html"
    app.save_figure_button.click()
    assert (tmp_path / "toy_embeddings.html").is_file()
