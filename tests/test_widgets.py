"""Widget apps in a plain kernel: set a control's value, read what changed."""
import numpy as np
import pytest
import torch

import clipviz as cv
from clipviz import widgets
from clipviz.bench.speed import bench_prompt_update
from clipviz.widgets import TrainingDashboard


@pytest.fixture(scope="module")
def images(world):
    d = world.dataset("test", 4)
    return {f"image {i}": d.images[i] for i in range(4)}


@pytest.mark.parametrize("static", [False, True])
def test_caption_probe_updates_bars_when_captions_change(trained, images, static, monkeypatch):
    monkeypatch.setenv("CLIPVIZ_STATIC_FIGURES", "1" if static else "0")
    app = widgets.CaptionProbe(trained[0], images, ["a small red circle on the left", "a large blue star at the top"])
    assert app.chart.static is static
    assert "clipviz-app" in app._dom_classes and "clipviz-prompt" in app.captions._dom_classes
    before = list(app.chart.figure.data[0].x)
    assert len(before) == 2 and sum(before) == pytest.approx(1.0, abs=1e-5)
    app.captions.value = "a green square\na yellow cross\na purple triangle"
    after = app.chart.figure.data[0]
    assert list(after.y) == ["a green square", "a yellow cross", "a purple triangle"]
    assert sum(after.x) == pytest.approx(1.0, abs=1e-5)
    app.picker.dropdown.value = "image 2"
    assert list(app.chart.figure.data[0].x) != list(after.x)


def test_errors_show_in_the_widget_and_it_keeps_working(trained, images):
    app = widgets.CaptionProbe(trained[0], images, ["a red circle"])
    app.captions.value = "   \n"
    assert "no captions" in app.message.value
    app.captions.value = "a blue star\na red circle"
    assert app.message.value == "" and len(app.chart.figure.data[0].x) == 2
    pe = widgets.PromptEffects(trained[0], images, ["circle", "star"])
    for box in pe.boxes:
        box.value = ""
    assert "every prompt box is empty" in pe.message.value
    pe.boxes[0].value = "a photo"
    assert "needs a {} where the label goes" in pe.message.value
    pe.boxes[0].value = "a {}"
    assert pe.message.value == ""


def test_a_broken_image_is_reported_not_fatal(trained, images, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    app = widgets.CaptionProbe(trained[0], {**images, "broken": bad}, ["a red circle", "a blue star"])
    good = list(app.chart.figure.data[0].x)
    app.picker.dropdown.value = "broken"
    assert "broken.jpg" in app.message.value and ("corrupt" in app.message.value or "not an image" in app.message.value)
    app.picker.dropdown.value = "image 1"
    assert app.message.value == "" and list(app.chart.figure.data[0].x) != good


def test_prompt_effects_bars_follow_the_prompts(trained, images):
    app = widgets.PromptEffects(trained[0], images, ["circle", "square", "star"])
    names = [trace.name for trace in app.chart.figure.data]
    assert names[:3] == ["a photo of a {}", "an image of a {}", "{}"] and names[-1] == "ensemble of all prompts"
    old = [list(t.y) for t in app.chart.figure.data]
    app.boxes[1].value = "a drawing of a {}"
    assert app.chart.figure.data[1].name == "a drawing of a {}"
    assert [list(t.y) for t in app.chart.figure.data] != old
    for trace in app.chart.figure.data:
        assert sum(trace.y) == pytest.approx(1.0, abs=1e-5)
    app.ensemble.value = False
    assert all(t.name != "ensemble of all prompts" for t in app.chart.figure.data)
    flat = app.scale.value
    app.scale.value = 1.0  # a high temperature flattens the probabilities
    assert max(app.chart.figure.data[0].y) < 0.6 or flat == 1.0


def test_toy_embeddings_normalise_and_cosines(monkeypatch):
    app = widgets.ToyEmbeddings()
    sx, sy = app.sliders["house"]
    sx.value, sy.value = 2.0, 0.0
    assert app.chart.figure.data[0].x[1] == pytest.approx(2.0)
    app.normalise.value = True
    assert app.chart.figure.data[0].x[1] == pytest.approx(1.0)
    sx.value, sy.value = 0.0, 0.0
    assert "zero vector" in app.message.value


def test_contrastive_explorer_shuffle_breaks_the_diagonal(trained, world):
    data = world.dataset("test", 16)
    app = widgets.ContrastiveExplorer(trained[0], data, n=8)
    z = np.array(app.chart.figure.data[0].z)
    assert z.shape == (8, 8)
    assert np.diag(z).mean() > z[~np.eye(8, dtype=bool)].mean() + 0.1  # trained: the diagonal is brighter
    loss = float(app.readout.value.split("</b> ")[1].split(" ")[0])
    matched = np.diag(z).mean()
    app.shuffle.value = True
    z = np.array(app.chart.figure.data[0].z)
    assert np.diag(z).mean() < matched - 0.1  # shuffled: the diagonal no longer holds the matching pairs
    assert float(app.readout.value.split("</b> ")[1].split(" ")[0]) > loss
    app.shuffle.value, app.view.value = False, app.VIEWS[1]
    rows = np.array(app.chart.figure.data[0].z)
    assert np.allclose(rows.sum(axis=1), 1, atol=1e-4)
    app.view.value = app.VIEWS[2]
    assert np.allclose(np.array(app.chart.figure.data[0].z).sum(axis=0), 1, atol=1e-4)
    app.n.value = 4
    assert np.array(app.chart.figure.data[0].z).shape == (4, 4)


def test_duplicate_captions_are_false_negatives(trained, world):
    data = world.dataset("test", 40)
    app = widgets.ContrastiveExplorer(trained[0], data, n=8)
    app.duplicates.value = True
    images, captions, rows = app.batch()
    assert captions[0] == captions[1] and not torch.equal(images[0], images[1])
    z = np.array(app.chart.figure.data[0].z)
    assert abs(z[0, 0] - z[0, 1]) < 1e-6  # identical captions: the "wrong" cell scores exactly as the right one
    app.n.value = 24  # beyond 16 rows there are no thumbnails: the row labels alone must name what each row shows
    images, captions, rows = app.batch()
    for i in range(1, 24, 2):
        shown = data.attributes[i - 1]  # an odd row is a new picture of item i - 1
        assert data.world.caption(shown) in rows[i] and rows[i].startswith(f"{i}: ")
    shown_rows = [cell[0].split(" vs ")[0] for cell in app.chart.figure.data[0].customdata]  # what hover says
    assert shown_rows == rows


def test_embedding_map_methods_dims_and_gap(trained, world):
    app = widgets.EmbeddingMap(trained[0], world.dataset("test", 24))
    assert "modality gap" in app.gap.value
    assert len(app.chart.figure.data[0].x) == 24
    app.dims.value = 3
    assert app.chart.figure.data[0].type == "scatter3d"
    app.method.value = "umap"
    app.colour.value = "shape"
    assert {t.name for t in app.chart.figure.data if t.mode == "markers"} >= {"image: circle", "text: circle"}
    assert app.message.value == ""


def test_dashboard_start_trains_and_stop_stops(world, tmp_path):
    app = TrainingDashboard(world, n=600)
    app.steps.value = 40
    app.start_button.click()
    app.wait(120)
    assert app.history.stopped == "finished"
    assert len(app.curves.figure.data[0].x) == 40  # the loss curve got every step
    assert len(app.curves.figure.data[1].x) >= 1  # and the accuracy curve its evaluations
    assert "after 40 steps" in app.matrix.figure.layout.title.text
    seen, heldout = app.curves.figure.data[1].y[-1], app.curves.figure.data[2].y[-1]
    assert f"seen {seen:.0%}, held-out {heldout:.0%}" in app.status.value  # the curves' last points, in words
    app.save_path.value = str(tmp_path / "dash.pt")
    app.save_button.click()
    assert cv.load_checkpoint(tmp_path / "dash.pt").name == "clipviz-tiny"
    app.steps.value = 5000
    app.start_button.click()
    app.stop_button.click()
    app.wait(120)
    assert app.history.stopped == "callback" and len(app.history.step) < 5000
    assert f"stopped after {len(app.history.step)} steps" in app.status.value
    app.save_button.click()  # saving after a stop is allowed
    assert app.message.value == ""


def test_dashboard_steps_follow_a_preset_with_a_recipe_of_its_own(world, monkeypatch):
    app = TrainingDashboard(world, n=64)
    monkeypatch.setenv("CLIPVIZ_FAST", "0")  # outside fast mode the tiny-p8 preset trains more steps than tiny
    app.preset.value = "tiny-p8"
    assert app.steps.value == cv.recipe("tiny-p8").steps and "tiny-p8 preset trains 1,700 steps" in app.status.value
    app.preset.value = "tiny"
    assert app.steps.value == cv.recipe("normal").steps
    app.steps.value = 300  # the student's own choice stays between presets that share the recipe
    app.preset.value = "small"
    assert app.steps.value == 300 and app.message.value == ""


def test_prompt_update_benchmark_times_real_redraws(trained, world):
    figures = bench_prompt_update(trained[0], world, quick=True)
    assert 0 < figures["prompt_update_ms"] < 10_000  # a number of milliseconds, not NaN: every edit redrew


def test_dashboard_mixes_sketches_into_training_when_asked(world):
    app = TrainingDashboard(world, n=200)
    assert app._share == 0.0 and app.data.style == "photo"
    app.steps.value, app.sketch_share.value = 10, 0.5
    app.start_button.click()
    app.wait(120)
    assert app.history.stopped == "finished"
    styles = list(app.data.styles)
    assert 60 <= styles.count("sketch") <= 140 and styles.count("photo") >= 60  # about half of 200 are sketches
    assert "sketch accuracy" in app.status.value and "trained on 50% sketches" in app.status.value


def test_dashboard_trains_on_the_black_and_white_share_it_is_given(world):
    app = TrainingDashboard(world, n=200)
    assert app.grey_share.value == cv.data.GREY_SHARE["photo"] and sum(app.data.grey) == sum(
        world.dataset("train", 200).grey)  # the kit's recipe until told otherwise
    app.steps.value, app.grey_share.value = 10, 0.5
    app.start_button.click()
    app.wait(120)
    assert app.history.stopped == "finished"
    assert 60 <= sum(app.data.grey) <= 140  # about half of 200
    assert all(m.colour is None for m, g in zip(app.data.mentions, app.data.grey) if g)  # captions name no colour
    assert "50% black and white" in app.status.value


def test_dashboard_can_train_with_clips_own_loss(world, monkeypatch):
    import clipviz.widgets.dashboard as dashboard
    seen = []
    from clipviz.train import TrainingRun
    monkeypatch.setattr(dashboard, "TrainingRun", lambda bundle, data, config, **kw: (seen.append(config),
                                                                                    TrainingRun(bundle, data, config, **kw))[1])
    app = TrainingDashboard(world, n=200)
    assert app.mask_false_negatives.value is cv.recipe().mask_false_negatives  # starts from the recipe
    app.steps.value, app.mask_false_negatives.value = 10, False
    app.start_button.click()
    app.wait(120)
    assert app.history.stopped == "finished" and seen[-1].mask_false_negatives is False


def test_in_jupyter_the_dashboard_trains_on_the_kernels_thread_between_messages(world):
    """With an event loop running (Jupyter's), the steps run on its thread a slice at a time: a second Python
    thread would run torch's OpenMP work about half as fast. Stop answers between slices; a cell that waits
    takes the run over, and the run's end is shown once."""
    import asyncio
    import threading

    async def scenario():
        app = TrainingDashboard(world, n=200)
        app.SLICE_S = 0.02  # small slices, so the loop gets the message below while steps remain
        app.steps.value = 400
        threads = set()
        app.start_button.click()
        assert app._thread is None and app.running  # no thread: a task on this loop
        real_draw = app._draw
        app._draw = lambda *a: (threads.add(threading.current_thread()), real_draw(*a))[1]
        await asyncio.sleep(0.3)
        assert app.running and 0 < len(app._series[0]) < 400  # steps happened, between which this code ran
        app.stop_button.click()  # the widget's message, handled between two slices
        while app.running:
            await asyncio.sleep(0.01)
        assert app.history.stopped == "callback" and "stopped after" in app.status.value
        assert threads == {threading.main_thread()} and not app.start_button.disabled
        app.steps.value = 30
        app.start_button.click()
        app.wait()  # as the next cell of a notebook: runs the remaining steps itself
        assert app.history.stopped == "finished" and len(app.history.step) == 30 and app.stop_button.disabled
        status = app.status.value
        await asyncio.sleep(0.1)  # the task wakes up after the takeover and must leave the ended run alone
        assert app.status.value == status and app.message.value == ""

    asyncio.run(scenario())
