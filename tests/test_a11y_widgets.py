"""Every app, for a student on a screen reader or a keyboard: named controls, pictures with alt text, and the
key figures of each chart also printed as text. These check the widgets in Python; an axe-core scan of the
page in a browser checks what they render."""
import html
import re
from types import SimpleNamespace

import ipywidgets as W
import pytest
from test_settings import APPS, build, two_objects  # noqa: F401 (a fixture)

from clipviz.widgets.base import NAME_SLIDERS_JS, slider_names

DISPLAY_ONLY = (W.HTML, W.Label, W.HTMLMath)  # value widgets that show text and take no input


def descendants(widget):
    """The widget and every widget inside it, depth first."""
    yield widget
    for child in getattr(widget, "children", ()):
        yield from descendants(child)


def controls(app):
    return [w for w in descendants(app) if isinstance(w, (W.ValueWidget, W.Button)) and not isinstance(w, DISPLAY_ONLY)]


@pytest.fixture(params=APPS)
def app(request, untrained, world, two_objects):  # noqa: F811
    return build(request.param, untrained, world, two_objects)


def test_every_control_has_a_name_a_screen_reader_reads(app):
    found = controls(app)
    assert len(found) >= 5  # the app's own controls and the share bar's
    for control in found:
        name = control.description or getattr(control, "tooltip", None) or getattr(control, "description_tooltip", "")
        assert name.strip(), f"{type(app).__name__}: a {type(control).__name__} without a description"


def test_every_picture_has_alt_text(app):
    assert not [w for w in descendants(app) if isinstance(w, W.Image)]  # ipywidgets.Image cannot carry alt text
    for widget in descendants(app):
        if isinstance(widget, W.HTML):
            for tag in re.findall(r"<img\b[^>]*>", widget.value):
                alt = re.search(r'\balt="([^"]*)"', tag)
                assert alt and alt.group(1).strip(), f"{type(app).__name__}: an <img> without alt text"


def test_pictures_say_what_they_show(untrained, world, two_objects):  # noqa: F811
    probe = build("CaptionProbe", untrained, world, two_objects)
    assert 'alt="image 0"' in probe.picker.preview.value
    probe.picker.dropdown.value = "image 3"
    assert 'alt="image 3"' in probe.picker.preview.value

    binding = build("BindingExplorer", untrained, world, two_objects)
    assert 'alt="a red square left of a blue circle"' in binding.images[0].value
    assert 'alt="a blue square left of a red circle"' in binding.images[1].value  # its colours swapped

    space = build("EmbeddingMap", untrained, world, two_objects)
    trace = SimpleNamespace(customdata=list(range(20)))
    space._show_point(trace, SimpleNamespace(point_inds=[13]))  # a caption's point: item 3
    assert f'alt="{html.escape(space.data.captions[3])}"' in space.preview.value


def test_slider_handles_get_their_labels_names(untrained, world, two_objects):  # noqa: F811
    helper = slider_names()  # anywidget comes with plotly's FigureWidget
    assert helper is not None and helper._esm == NAME_SLIDERS_JS and "aria-label" in NAME_SLIDERS_JS
    toy, contrastive = build("ToyEmbeddings", untrained, world, two_objects), build("ContrastiveExplorer", untrained,
                                                                                   world, two_objects)
    probe = build("CaptionProbe", untrained, world, two_objects)
    assert helper in toy.children and helper in contrastive.children  # one for the page, in each app with sliders
    assert helper not in probe.children


def text(widget) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", widget.value))


def test_caption_probe_prints_its_answer(untrained, world, two_objects):  # noqa: F811
    app = build("CaptionProbe", untrained, world, two_objects)
    app.captions.value = "a green square\na yellow cross"
    bars = app.chart.figure.data[0]
    best = bars.y[max(range(2), key=lambda i: bars.x[i])]
    assert text(app.readout).startswith(f"CLIP's answer: “{best}” {max(bars.x):.0%}")


def test_prompt_effects_prints_each_prompts_winner(untrained, world, two_objects):  # noqa: F811
    app = build("PromptEffects", untrained, world, two_objects)
    app.boxes[1].value = "a drawing of a {}"
    lines = app.readout.value.split("<br>")[1:]
    assert len(lines) == len(app.chart.figure.data)
    for line, trace in zip(lines, app.chart.figure.data):  # "prompt: <b>label</b> 61%", as the bars say
        k = max(range(len(trace.y)), key=lambda i: trace.y[i])
        assert html.unescape(line) == f"{trace.name}: <b>{trace.x[k]}</b> {trace.y[k]:.0%}"


def test_zero_shot_explorer_names_its_commonest_mistake(untrained, world, two_objects):  # noqa: F811
    app = build("ZeroShotExplorer", untrained, world, two_objects)
    assert "accuracy" in text(app.readout) and "taken for" in text(app.readout)  # untrained: mistakes abound
    app.kind.value = "colour"
    assert "(6 labels)" in text(app.readout)


def test_binding_explorer_prints_each_models_verdicts(untrained, world, two_objects):  # noqa: F811
    app = build("BindingExplorer", untrained, world, two_objects)
    assert text(app.readout).startswith("plain: text score ")
    assert "group score" in text(app.readout)


def test_a_notebooks_pictures_carry_their_captions(world):
    import clipviz as cv
    pairs = world.dataset("heldout", 3, style="sketch")
    page = pairs.show(0, 2)._repr_html_()
    alts = [html.unescape(a) for a in re.findall(r'<img [^>]*alt="([^"]*)"', page)]
    assert alts == [pairs.captions[0], pairs.captions[2]]  # read aloud, in order
    shown = [html.unescape(c) for c in re.findall(r"<figcaption[^>]*>([^<]*)</figcaption>", page)]
    assert shown == alts  # and printed under each picture for everyone
    assert re.search(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]{100,}"', page)
    with pytest.raises(IndexError, match="has 3 pairs"):
        pairs.show(3)
    with pytest.raises(ValueError, match="alt text"):
        cv.Pictures([pairs.images[0]], [])


def test_no_chapter_shows_a_picture_without_alt_text():
    """A PIL image left for JupyterLab's own renderer has no alt text: chapters show pictures with .show()."""
    import json
    from pathlib import Path
    bare = re.compile(r"(display\([^)]*to_pil\(|^\s*\S+\.to_pil\([^)]*\)(\.resize\([^)]*\))?\s*$)", re.M)
    found = []
    for path in sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb")):
        for i, cell in enumerate(json.loads(path.read_text())["cells"]):
            if cell["cell_type"] == "code" and bare.search("".join(cell["source"])):
                found.append(f"{path.name} cell {i}")
    assert not found, f"pictures shown without alt text (use pairs.show(i) or cv.Pictures): {found}"
