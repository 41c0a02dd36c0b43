"""One colour-blind-safe palette for the whole kit: the world's six colours and every figure's categories.

Okabe & Ito's eight colours ("Color Universal Design", 2002; Wong, "Points of view: Color blindness",
Nature Methods 8:441, 2011) stay apart for people with protanopia, deuteranopia and tritanopia, which
the classic red / orange / green set does not (about 1 man in 12 has a red-green deficiency).

`WORLD` gives the shapes world's colour names their Okabe-Ito shade: "red" is Okabe-Ito's vermillion,
"purple" its reddish purple. `CATEGORICAL` is the order plots.py cycles through for categories that
are not world colours. tests/test_palette.py simulates the three deficiencies (colorspacious) and
checks that every pair of world colours stays at least MIN_DELTA_E apart.
"""
from __future__ import annotations

OKABE_ITO = {  # name -> hex, Okabe & Ito (2002)
    "black": "#000000",
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "bluish green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
}
WORLD = {  # the shapes world's colour name -> its Okabe-Ito shade
    "red": OKABE_ITO["vermillion"],
    "green": OKABE_ITO["bluish green"],
    "blue": OKABE_ITO["blue"],
    "yellow": OKABE_ITO["yellow"],
    "purple": OKABE_ITO["reddish purple"],
    "orange": OKABE_ITO["orange"],
}
CATEGORICAL = tuple(OKABE_ITO[k] for k in ("blue", "vermillion", "bluish green", "orange", "reddish purple",
                                           "sky blue", "yellow", "black"))  # figures' category colours, in order
# Pairs of world colours must stay this far apart (CIECAM02-UCS Delta E) under each simulated deficiency.
# A Delta E of about 1 is just noticeable; 10 and more is a difference seen at a glance, without side by side
# comparison. The Okabe-Ito six give at least 11 (purple / orange under tritanopia); the kit's old six gave 4.4
# (green / orange under protanopia).
MIN_DELTA_E = 10.0


def rgb(hex_colour: str) -> tuple[float, float, float]:
    """'#D55E00' -> (0.835, 0.369, 0.0): a hex colour as RGB in [0, 1]."""
    h = hex_colour.lstrip("#")
    return tuple(int(h[i:i + 2], 16) / 255 for i in (0, 2, 4))
