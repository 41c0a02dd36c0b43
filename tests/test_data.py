import numpy as np
import pytest
import torch

import clipviz as cv
from clipviz.data import COLOURS, POSITIONS, SHAPES, SIZES, TEMPLATES


def test_world_has_enough_attributes(world):
    assert len(SHAPES) >= 5 and len(COLOURS) >= 6 and len(SIZES) >= 2 and len(POSITIONS) >= 4
    assert len(world.combinations) == len(set(world.combinations)) >= 240
    assert len(set(world.all_captions())) == len(world.combinations)  # every caption names one combination


def test_held_out_covers_every_shape_and_colour(world):
    assert len(world.held_out) >= 4
    assert {s for s, _ in world.held_out} == set(SHAPES)
    assert {c for _, c in world.held_out} == set(COLOURS)


def test_splits_keep_held_out_compositions_out_of_training(world):
    train = world.dataset("train", 2000)
    assert not any(world.is_held_out(a) for a in train.attributes)
    held = world.dataset("heldout", 300)
    assert all(world.is_held_out(a) for a in held.attributes)
    assert set((a.shape, a.colour) for a in held.attributes) == set(world.held_out)


def test_same_seed_same_images_and_captions():
    a = cv.ShapesWorld(seed=3).dataset("train", 64)
    b = cv.ShapesWorld(seed=3).dataset("train", 64)
    c = cv.ShapesWorld(seed=4).dataset("train", 64)
    assert torch.equal(a.images, b.images) and a.captions == b.captions
    assert not torch.equal(a.images, c.images)


def test_images_are_float_in_unit_range(world):
    d = world.dataset("test", 16)
    assert d.images.shape == (16, 3, 32, 32) and d.images.dtype == torch.float32
    assert 0.0 <= float(d.images.min()) and float(d.images.max()) <= 1.0


def test_train_captions_are_alt_text_and_test_captions_canonical(world):
    d = world.dataset("train", 500)
    full = [c for c, m in zip(d.captions, d.mentions) if None not in m]
    used = {t for t in range(len(TEMPLATES)) for a, c in zip(d.attributes, d.captions) if c == world.caption(a, t)}
    assert len(used) >= 4 and len(full) < len(d) / 2  # the full templates appear, but most captions are partial
    t = world.dataset("test", 50)
    assert t.captions == [world.caption(a) for a in t.attributes]


def test_photo_and_sketch_differ_in_style(world):
    attrs = world.combinations[:20]
    photo = world.render(attrs, "photo", np.random.default_rng(0))
    sketch = world.render(attrs, "sketch", np.random.default_rng(0))
    # sketches are mostly paper (bright, flat); photos have a noisy, darker background
    assert float(sketch.mean()) > float(photo.mean()) + 0.1
    assert float(sketch[:, :, :2, :2].std()) < float(photo[:, :, :2, :2].std())


def test_a_photo_casts_a_shadow_down_and_to_the_right_whatever_its_colour(world, monkeypatch):
    import clipviz.data as data
    for colour in ("yellow", "blue"):
        a = cv.Attributes("star", colour, "large", "left")
        photo = world.render([a], "photo", np.random.default_rng(2))[0]  # (3, H, W)
        with monkeypatch.context() as m:
            m.setattr(data, "SHADOW_DEPTH", 0.0)
            unlit = world.render([a], "photo", np.random.default_rng(2))[0]  # the same picture without a shadow
        darkened = (unlit - photo).mean(0)  # (H, W)
        shadow = darkened > 0.1  # where the shadow falls on the background
        ys, xs = torch.nonzero(shadow, as_tuple=True)
        assert len(ys) >= 10, colour  # a visible shadow
        assert float((darkened[shadow] / unlit.mean(0)[shadow]).mean()) == pytest.approx(data.SHADOW_DEPTH, abs=0.1)
        x, y, _ = POSITIONS["left"]
        assert xs.float().mean() > 32 * x and ys.float().mean() > 32 * y, colour  # down and right of the shape


def test_a_photo_has_a_dark_edge_all_round_its_shape_whatever_its_colour(world, monkeypatch):
    import clipviz.data as data
    assert data.PHOTO_EDGE > 0
    for colour in ("yellow", "blue", "purple"):
        a = cv.Attributes("square", colour, "large", "top")
        photo = world.render([a], "photo", np.random.default_rng(3))[0]  # (3, H, W)
        with monkeypatch.context() as m:
            m.setattr(data, "PHOTO_EDGE", 0.0)
            plain = world.render([a], "photo", np.random.default_rng(3))[0]  # the same picture without the edge
        share = (plain - photo).mean(0) / plain.mean(0).clamp_min(0.05)  # (H, W) how much darker each pixel is
        edge = share > 0.1
        ys, xs = torch.nonzero(edge, as_tuple=True)
        assert len(ys) >= 40, colour  # a visible edge...
        assert float(share[edge].mean()) > 0.2 and float(share.max()) < data.PHOTO_EDGE + 0.15, colour  # ...as deep
        x, y, _ = POSITIONS["top"]
        x, y = 32 * x, 32 * y
        for side in (xs < x - 4, xs > x + 4, ys < y - 4, ys > y + 4):  # ...on every side, not just the shadow's
            assert int(side.sum()) >= 8, colour
        assert float(share[int(y) - 2:int(y) + 3, int(x) - 2:int(x) + 3].max()) < 0.05, colour  # not inside


@pytest.mark.parametrize("style", ["sketch", "painting"])
def test_sketches_and_paintings_cast_a_lighter_shadow_outside_the_shape(world, monkeypatch, style):
    import clipviz.data as data
    a = cv.Attributes("square", "blue", "large", "left")
    drawn = world.render([a], style, np.random.default_rng(2))[0]  # (3, H, W)
    with monkeypatch.context() as m:
        m.setattr(data, "DRAWN_SHADOW", 0.0)
        unlit = world.render([a], style, np.random.default_rng(2))[0]
    darkened = (unlit - drawn).mean(0)  # (H, W)
    shadow = darkened > 0.05
    ys, xs = torch.nonzero(shadow, as_tuple=True)
    assert len(ys) >= 10  # a visible shadow...
    assert float((darkened[shadow] / unlit.mean(0)[shadow]).mean()) == pytest.approx(data.DRAWN_SHADOW, abs=0.1)
    assert data.DRAWN_SHADOW < data.SHADOW_DEPTH  # ...lighter than a photo's
    on_paper = unlit.mean(0)[shadow] > 0.75  # pale paper or canvas, not the blue shape (but for anti-aliased edges)
    assert float(on_paper.float().mean()) > 0.8
    x, y, _ = POSITIONS["left"]
    assert xs.float().mean() > 32 * x and ys.float().mean() > 32 * y  # down and right, as a photo's

def test_shapes_are_drawn_where_the_caption_says(world):
    for position in POSITIONS:
        a = cv.Attributes("square", "red", "large", position)
        img = world.render([a] * 4, "photo", np.random.default_rng(1))[0]
        redness = (img[0] - img[1:].mean(0)).clamp(min=0)  # (H, W)
        ys, xs = torch.nonzero(redness > 0.3, as_tuple=True)
        cx, cy = xs.float().mean() / 32, ys.float().mean() / 32
        expect_x, expect_y, _ = POSITIONS[position]
        assert abs(cx - expect_x) < 0.12 and abs(cy - expect_y) < 0.12, position


def test_large_is_larger_than_small(world):
    rng = np.random.default_rng(0)
    masks = {z: world.render([cv.Attributes("circle", "blue", z, "left")] * 8, "photo", rng) for z in SIZES}
    area = {z: float(((m[:, 2] - m[:, 0]) > 0.3).float().sum()) for z, m in masks.items()}
    assert area["large"] > 2 * area["small"]


def test_bad_split_style_and_size_are_explained(world):
    with pytest.raises(ValueError, match="choose one of"):
        world.dataset("validation", 10)
    with pytest.raises(ValueError, match="choose one of"):
        world.dataset("train", 10, style="watercolour")
    with pytest.raises(ValueError, match="at least 1"):
        world.dataset("train", 0)
    with pytest.raises(ValueError, match="not in the world"):
        cv.ShapesWorld(held_out=(("hexagon", "red"),))


def test_subset_and_to_pil(world):
    d = world.dataset("test", 10)
    s = d.subset([3, 1])
    assert s.captions == [d.captions[3], d.captions[1]] and torch.equal(s.images[0], d.images[3])
    assert d.to_pil(0).size == (32, 32)


def test_mixed_style_has_photos_and_sketches(world):
    d = world.dataset("train", 400, "mixed", sketch_share=0.25)
    sketch = torch.tensor([s == "sketch" for s in d.styles])
    assert d.style == "mixed" and 0.15 < float(sketch.float().mean()) < 0.35
    corners = d.images[:, :, :2, :2].mean(dim=(1, 2, 3))  # (N,) sketches are drawn on near-white paper
    assert float(corners[sketch].min()) > float(corners[~sketch].max())
    same = world.dataset("train", 400, "mixed", sketch_share=0.25)
    assert torch.equal(same.images, d.images) and same.styles == d.styles
    s = d.subset([int(i) for i in sketch.nonzero().flatten()[:3]])
    assert s.style == "sketch" and s.styles == ["sketch"] * 3


def test_sketch_share_needs_a_mix_and_a_fraction(world):
    with pytest.raises(ValueError, match="style='mixed'"):
        world.dataset("train", 10, sketch_share=0.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        world.dataset("train", 10, "mixed", sketch_share=1.5)
    with pytest.raises(ValueError, match="one style at a time"):
        world.render(world.combinations[:2], "mixed")


def test_the_unseen_style_is_neither_photo_nor_sketch(world):
    from clipviz.data import DRAWN, UNSEEN_STYLE
    assert UNSEEN_STYLE in DRAWN and UNSEEN_STYLE not in ("photo", "sketch")
    attributes = world.dataset("test", 16).attributes
    drawn = {style: world.render(attributes, style) for style in DRAWN}
    for style in ("photo", "sketch"):  # the same scenes look clearly different in the unseen style
        assert (drawn[UNSEEN_STYLE] - drawn[style]).abs().mean() > 0.05
    paintings = world.dataset("heldout", 8, style=UNSEEN_STYLE)
    assert paintings.styles == [UNSEEN_STYLE] * 8 and paintings.images.shape == (8, 3, 32, 32)


def test_training_captions_name_only_their_own_style(world):
    mixed = world.dataset("train", 3000, style="mixed")
    words = {"photo": "a photo of", "sketch": "a sketch of", "drawing": "a drawing of"}
    said = {name: [style for style, c in zip(mixed.styles, mixed.captions) if phrase in c]
            for name, phrase in words.items()}
    assert said["photo"] and set(said["photo"]) == {"photo"}  # "a photo of" only ever under a photo
    assert said["sketch"] and said["drawing"] and set(said["sketch"] + said["drawing"]) == {"sketch"}
