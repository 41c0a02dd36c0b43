import os
import subprocess
import sys
import time

import pytest
import torch

import clipviz as cv

from conftest import ROOT


def run(*args, **kwargs):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "clipviz", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=600, **kwargs)


def test_train_command_writes_a_loadable_checkpoint(tmp_path):
    out = tmp_path / "m.pt"
    result = run("train", "--preset", "tiny", "--steps", "20", "--n", "300", "--batch-size", "32", "--grey-share", "0.1",
                 "--seed", "3", "--world-seed", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "seen_top1=" in result.stdout and "saved" in result.stdout
    bundle = cv.load_checkpoint(out)
    meta = torch.load(out, weights_only=True)["metadata"]
    assert meta["steps"] == 20 and meta["preset"] == "tiny" and 0 <= meta["heldout_top1"] <= 1
    assert meta["grey_share"] == 0.1 and meta["sketch_share"] == 0.0
    assert meta["seed"] == 3 and meta["world_seed"] == 1  # the model's seed apart from the world's
    assert bundle.name == "clipviz-tiny"


def test_train_command_starts_a_preset_from_its_own_recipe(tmp_path, monkeypatch, capsys):
    import sys
    from clipviz.__main__ import main
    recipes = sys.modules["clipviz.recipe"].RECIPES  # the tiny-p8 recipe, shortened: its steps show it was used
    monkeypatch.setitem(recipes, "tiny-p8", cv.TrainConfig(steps=12, batch_size=32, train_images=200, eval_every=0))
    out = tmp_path / "p8.pt"
    assert main(["train", "--preset", "tiny-p8", "--out", str(out)]) == 0
    meta = torch.load(out, weights_only=True)["metadata"]
    assert meta["preset"] == "tiny-p8" and meta["steps"] == 12 and meta["train_images"] == 200
    assert cv.load_checkpoint(out).name == "clipviz-tiny-p8"


def test_unknown_preset_lists_the_choices(tmp_path, capsys):
    from clipviz.__main__ import main  # in this process: the subprocess above already tests `python -m clipviz`
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--preset", "huge", "--out", str(tmp_path / "x.pt")])
    err = capsys.readouterr().err
    assert exit_.value.code != 0 and "choose from" in err and "tiny" in err
    assert not (tmp_path / "x.pt").exists()


def test_shipped_checkpoint_loads_offline_and_knows_the_world(shipped, world):
    assert cv.SHIPPED.stat().st_size <= 8 * 1024 * 1024
    assert shipped.name == "clipviz-tiny"
    meta = torch.load(cv.SHIPPED, weights_only=True)["metadata"]
    assert meta["preset"] == "tiny" and meta["steps"] > 0
    assert cv.caption_accuracy(shipped, world.dataset("heldout", 300)) >= 0.85
    assert cv.caption_accuracy(shipped, world.dataset("test", 300)) >= 0.95


def test_benchmark_ratios_are_measured(world, untrained):
    """The ratios compare like with like, interleaved: clipviz's wrappers cost little over bare open_clip."""
    from clipviz.bench import speed, training
    step = training.bench_step_ratio(world, torch.device("cpu"), quick=True)
    assert step["step_time_ratio_vs_open_clip"] == pytest.approx(step["step_ms"] / step["open_clip_step_ms"])
    assert 0.5 < step["step_time_ratio_vs_open_clip"] < 2.0  # the same model and batch: no hidden extra work
    encode = speed.bench_encode_ratio(world, untrained, torch.device("cpu"), quick=True)
    assert 0.5 < encode["encode_overhead_ratio"] < 2.0
    render = speed.bench_render(world, quick=True)
    assert render["render_images_per_s"] > 500  # 2,000 images rendered in under 4 s


def test_bench_training_follows_the_recipe(world, monkeypatch):
    import dataclasses

    from clipviz.bench import training
    short = dataclasses.replace(cv.recipe("fast"), steps=100, train_images=1000)  # the recipe the bench must follow
    asked = []
    monkeypatch.setattr(training, "recipe_for", lambda preset, fast=None: asked.append((preset, fast)) or short)
    figures, bundle = training.bench_training(world, torch.device("cpu"), quick=True)
    assert asked == [("tiny", True)] and figures["train_steps"] == 100  # the tiny preset's recipe, made fast
    chance = 1 / len(world.combinations)
    # it learned, even in 100 steps (0.037 at 60 steps since a tenth of the pictures are grey: positions come later)
    assert figures["seen_top1"] > 10 * chance
    assert all(0 <= figures[k] <= 1 for k in ("seen_top1", "heldout_top1", "sketch_top1"))


def _absent_cuda() -> str:
    """A CUDA device this machine lacks: cuda on a CPU-only machine, one past the last GPU on a GPU machine."""
    return f"cuda:{torch.cuda.device_count()}" if torch.cuda.is_available() else "cuda"


def test_a_missing_device_is_one_sentence_and_exit_status_2():
    """python -m clipviz bench --device cuda on a CPU-only machine: no driver traceback, and no benchmark started."""
    device = _absent_cuda()
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "clipviz", "bench", "--device", device, "--quick"],
                            capture_output=True, text=True, cwd=ROOT, timeout=120,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    seconds = time.perf_counter() - start
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"--device {device} is not available" in lines[0] and "devices here: " in lines[0]
    assert "cpu" in lines[0] and "leave --device out" in lines[0]
    assert result.stdout == ""  # the benchmarks print a line per figure: none ran
    assert seconds < 60  # the import of clipviz, and nothing more (bench --quick takes minutes)


@pytest.mark.parametrize("command", [["train", "--out", "{tmp}/m.pt"], ["bench", "--quick"], ["binding", "--quick"]])
@pytest.mark.parametrize("device", ["gpu", "mps", "cuda"])
def test_every_device_option_answers_a_missing_device_before_working(command, device, tmp_path, capsys, monkeypatch):
    from clipviz.__main__ import main
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # a CPU-only machine, wherever this runs
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert main([part.format(tmp=tmp_path) for part in command] + ["--device", device]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1, err
    assert f"python -m clipviz {command[0]}: error: --device {device} is not available" in err
    assert "devices here: cpu; pass --device cpu" in err
    assert not (tmp_path / "m.pt").exists()


def test_the_python_api_raises_valueerror_naming_the_device(monkeypatch, tmp_path):
    from clipviz.export import export_for_open_clip, train_with_open_clip
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert cv.pick_device(None) == torch.device("cpu") and cv.pick_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match=r"device='cuda' is not available: this machine has no CUDA GPU.*"
                                         r"devices here: cpu; pass device='cpu'"):
        cv.pick_device("cuda")
    with pytest.raises(ValueError, match=r"device='mps' is not available: Apple's MPS"):
        cv.pick_device(torch.device("mps"))
    with pytest.raises(ValueError, match=r"device='gpu' is not available: torch knows no device of that name"):
        cv.mini_clip("tiny", device="gpu")
    with pytest.raises(ValueError, match="device='cuda:1'"):
        cv.load_checkpoint(cv.SHIPPED, device="cuda:1")
    with pytest.raises(ValueError, match="device='cuda'"):
        cv.load_clip("ViT-B-32", pretrained=None, device="cuda")
    with pytest.raises(ValueError, match="device='mps'"):
        cv.mini_clip("tiny", device="cpu").to("mps")
    export = export_for_open_clip(tmp_path, n=4, n_val=2)
    try:
        with pytest.raises(ValueError, match="device='cuda'"):
            train_with_open_clip(export, device="cuda")
    except ImportError:  # without the scale extra the runner names the extra first (tests/test_export.py)
        pass
