"""Every figure's colours come from the colour-blind-safe palette (clipviz/palette.py), and no series is told
apart by colour alone: checked on the figures' data, in plots.py and in every app."""
import numpy as np
import plotly.colors
import pytest
import torch
from test_settings import APPS, build, two_objects  # noqa: F401 (a fixture)

from clipviz import palette, plots

ALLOWED = set(palette.CATEGORICAL) | set(palette.WORLD.values())
UNIFORM = {name: getattr(plotly.colors.sequential, name) for name in ("Viridis", "Cividis", "Blues")}


def colours(trace) -> list[str]:
    """Every colour a trace sets for its markers, lines and their outlines."""
    found = []
    for part in (getattr(trace, "marker", None), getattr(trace, "line", None)):
        for value in (getattr(part, "color", None), getattr(getattr(part, "line", None), "color", None)):
            if value is not None:
                found += [value] if isinstance(value, str) else list(value)
    return found


def check_palette(fig):
    """Every categorical colour of `fig` from the palette; every trace coloured explicitly; heatmaps on a
    perceptually uniform scale; plotly's default colour cycle replaced by the palette."""
    assert tuple(fig.layout.template.layout.colorway) == palette.CATEGORICAL
    for trace in fig.data:
        if trace.type == "heatmap":
            scale = [colour for _, colour in trace.colorscale]
            assert scale in [list(uniform) for uniform in UNIFORM.values()], f"{scale} is not Viridis, Cividis, Blues"
            continue
        found = colours(trace)
        assert found, f"the {trace.type} trace {trace.name!r} takes plotly's default colour"
        assert set(found) <= ALLOWED, f"{trace.name!r}: {set(found) - ALLOWED} are not palette colours"


def test_every_plot_function_draws_in_the_palette():
    sim = torch.rand(4, 5)
    figures = [plots.similarity_heatmap(sim, thumbnails=[torch.rand(3, 8, 8)] * 4),
               plots.probability_bars([0.7, 0.2, 0.1], ["a", "b", "c"], highlight=0),
               plots.grouped_bars(np.random.rand(9, 3), [f"prompt {s}" for s in range(9)], ["x", "y", "z"]),
               plots.training_figure(),
               plots.embedding_scatter(np.random.rand(8, 2), ["image"] * 4 + ["text"] * 4, ["h"] * 8,
                                       pairs=[(0, 4)], centroids=True),
               plots.embedding_scatter(np.random.rand(8, 3), ["image"] * 4 + ["text"] * 4, ["h"] * 8,
                                       groups=["red", "blue", "star", "red"] * 2, centroids=True),
               plots.confusion_heatmap(np.eye(3), ["a", "b", "c"]),
               plots.vector_plot({"house": (1, 0), "car": (0, 1)}),
               plots.winoground_heatmaps({"m": torch.eye(2)}, {"m": {"text_score": 1.0}}, ["c1", "c2"])]
    for fig in figures:
        check_palette(fig)


@pytest.mark.parametrize("name", APPS)
def test_every_apps_figure_draws_in_the_palette(name, untrained, world, two_objects):  # noqa: F811
    app = build(name, untrained, world, two_objects)
    check_palette(app.saved_figure.figure)


def test_seen_and_held_out_curves_differ_in_dash_and_marker_too():
    seen, heldout = plots.training_figure().data[1:3]
    assert (seen.name, heldout.name) == ("seen", "held-out")
    assert seen.line.color != heldout.line.color
    assert seen.line.dash != heldout.line.dash and seen.marker.symbol != heldout.marker.symbol


def test_nine_prompts_get_nine_distinct_bars():
    fig = plots.grouped_bars(np.random.rand(9, 4), [f"prompt {s}" for s in range(9)], list("abcd"))
    looks = [(trace.marker.color, trace.marker.pattern.shape) for trace in fig.data]
    assert len(set(looks)) == 9  # past the palette's eight colours, a hatching tells the ninth apart
    assert [colour for colour, _ in looks[:8]] == list(palette.CATEGORICAL)


def test_a_series_named_after_a_world_colour_is_drawn_in_it():
    fig = plots.grouped_bars(np.random.rand(3, 2), ["blue", "ensemble", "red"], ["a", "b"])
    assert fig.data[0].marker.color == palette.WORLD["blue"] and fig.data[2].marker.color == palette.WORLD["red"]
    assert fig.data[1].marker.color not in (palette.WORLD["blue"], palette.WORLD["red"])


def test_the_chosen_bar_differs_by_outline_not_colour_alone():
    bars = plots.probability_bars([0.2, 0.7, 0.1], ["a", "b", "c"], highlight=1).data[0]
    assert bars.marker.color[1] != bars.marker.color[0] and bars.marker.line.width[1] > bars.marker.line.width[0]


def test_vectors_differ_by_symbol_too():
    fig = plots.vector_plot({"house": (1, 0), "car 1": (0, 1), "car 2": (1, 1)}, unit_circle=False)
    assert len({trace.marker.symbol for trace in fig.data}) == 3 and len({trace.line.color for trace in fig.data}) == 3


def test_the_embedding_map_colours_a_group_alike_in_both_modalities(untrained, world, two_objects):  # noqa: F811
    app = build("EmbeddingMap", untrained, world, two_objects)
    points = lambda: {trace.name: trace.marker for trace in app.chart.figure.data if trace.mode == "markers"}
    by_kind = points()
    assert by_kind["image"].color != by_kind["text"].color and by_kind["image"].symbol != by_kind["text"].symbol
    app.colour.value = "colour"
    markers = points()
    groups = {name.split(": ")[1] for name in markers}
    assert "red" in groups and len(groups) >= 3
    for group in groups:
        image, text = markers[f"image: {group}"], markers[f"text: {group}"]
        assert image.color == text.color == palette.WORLD[group]  # "red" is the world's red, for both
        assert (image.symbol, text.symbol) == ("circle", "diamond")
    app.colour.value = "shape"
    markers = points()
    for group in {name.split(": ")[1] for name in markers}:
        assert markers[f"image: {group}"].color == markers[f"text: {group}"].color in palette.CATEGORICAL
    assert len({marker.color for marker in markers.values()}) == len(markers) // 2  # one colour per shape
