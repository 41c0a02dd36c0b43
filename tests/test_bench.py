"""The bench's per-seed figures and its timing of the recipe against the old one (speed itself is the bench's job)."""
import dataclasses

import pytest
import torch

import clipviz as cv
from clipviz.bench import SEED_KEYS, over_seeds, training


def test_over_seeds_gives_each_seed_its_min_and_mean():
    per_seed = [{k: 0.9 + 0.01 * s + 0.001 * i for i, k in enumerate(SEED_KEYS)} for s in range(3)]
    figures = over_seeds(per_seed)
    for i, key in enumerate(SEED_KEYS):
        assert [figures[f"{key}_seed{s}"] for s in range(3)] == [per_seed[s][key] for s in range(3)]
        assert figures[f"{key}_min_over_seeds"] == pytest.approx(0.9 + 0.001 * i)
        assert figures[f"{key}_mean_over_seeds"] == pytest.approx(0.91 + 0.001 * i)


def test_bench_refuses_no_seeds():
    with pytest.raises(ValueError, match="seeds"):
        cv.bench.run_benchmarks(quick=True, device="cpu", seeds=0)


def test_train_time_is_timed_against_v1_here_and_on_one_core(world, monkeypatch):
    short = dataclasses.replace(cv.recipe("fast"), steps=12, train_images=300, eval_every=0)
    monkeypatch.setattr(training, "recipe_for", lambda preset, fast=None: short)
    threads = torch.get_num_threads()
    figures = training.bench_train_time(world, torch.device("cpu"), quick=True, seconds=1.0)
    assert figures["train_time_ratio_vs_v1"] == pytest.approx(1.0 / figures["train_seconds_v1"])
    assert figures["train_seconds_one_core"] > 0 and torch.get_num_threads() == threads  # threads given back


def test_another_preset_is_timed_against_v1_and_on_one_core_with_its_own_recipe(world, monkeypatch):
    short = dataclasses.replace(cv.recipe("fast"), steps=12, train_images=300, eval_every=0)
    asked = []
    monkeypatch.setattr(training, "recipe_for", lambda preset, fast=None: asked.append(preset) or short)
    threads = torch.get_num_threads()
    figures = training.bench_preset_time("tiny-p8", world, torch.device("cpu"), quick=True, seconds=1.0,
                                         v1_seconds=4.0)
    assert figures["train_time_ratio_vs_v1"] == 0.25 and asked == ["tiny-p8"]
    assert figures["train_seconds_one_core"] > 0 and torch.get_num_threads() == threads  # threads given back


def test_v1_is_the_old_recipe_with_the_mask():
    assert training.V1.steps == 1700 and training.V1.batch_size == 128 and training.V1.mask_false_negatives
    assert training.V1_PRESET == "tiny-p8"  # the tiny preset of then: 8x8-pixel patches, two text layers


def test_the_shipped_model_reads_a_lone_orange_as_the_fruit_and_the_wording_decides(shipped, world):
    from clipviz.bench.zeroshot import ambiguous_word_effects
    figures = ambiguous_word_effects(shipped, world.dataset("all", 300))
    # "a photo of an orange" asks for the fruit (a round thing, orange or unripe green) and misses orange squares;
    # "an orange" calls green circles orange; "something orange" does neither
    assert figures["orange_non_circle_top1_something"] > 0.9 and figures["green_circle_called_orange_something"] < 0.05
    assert figures["orange_non_circle_top1_photo_of"] < figures["orange_non_circle_top1_something"] - 0.1
    assert figures["green_circle_called_orange_a"] > 0.2
    assert figures["prompt_spread_points"] >= 3 and figures["ensemble_gain_points"] >= 1  # issue 19's thresholds
    assert "bare words" in figures["prompt_effects_measured_on"]


def test_the_shipped_photo_and_sketch_model_reads_sketches_the_photo_model_cannot(shipped):
    # chapter 05's lesson, on a world seed neither model trained on: sketches in training, sketches read
    mixed = cv.load_checkpoint(cv.ASSETS / "mini_clip_shapes_mixed.pt", device="cpu")
    world = cv.ShapesWorld(seed=1)
    sketches, paintings = world.dataset("all", 300, style="sketch"), world.dataset("all", 300, style="painting")
    assert cv.caption_accuracy(mixed, sketches) >= 0.85  # issue 18's bar for the photo+sketch model
    assert cv.caption_accuracy(shipped, sketches) < 0.3
    # and on a style neither saw, the more diverse training data still reads more (effective robustness)
    assert cv.caption_accuracy(mixed, paintings) > cv.caption_accuracy(shipped, paintings) + 0.1
