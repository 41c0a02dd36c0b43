"""Benchmark figures for a full-size CLIP on the bundled photos: what the "CLIP on real photos" notebook costs.

Two figures, measured with a randomly initialised ViT-B-32 (the same compute and memory
as a pretrained one, and no download):
    vitb32_prompt_update_ms  one prompt change in the prompt-effects widget: encode five
                             prompts, compare them with the eight cached photo embeddings,
                             softmax; the median over repeats, in milliseconds (target <= 300)
    vitb32_peak_rss_mb       peak resident memory of a Python process that did only that
                             notebook's work, in MB (target <= 1500; Binder allows 2 GB)
and, to read the first on a busy machine, vitb32_prompt_update_cpu_ms: the CPU time of one
prompt change, summed over torch's threads (other processes do not inflate it).

The work runs in a fresh subprocess (`python -m clipviz.bench.pretrained`), so the memory
figure is not inflated by whatever the benchmark process did before it.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

# Five prompts for one image set, as a student might type them; {} is swapped on each change.
PROMPTS = ("a photo of a {}", "a sketch of a {}", "a close-up of a {}", "a blurry photo of a {}", "a {}")
SUBJECTS = ("cat", "rocket", "horse", "cup of coffee", "motorcycle", "astronaut", "camera", "page of text")


def _peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (10^6 bytes).

    On Linux it reads VmHWM, which starts afresh at exec; ru_maxrss would carry over the
    peak of the (large) parent that forked this process.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / 1e6  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / 1e6 if sys.platform == "darwin" else peak * 1024 / 1e6


def measure(device: str | None, repeats: int, precision: str = "bf16") -> dict:
    """The notebook's work, timed: load ViT-B-32, encode the 8 photos, then `repeats` prompt changes."""
    import torch

    import clipviz as cv
    from clipviz.photos import load_photos

    # 1) what the chapter does once: load the model, encode the photos and keep their embeddings
    bundle = cv.load_clip("ViT-B-32", pretrained=None, device=device, precision=precision)  # as the chapter does
    images = [image for _, image, _ in load_photos()]
    image_emb = cv.encode_images(bundle, images)  # (8, 512)
    logit_scale = bundle.model.logit_scale.exp().item()

    # 2) one prompt change: five new prompts -> text embeddings -> similarities -> probabilities
    def prompt_change(subject: str) -> torch.Tensor:
        text_emb = cv.encode_texts(bundle, [p.format(subject) for p in PROMPTS])  # (5, 512)
        sims = cv.similarity_matrix(image_emb, text_emb)  # (8, 5) cosines
        return (logit_scale * sims).softmax(dim=-1)  # (8, 5): each photo's probabilities over the prompts

    for subject in SUBJECTS[:2]:  # warm-up: first calls allocate buffers and pick kernels
        prompt_change(subject)
    wall, cpu = [], []
    for i in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        prompt_change(SUBJECTS[i % len(SUBJECTS)]).tolist()  # .tolist(): wait for the result, as a redraw would
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return {"vitb32_precision": precision, "vitb32_prompt_update_ms": 1000 * statistics.median(wall),
            "vitb32_prompt_update_cpu_ms": 1000 * statistics.median(cpu),
            "vitb32_peak_rss_mb": _peak_rss_mb()}


def bench_vitb32(device, quick: bool) -> dict:
    """Run `measure` in a fresh Python process and return its figures."""
    package_parent = str(Path(__file__).resolve().parent.parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")])))
    command = [sys.executable, "-m", "clipviz.bench.pretrained", "--device", str(device),
               "--repeats", str(5 if quick else 10)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"the ViT-B-32 benchmark process failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clipviz.bench.pretrained", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default=None, help="cpu, cuda or mps (default: the best available)")
    parser.add_argument("--repeats", type=int, default=10, help="prompt changes to time (the median is kept)")
    parser.add_argument("--precision", default="bf16", choices=["bf16", "fp32"], help="weights' precision")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.device, args.repeats, args.precision)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
