"""The world's colours and the figures' categories stay apart for colour-blind students.

colorspacious simulates protanopia, deuteranopia and tritanopia (Machado, Oliveira & Fernandes 2009,
severity 100: the full deficiency) and measures Delta E in CIECAM02-UCS; palette.MIN_DELTA_E says why 10.
"""
import itertools

import colorspacious
import numpy as np
import pytest

from clipviz import palette
from clipviz.data import COLOURS, HELD_OUT, ShapesWorld

DEFICIENCIES = ("protanomaly", "deuteranomaly", "tritanomaly")


def seen_as(rgb, deficiency):
    """An sRGB colour in [0, 1] as a person with the full `deficiency` sees it (None: typical vision)."""
    rgb = np.asarray(rgb, float)
    if deficiency is None:
        return rgb
    space = {"name": "sRGB1+CVD", "cvd_type": deficiency, "severity": 100}
    return np.clip(colorspacious.cspace_convert(rgb, space, "sRGB1"), 0, 1)


def smallest_gap(colours: dict, deficiency) -> tuple[float, str, str]:
    seen = {name: seen_as(rgb, deficiency) for name, rgb in colours.items()}
    return min((colorspacious.deltaE(seen[a], seen[b], input_space="sRGB1"), a, b)
               for a, b in itertools.combinations(seen, 2))


@pytest.mark.parametrize("deficiency", (None,) + DEFICIENCIES)
def test_every_pair_of_world_colours_stays_apart(deficiency):
    gap, a, b = smallest_gap(COLOURS, deficiency)
    assert gap >= palette.MIN_DELTA_E, f"{a} and {b} are only Delta E {gap:.1f} apart under {deficiency}"


def test_the_old_world_colours_would_have_failed():
    """The check can fail: the kit's former red/green/orange set collapses under protanopia."""
    old = {"red": (0.86, 0.16, 0.16), "green": (0.16, 0.66, 0.24), "blue": (0.16, 0.32, 0.88),
           "yellow": (0.93, 0.80, 0.12), "purple": (0.56, 0.24, 0.76), "orange": (0.97, 0.52, 0.08)}
    assert min(smallest_gap(old, d)[0] for d in DEFICIENCIES) < palette.MIN_DELTA_E


@pytest.mark.parametrize("deficiency", DEFICIENCIES)
def test_figure_categories_stay_apart(deficiency):
    colours = {hex_colour: palette.rgb(hex_colour) for hex_colour in palette.CATEGORICAL}
    gap, a, b = smallest_gap(colours, deficiency)
    assert gap >= 5.0, f"figure colours {a} and {b} are only Delta E {gap:.1f} apart under {deficiency}"


def test_world_colours_are_the_palette_and_held_out_shapes_are_told_apart():
    assert COLOURS == {name: palette.rgb(h) for name, h in palette.WORLD.items()}
    assert ShapesWorld().held_out == HELD_OUT
    assert {c for _, c in HELD_OUT} == set(COLOURS)  # one held-out composition per colour
    for (shape_a, colour_a), (shape_b, colour_b) in itertools.combinations(HELD_OUT, 2):
        if shape_a == shape_b:  # two held-out compositions of one shape: their colours must not be confused
            for deficiency in DEFICIENCIES:
                gap = colorspacious.deltaE(seen_as(COLOURS[colour_a], deficiency),
                                           seen_as(COLOURS[colour_b], deficiency), input_space="sRGB1")
                assert gap >= 2 * palette.MIN_DELTA_E, (shape_a, colour_a, colour_b, deficiency, gap)
