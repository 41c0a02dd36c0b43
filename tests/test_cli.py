import os
import subprocess
import sys

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
    result = run("train", "--preset", "tiny", "--steps", "20", "--n", "300", "--batch-size", "32", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "seen_top1=" in result.stdout and "saved" in result.stdout
    bundle = cv.load_checkpoint(out)
    meta = torch.load(out, weights_only=True)["metadata"]
    assert meta["steps"] == 20 and meta["preset"] == "tiny" and 0 <= meta["heldout_top1"] <= 1
    assert bundle.name == "clipviz-tiny"


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
    short = dataclasses.replace(cv.recipe("fast"), steps=60, train_images=1000)  # the recipe the bench must follow
    asked = []
    monkeypatch.setattr(training, "recipe", lambda name: asked.append(name) or short)
    figures, bundle = training.bench_training(world, torch.device("cpu"), quick=True)
    assert asked == ["fast"] and figures["train_steps"] == 60
    chance = 1 / len(world.combinations)
    assert figures["seen_top1"] > 10 * chance  # it learned, even in 60 steps (tests/test_train.py: how far it gets)
    assert all(0 <= figures[k] <= 1 for k in ("seen_top1", "heldout_top1", "sketch_top1"))
