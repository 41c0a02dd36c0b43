"""The GPU path of clipviz.train (resident data, readback every few steps, bf16, torch.compile).

Most tests force the path on the CPU (train(..., resident=True)), where it must give the
CPU path's numbers exactly. The tests marked `cuda` check what only a GPU can show (no host
sync per step, bf16, a real compile); they are skipped without CUDA, and tools/gpu_check.sh
runs them on a GPU.
"""
import importlib
import math
import warnings

import pytest
import torch

import clipviz as cv
from clipviz.bench.gpu import start_to_diagonal
from clipviz.widgets.dashboard import TrainingDashboard, starting_choice

T = importlib.import_module("clipviz.train")  # the module (cv.train is the function)
G = importlib.import_module("clipviz.train_gpu")  # its GPU path
cuda = pytest.mark.skipif(not torch.cuda.is_available(),
                          reason="needs a CUDA GPU; tools/gpu_check.sh runs these on one")


def _run(world, resident, steps=8, callbacks=None, **config):
    data = world.dataset("train", 512)
    config = cv.TrainConfig(**{"steps": steps, "batch_size": 32, "eval_every": 4, **config})
    events = []
    history = cv.train(cv.mini_clip("tiny", seed=7, device="cpu"), data, config,
                       eval_sets={"seen": world.dataset("test", 40)}, seed=7, resident=resident,
                       callbacks=callbacks or [lambda e: events.append((e.kind, e.step, e.loss, e.top1))])
    return history, events


def test_the_gpu_path_on_the_cpu_gives_the_cpu_paths_numbers_and_events(world, monkeypatch):
    monkeypatch.setattr(G, "READBACK_EVERY", 3)
    plain, plain_events = _run(world, resident=False)
    gpu, gpu_events = _run(world, resident=True)
    assert gpu.loss == plain.loss and gpu.logit_scale == plain.logit_scale and gpu.lr == plain.lr
    assert gpu.top1 == plain.top1 and gpu.eval_step == plain.eval_step == [4, 8]
    assert gpu_events == plain_events  # every step and every evaluation, in order, with the same numbers
    assert all(math.isfinite(loss) for loss in gpu.loss)


def test_the_gpu_path_learns(world):
    history, _ = _run(world, resident=True, steps=60, eval_every=0)
    assert history.stopped == "finished" and len(history.step) == 60
    assert all(math.isfinite(loss) for loss in history.loss)
    assert sum(history.loss[-10:]) / 10 < sum(history.loss[:10]) / 10 - 0.3


def test_readback_reports_every_step_in_bursts(world, monkeypatch):
    monkeypatch.setattr(G, "READBACK_EVERY", 5)
    taken = []  # steps taken by the model when each step's numbers reached the callback
    loss_of = T._batch_loss
    monkeypatch.setattr(G, "_batch_loss", lambda *args: (taken.append(None), loss_of(*args))[1])
    seen = []
    history, _ = _run(world, resident=True, steps=12, eval_every=0,
                      callbacks=[lambda e: seen.append((e.step, len(taken)))])
    assert [s for s, _ in seen] == list(range(1, 13))  # every step, in order
    assert [t for _, t in seen] == [5] * 5 + [10] * 5 + [12] * 2  # read back every 5 steps and at the end
    plain, _ = _run(world, resident=False, steps=12, eval_every=0)
    assert history.loss == plain.loss


def test_readback_comes_before_each_evaluation(world, monkeypatch):
    monkeypatch.setattr(G, "READBACK_EVERY", 5)
    history, events = _run(world, resident=True, steps=9, eval_every=3)
    assert history.eval_step == [3, 6, 9]
    _, plain_events = _run(world, resident=False, steps=9, eval_every=3)
    assert events == plain_events  # evaluated on the weights of step 3, 6 and 9, as on the CPU path


def test_a_stop_takes_effect_at_the_end_of_its_burst(world, monkeypatch):
    monkeypatch.setattr(G, "READBACK_EVERY", 5)
    history, _ = _run(world, resident=True, steps=50, eval_every=0,
                      callbacks=[lambda e: e.kind == "step" and e.step == 6])
    assert history.stopped == "callback" and history.step == list(range(1, 11))


def test_divergence_puts_back_the_weights_of_the_last_finite_readback(world, monkeypatch):
    monkeypatch.setattr(G, "READBACK_EVERY", 5)
    calls, loss_of = [], T._batch_loss

    def nan_from_step_7(model, images, texts, fits=None):
        calls.append(None)
        loss = loss_of(model, images, texts, fits)
        return loss * float("nan") if len(calls) >= 7 else loss

    monkeypatch.setattr(G, "_batch_loss", nan_from_step_7)
    bundle, kept = cv.mini_clip("tiny", seed=7, device="cpu"), {}

    def keep_step_5(event):
        if event.step == 5:
            kept.update({k: v.clone() for k, v in bundle.model.state_dict().items()})

    with pytest.raises(cv.TrainingDiverged, match="loss became nan at step 7.*weights of step 5.*Lower the learning"
                       ) as err:
        cv.train(bundle, world.dataset("train", 256), cv.TrainConfig(steps=20, batch_size=32, eval_every=0),
                 resident=True, callbacks=[keep_step_5])
    assert err.value.history.stopped == "diverged" and err.value.history.step == [1, 2, 3, 4, 5, 6]
    assert all(torch.equal(kept[k], v) for k, v in bundle.model.state_dict().items())


def test_divergence_at_the_first_step_keeps_the_initial_weights(world):
    data = world.dataset("train", 64)
    data.images[:] = float("nan")
    bundle = cv.mini_clip("tiny", device="cpu")
    before = {k: v.clone() for k, v in bundle.model.state_dict().items()}
    with pytest.raises(cv.TrainingDiverged, match="loss became nan at step 1.*Lower the learning rate"):
        cv.train(bundle, data, cv.TrainConfig(steps=5, batch_size=16, eval_every=0), resident=True,
                 callbacks=[lambda e: None])
    assert all(torch.equal(before[k], v) for k, v in bundle.model.state_dict().items())


def test_compile_falls_back_to_eager_when_torch_compile_raises(world, monkeypatch):
    monkeypatch.setenv("CLIPVIZ_COMPILE", "1")

    def no_compiler(*args, **kwargs):
        raise RuntimeError("Cannot find a working triton installation")

    monkeypatch.setattr(torch, "compile", no_compiler)
    with pytest.warns(UserWarning, match="could not compile.*triton.*runs eagerly") as caught:
        history, _ = _run(world, resident=True, eval_every=0)
    assert sum("could not compile" in str(w.message) for w in caught) == 1  # warned once
    monkeypatch.setenv("CLIPVIZ_COMPILE", "0")
    assert history.loss == _run(world, resident=True, eval_every=0)[0].loss


def test_compile_falls_back_when_the_compiled_step_fails_on_its_first_call(world, monkeypatch):
    monkeypatch.setenv("CLIPVIZ_COMPILE", "1")
    calls = []

    def lazy_compile(fn, **kwargs):
        def compiled(*args):
            calls.append(None)
            raise RuntimeError("BackendCompilerFailed: inductor raised an error")
        return compiled

    monkeypatch.setattr(torch, "compile", lazy_compile)
    with pytest.warns(UserWarning, match="could not compile.*BackendCompilerFailed") as caught:
        history, _ = _run(world, resident=True, eval_every=0)
    assert len(calls) == 1 and sum("could not compile" in str(w.message) for w in caught) == 1
    assert history.stopped == "finished" and len(history.loss) == 8


def test_a_step_that_compiles_is_used_for_every_step(world, monkeypatch):
    monkeypatch.setenv("CLIPVIZ_COMPILE", "1")
    calls, modes = [], []

    def fake_compile(fn, mode=None):
        modes.append(mode)
        return lambda *args: (calls.append(None), fn(*args))[1]

    monkeypatch.setattr(torch, "compile", fake_compile)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback warning
        history, _ = _run(world, resident=True, eval_every=0)
    assert modes == ["reduce-overhead"] and len(calls) == 8
    monkeypatch.setenv("CLIPVIZ_COMPILE", "0")
    assert history.loss == _run(world, resident=True, eval_every=0)[0].loss


def test_compile_only_where_it_pays(monkeypatch):
    monkeypatch.delenv("CLIPVIZ_COMPILE", raising=False)
    gpu, cpu = torch.device("cuda"), torch.device("cpu")
    assert G.wants_compile(gpu, G.COMPILE_MIN_STEPS) and not G.wants_compile(gpu, G.COMPILE_MIN_STEPS - 1)
    assert not G.wants_compile(cpu, 10 ** 6) and not G.wants_compile(torch.device("mps"), 10 ** 6)
    monkeypatch.setenv("CLIPVIZ_COMPILE", "0")
    assert not G.wants_compile(gpu, 10 ** 6)
    monkeypatch.setenv("CLIPVIZ_COMPILE", "1")
    assert G.wants_compile(cpu, 1)


def test_a_missing_mps_op_says_how_to_fall_back(monkeypatch):
    monkeypatch.delenv("CLIPVIZ_COMPILE", raising=False)

    def missing(*args):
        raise NotImplementedError("The operator 'aten::_foo' is not currently implemented for the MPS device.")

    monkeypatch.setattr(G, "_batch_loss", missing)
    loss = G.FastLoss(cv.mini_clip("tiny", device="cpu").model, torch.device("mps"), steps=10)
    with pytest.raises(NotImplementedError, match=r"aten::_foo(.|\n)*PYTORCH_ENABLE_MPS_FALLBACK=1.*device='cpu'"):
        loss(torch.zeros(2, 3, 32, 32), torch.zeros(2, 16, dtype=torch.long))


def test_images_are_prepared_on_the_cpu_when_the_device_lacks_an_op(world, monkeypatch):
    real, calls = G._as_pixel_batch, []

    def no_resize_on_device(bundle, images):
        calls.append(None)
        if len(calls) == 1:
            raise NotImplementedError("aten::_upsample_bilinear2d_aa is not implemented for MPS")
        return real(bundle, images)

    monkeypatch.setattr(G, "_as_pixel_batch", no_resize_on_device)
    data = world.dataset("train", 16)
    bundle = cv.mini_clip("tiny", device="cpu")
    with pytest.warns(UserWarning, match="cannot prepare the images.*on the CPU once"):
        on_device = G.DeviceData(bundle, data, resident=True)
    assert torch.equal(on_device.images(torch.tensor([3, 1])), real(bundle, data.images[[3, 1]]))


def test_the_gpu_recipe_and_preset():
    config = cv.recipe("gpu")
    assert config.batch_size >= 512 and config.train_images > cv.recipe("normal").train_images
    assert "gpu" in cv.PRESETS and "gpu" in cv.available_models()["mini"]
    bundle = cv.mini_clip("gpu", device="cpu")
    tiny = cv.mini_clip("tiny", device="cpu")
    params = [sum(p.numel() for p in b.model.parameters()) for b in (bundle, tiny)]
    assert params[0] > 5 * params[1] and bundle.config["vision_cfg"]["patch_size"] == 4
    with pytest.raises(ValueError, match=r"choose one of \['fast', 'gpu', 'normal', 'tiny-p8'\]"):
        cv.recipe("slow")


def test_the_dashboard_picks_the_gpu_preset_on_cuda_and_says_why(world, monkeypatch):
    monkeypatch.setenv("CLIPVIZ_FAST", "0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    app = TrainingDashboard(world, n=64)
    assert app.preset.value == "gpu" and app.batch_size.value == cv.recipe("gpu").batch_size
    assert app.steps.value == cv.recipe("gpu").steps and "because a CUDA GPU is present" in app.status.value
    assert starting_choice(object())[0] == "tiny"  # another world (e.g. two-object scenes) keeps its own recipe
    monkeypatch.setenv("CLIPVIZ_FAST", "1")
    assert starting_choice(world)[:2] == ("tiny", cv.recipe("fast"))  # fast mode wins, even on a GPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("CLIPVIZ_FAST", "0")
    app = TrainingDashboard(world, n=64)
    assert app.preset.value == "tiny" and app.batch_size.value == 128 and "ready" in app.status.value


def test_the_dashboard_redraws_the_probe_between_evaluations(world):
    app = TrainingDashboard(world, n=64)
    app.bundle, app._probe_drawn = cv.mini_clip("tiny", device="cpu"), 0.0  # the last probe drawing: long ago

    def step(n):  # what the training thread draws after step n
        app._draw(list(range(1, n + 1)), [3.0] * n, [14.0] * n, ([], [], []), T.Event("step", n, 100, 3.0, 14.0, 1e-3))

    step(7)
    assert app.matrix.figure.layout.title.text == "probe batch after 7 steps"  # redrawn: a second had passed
    step(8)
    assert app.matrix.figure.layout.title.text == "probe batch after 7 steps"  # not again within PROBE_EVERY_S


def test_start_to_diagonal_measures_from_start_to_a_clear_diagonal(world):
    data = world.dataset("train", 256)
    config = cv.TrainConfig(steps=30, batch_size=32, eval_every=0)
    seconds, step = start_to_diagonal(world, data, "tiny", config, "cpu", gap=-1.0)  # met at the first check
    assert 0 < seconds < 60 and step == G.READBACK_EVERY
    assert start_to_diagonal(world, data, "tiny", config, "cpu", gap=2.0) == (float("inf"), 30)  # never met


@cuda
def test_no_host_sync_per_step_on_cuda(world):
    """With the sync debug mode on, a 200-step run may wait for the GPU at readbacks and setup, not every step."""
    data = world.dataset("train", 2048)
    bundle = cv.mini_clip("tiny", device="cuda")
    config = cv.TrainConfig(steps=200, batch_size=128, eval_every=0)
    cv.train(bundle, data, cv.TrainConfig(steps=3, batch_size=128, eval_every=0), callbacks=[lambda e: None])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            history = cv.train(bundle, data, config, callbacks=[lambda e: None])
        finally:
            torch.cuda.set_sync_debug_mode(0)
    syncs = [w for w in caught if "synchroniz" in str(w.message)]
    assert history.stopped == "finished" and len(history.loss) == 200
    assert len(syncs) <= 200 // G.READBACK_EVERY + 15, [str(w.message)[:200] for w in syncs[:5]]


@cuda
def test_bf16_training_on_cuda_learns(world):
    history = cv.train(cv.mini_clip("tiny", device="cuda"), world.dataset("train", 2048),
                       cv.TrainConfig(steps=150, batch_size=128, eval_every=0), callbacks=[lambda e: None])
    assert all(math.isfinite(loss) for loss in history.loss)
    assert sum(history.loss[-20:]) / 20 < sum(history.loss[:20]) / 20 - 0.3


@cuda
def test_the_step_compiles_on_cuda(world, monkeypatch):
    monkeypatch.setenv("CLIPVIZ_COMPILE", "1")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = cv.train(cv.mini_clip("tiny", device="cuda"), world.dataset("train", 1024),
                           cv.TrainConfig(steps=60, batch_size=128, eval_every=30), callbacks=[lambda e: None])
    assert not [w for w in caught if "could not compile" in str(w.message)]
    assert history.stopped == "finished" and all(math.isfinite(loss) for loss in history.loss)
