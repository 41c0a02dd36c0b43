"""The shipped models under the bench's measures on world seeds 0 and 1, with its templates and seven others.

Run from the repository root after `pip install -e .`: python tools/check_shipped.py (a minute on 2 CPU cores).
zeroshot_* use bench/zeroshot.py's six templates, other_* seven others in the style of CLIP's ImageNet prompts;
seen, held and sketch are caption retrieval among all 240 (1,000 images each); mixed_* are the photo+sketch model.
"""
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import clipviz as cv  # noqa: E402
from clipviz.bench.zeroshot import bench_zero_shot, zero_shot_top1  # noqa: E402

OTHER = ("a drawing of a {}.", "a good photo of the {}.", "a picture of a {}", "art of the {}",
         "a bad photo of a {}.", "there is a {} in the picture", "a cropped photo of a {}")


def main():
    photo = cv.load_checkpoint(cv.SHIPPED, device="cpu")
    mixed = cv.load_checkpoint(cv.ASSETS / "mini_clip_shapes_mixed.pt", device="cpu")
    for seed in (0, 1):
        world = cv.ShapesWorld(seed=seed)
        every, held = world.dataset("all", 1000), world.dataset("heldout", 1000)
        seen, sketches = world.dataset("test", 1000), world.dataset("all", 1000, style="sketch")
        figures = bench_zero_shot(photo, world, quick=False)
        figures.update(other_shape=zero_shot_top1(photo, every, "shape", OTHER),
                       other_colour=zero_shot_top1(photo, every, "colour", OTHER),
                       other_colour_shape_heldout=zero_shot_top1(photo, held, "colour_shape", OTHER),
                       seen=cv.caption_accuracy(photo, seen), held=cv.caption_accuracy(photo, held),
                       sketch=cv.caption_accuracy(photo, sketches), mixed_sketch=cv.caption_accuracy(mixed, sketches),
                       mixed_seen=cv.caption_accuracy(mixed, seen), mixed_held=cv.caption_accuracy(mixed, held))
        print(f"world seed {seed}:", ", ".join(f"{k} {v:.3f}" for k, v in figures.items() if not isinstance(v, str)))


if __name__ == "__main__":
    main()
