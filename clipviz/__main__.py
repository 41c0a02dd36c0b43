"""Command line: `python -m clipviz train ...` and `python -m clipviz bench ...`.

    python -m clipviz train --preset tiny --out clipviz/assets/mini_clip_shapes.pt
    python -m clipviz bench [--quick] [--device cpu|cuda] [--json PATH]
"""
from __future__ import annotations

import argparse
import sys

from .model import PRESETS


def _train(args) -> int:
    import dataclasses

    from . import ShapesWorld, caption_accuracy, mini_clip, save_checkpoint, train
    from .train import recipe

    changes = {k: v for k, v in dict(steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                                     train_images=args.n).items() if v is not None}
    config = dataclasses.replace(recipe("fast" if args.fast else "normal"), **changes)
    world = ShapesWorld(seed=args.seed)
    data = world.dataset("train", n=config.train_images)
    bundle = mini_clip(args.preset, seed=args.seed, device=args.device)
    print(f"training {bundle} on {len(data)} shapes-world pairs with {config}", flush=True)
    history = train(bundle, data, config, seed=args.seed)
    seen = caption_accuracy(bundle, world.dataset("test", 1000))
    heldout = caption_accuracy(bundle, world.dataset("heldout", 1000))
    print(f"{history.stopped} after {len(history.step)} steps in {history.seconds:.1f} s: "
          f"seen_top1={seen:.3f} heldout_top1={heldout:.3f}")
    if history.stopped != "finished":
        print("training did not finish; not saving", file=sys.stderr)
        return 1
    save_checkpoint(bundle, args.out, **{**dataclasses.asdict(config), "preset": args.preset, "seed": args.seed,
                                         "steps": len(history.step), "seen_top1": seen, "heldout_top1": heldout})
    print(f"saved {args.out}")
    return 0


def _bench(args) -> int:
    from .bench import run_benchmarks
    run_benchmarks(quick=args.quick, device=args.device, json_path=args.json)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clipviz", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a mini CLIP on the shapes world and save it")
    t.add_argument("--preset", default="tiny", choices=sorted(PRESETS), help="model preset")
    t.add_argument("--out", required=True, help="checkpoint path to write")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--fast", action="store_true", help="start from the fast recipe (cv.recipe('fast'))")
    t.add_argument("--n", type=int, default=None, help="training images (default: the recipe's train_images)")
    t.add_argument("--steps", type=int, default=None)
    t.add_argument("--batch-size", type=int, default=None)
    t.add_argument("--lr", type=float, default=None)
    t.add_argument("--device", default=None, help="cpu, cuda or mps (default: the best available)")
    t.set_defaults(func=_train)
    b = sub.add_parser("bench", help="measure speed and accuracy figures")
    b.add_argument("--quick", action="store_true", help="short runs, for a smoke test")
    b.add_argument("--device", default=None, help="cpu or cuda (default: the best available)")
    b.add_argument("--json", default=None, help="also write the figures to this JSON file")
    b.set_defaults(func=_bench)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
