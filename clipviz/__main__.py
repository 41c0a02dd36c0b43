"""Command line: `python -m clipviz train ...` and `python -m clipviz bench ...`.

    python -m clipviz train --preset tiny --out assets/mini_clip_shapes.pt
    python -m clipviz bench [--quick] [--device cpu|cuda] [--json PATH]
    python -m clipviz export --n 10000 --out DIR [--style photo|sketch|mixed] [--gpus K]
    python -m clipviz binding [--quick] [--condition clip_like|dense] [--encoders E,...] [--json PATH] [--save DIR]
"""
from __future__ import annotations

import argparse
import sys

from .data import GREY_SHARE, STYLES
from .model import PRESETS, available_devices, device_problem


def _train(args) -> int:
    import dataclasses

    from . import ShapesWorld, caption_accuracy, mini_clip, save_checkpoint, train
    from .recipe import recipe_for

    changes = {k: v for k, v in dict(steps=args.steps, batch_size=args.batch_size, lr=args.lr, train_images=args.n,
                                     mask_false_negatives=args.mask_false_negatives).items() if v is not None}
    config = dataclasses.replace(recipe_for(args.preset, fast=args.fast), **changes)  # tiny-p8: 1,700 steps
    world = ShapesWorld(seed=args.seed if args.world_seed is None else args.world_seed)
    # a mix of styles when asked: this fraction of the training images drawn as sketches
    mix = dict(style="mixed", sketch_share=args.sketch_share) if args.sketch_share else {}
    data = world.dataset("train", n=config.train_images, grey_share=args.grey_share, **mix)
    grey_share = GREY_SHARE[data.style] if args.grey_share is None else args.grey_share
    bundle = mini_clip(args.preset, seed=args.seed, device=args.device)
    print(f"training {bundle} on {len(data)} shapes-world pairs with {config}", flush=True)
    history = train(bundle, data, config, seed=args.seed)
    seen = caption_accuracy(bundle, world.dataset("test", 1000))
    heldout = caption_accuracy(bundle, world.dataset("heldout", 1000))
    sketch = caption_accuracy(bundle, world.dataset("all", 1000, style="sketch"))
    print(f"{history.stopped} after {len(history.step)} steps in {history.seconds:.1f} s: "
          f"seen_top1={seen:.3f} heldout_top1={heldout:.3f} sketch_top1={sketch:.3f}")
    if history.stopped != "finished":
        print("training did not finish; not saving", file=sys.stderr)
        return 1
    save_checkpoint(bundle, args.out, **{**dataclasses.asdict(config), "preset": args.preset, "seed": args.seed,
                                         "world_seed": world.seed,
                                         "steps": len(history.step), "sketch_share": args.sketch_share or 0.0,
                                         "grey_share": grey_share,
                                         "seen_top1": seen, "heldout_top1": heldout, "sketch_top1": sketch})
    print(f"saved {args.out}")
    return 0


def _bench(args) -> int:
    from .bench import run_benchmarks
    run_benchmarks(quick=args.quick, device=args.device, json_path=args.json, seeds=args.seeds)
    return 0


def _binding(args) -> int:
    import dataclasses
    import json
    import time

    from .binding_eval import BINDING_PRESET, ENCODERS, RECIPES, checkpoint_path, compare, summary
    from .checkpoint import save_checkpoint

    encoders = args.encoders.split(",")
    if not set(encoders) <= set(ENCODERS):
        print(f"python -m clipviz binding: error: unknown encoder in --encoders {args.encoders}; "
              f"choose from {','.join(ENCODERS)}", file=sys.stderr)
        return 2
    start, config = time.perf_counter(), RECIPES["quick" if args.quick else "normal"]
    print(f"condition {args.condition}: training {', '.join(encoders)} with {config}", flush=True)
    results = compare(config, condition=args.condition, encoders=encoders, device=args.device)
    figures = {name: {k: v for k, v in r.items() if k != "bundle"} for name, r in results.items()}
    print(summary(figures))
    print(f"total {time.perf_counter() - start:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)
        print(f"wrote {args.json}")
    for name, r in results.items() if args.save else ():
        path = save_checkpoint(r["bundle"], checkpoint_path(name, args.condition, args.save),
                               **{**dataclasses.asdict(config), "encoder": name, "condition": args.condition,
                                  "preset": BINDING_PRESET, "seed": 0, **figures[name]})
        print(f"saved {path}")
    return 0


def _export(args) -> int:
    import time

    from .export import export_for_open_clip

    start = time.perf_counter()
    export = export_for_open_clip(args.out, args.n, n_val=args.val, style=args.style, preset=args.preset,
                                  seed=args.seed)
    print(f"wrote {export.n_train} training and {export.n_val} validation pairs and the {args.preset!r} model "
          f"config to {export.folder} in {time.perf_counter() - start:.1f} s")
    print(f"train on them with open_clip on {args.gpus} GPU(s) (pip install 'clipviz[scale]' first):")
    print(export.command(gpus=args.gpus, batch_size=args.batch_size, precision=args.precision))
    print(f"then, in Python: cv.load_clip({f'local-dir:{export.model_dir}'!r}, "
          f"pretrained={str(export.checkpoint())!r})")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clipviz", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a mini CLIP on the shapes world and save it")
    t.add_argument("--preset", default="tiny", choices=sorted(PRESETS), help="model preset")
    t.add_argument("--out", required=True, help="checkpoint path to write")
    t.add_argument("--seed", type=int, default=0,
                   help="the model's initial weights and batch order, and the world's pictures unless --world-seed")
    t.add_argument("--world-seed", type=int, default=None,
                   help="the shapes world's seed (default: --seed); the bench's training seeds keep world seed 0")
    t.add_argument("--fast", action="store_true",
                   help="start from the fast recipe (cv.recipe('fast')), not the preset's own (cv.recipe_for(preset))")
    t.add_argument("--n", type=int, default=None, help="training images (default: the recipe's train_images)")
    t.add_argument("--steps", type=int, default=None)
    t.add_argument("--batch-size", type=int, default=None)
    t.add_argument("--lr", type=float, default=None)
    t.add_argument("--sketch-share", type=float, default=None,
                   help="train on photos and sketches: this fraction (0 to 1) drawn as sketches (default: photos only)")
    t.add_argument("--grey-share", type=float, default=None,
                   help="this fraction (0 to 1) of the training pictures black and white, their captions naming no "
                        "colour (default: a tenth of photos; none with --sketch-share; 0 for none)")
    t.add_argument("--mask-false-negatives", action=argparse.BooleanOptionalAction, default=None,
                   help="the experiment: leave a caption out of the softmax of other pictures it is true of, using the "
                        "world's ground truth, which web-scale CLIP does not have (default: off, CLIP's own loss)")
    t.add_argument("--device", default=None, help="cpu, cuda or mps (default: the best available)")
    t.set_defaults(func=_train)
    b = sub.add_parser("bench", help="measure speed and accuracy figures")
    b.add_argument("--quick", action="store_true", help="short runs, for a smoke test")
    b.add_argument("--device", default=None, help="cpu or cuda (default: the best available)")
    b.add_argument("--json", default=None, help="also write the figures to this JSON file")
    b.add_argument("--seeds", type=int, default=1,
                   help="train the recipe at seeds 0..N-1; accuracies per seed and their min and mean over seeds")
    b.set_defaults(func=_bench)
    g = sub.add_parser("binding", help="Winoground scores of three text encoders on two-object scenes (chapter 09)")
    g.add_argument("--quick", action="store_true", help="short runs (about a minute), for a smoke test")
    g.add_argument("--device", default=None, help="cpu, cuda or mps (default: the best available)")
    g.add_argument("--json", default=None, help="also write the scores to this JSON file")
    g.add_argument("--condition", default="clip_like", choices=("clip_like", "dense"),
                   help="clip_like (default): a caption's swap is never in the training data, as on the web; "
                        "dense: every swap is, so it often shares a batch (binding_eval.CONDITIONS)")
    g.add_argument("--encoders", default="bag_of_words,plain,hard_negatives",
                   help="comma-separated text encoders to train (default: all three)")
    g.add_argument("--save", default=None, metavar="DIR",
                   help="also save each model as DIR/binding_[dense_]ENCODER.pt (assets/ holds the shipped ones)")
    g.set_defaults(func=_binding)
    e = sub.add_parser("export", help="write shapes-world pairs and the model config for open_clip's trainer")
    e.add_argument("--n", type=int, default=10000, help="training pairs (default 10000)")
    e.add_argument("--out", required=True, help="folder to write: images/, train.csv, val.csv, model/")
    e.add_argument("--val", type=int, default=None, help="validation pairs (default: n // 10)")
    e.add_argument("--style", default="photo", choices=STYLES, help="how the shapes are drawn")
    e.add_argument("--preset", default="tiny", choices=sorted(PRESETS), help="model config to write")
    e.add_argument("--seed", type=int, default=0, help="ShapesWorld seed (the notebooks use 0)")
    e.add_argument("--gpus", type=int, default=1, help="GPUs in the printed torchrun command")
    e.add_argument("--batch-size", type=int, default=None, help="pairs per GPU per step (default: the kit's 128)")
    e.add_argument("--precision", default="amp", help="open_clip --precision (amp, amp_bf16, fp32, ...)")
    e.set_defaults(func=_export)
    args = parser.parse_args(argv)
    problem = device_problem(args.device) if getattr(args, "device", None) is not None else None
    if problem is not None:  # before any work: one sentence and exit status 2, as argparse does for a bad argument
        here = available_devices()
        print(f"{parser.prog} {args.command}: error: --device {args.device} is not available: {problem}; "
              f"devices here: {', '.join(here)}; pass --device {here[0]}, or leave --device out for the best one",
              file=sys.stderr)
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
