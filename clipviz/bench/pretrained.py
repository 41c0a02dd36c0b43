"""Benchmark figures for a full-size CLIP on the bundled photos: what the "CLIP on real photos" notebook costs.

Measured with a randomly initialised ViT-B-32 (the same compute and memory as a pretrained one, and no
download), with the chapter's own default precision ("auto": bf16 only on a CPU with native bf16):
    vitb32_prompt_update_ms        one prompt change in the prompt-effects widget: encode five prompts,
                                   compare them with the eight cached photo embeddings, softmax; the median
                                   over repeats, in milliseconds (target <= 300 on a 2-core AVX2 laptop)
    vitb32_peak_rss_mb             peak resident memory of a Python process that did only that work on
                                   random weights (the chapter offline), in MB (target <= 1500; Binder: 2 GB)
    vitb32_file_load_peak_rss_mb   the same, with the weights loaded from a file as a student's are: a
                                   random ViT-B-32 state dict written to disk, then load_clip(pretrained=file)
and, to read them on a busy machine, vitb32_prompt_update_cpu_ms: the CPU time of one prompt change, summed
over torch's threads (other processes do not inflate it). vitb32_precision says what "auto" chose here; the
vitb32_fp32_* figures repeat the file-load run in fp32, what "auto" picks on a CPU without native bf16.

Each run is a fresh subprocess (`python -m clipviz.bench.pretrained`), so the memory figures are not
inflated by whatever the benchmark process did before it.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
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


def measure(device: str | None, repeats: int, precision: str = "auto", weights: str | None = None) -> dict:
    """The notebook's work, timed: load ViT-B-32 (random, or from the file `weights`), encode the 8 photos,
    then `repeats` prompt changes. Returns the figures without a prefix ("prompt_update_ms", ...)."""
    import torch

    import clipviz as cv
    from clipviz.pretrained import choose_precision
    from clipviz.photos import load_photos

    # 1) what the chapter does once: load the model, encode the photos and keep their embeddings
    bundle = cv.load_clip("ViT-B-32", pretrained=weights, device=device, precision=precision)
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
    chosen = choose_precision(device)[0] if precision == "auto" else precision
    return {"precision": chosen, "prompt_update_ms": 1000 * statistics.median(wall),
            "prompt_update_cpu_ms": 1000 * statistics.median(cpu), "peak_rss_mb": _peak_rss_mb()}


def write_random_weights(path: str) -> None:
    """A random ViT-B-32 state dict saved with torch.save, as a stand-in for the 600 MB pretrained file."""
    import open_clip
    import torch

    from clipviz.model import _quiet_open_clip

    torch.manual_seed(0)
    with _quiet_open_clip():  # "No pretrained weights loaded": random ones are the point
        model = open_clip.create_model("ViT-B-32", pretrained=None)
    torch.save(model.state_dict(), path)


def _run(*args: str, timeout: float = 900) -> dict:
    """`python -m clipviz.bench.pretrained ARGS` in a fresh process; its last stdout line, read as JSON."""
    package_parent = str(Path(__file__).resolve().parent.parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, "-m", "clipviz.bench.pretrained", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"the ViT-B-32 benchmark process failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1] or "{}")


def bench_vitb32(device, quick: bool) -> dict:
    """Run `measure` in fresh Python processes: random weights, then a weights file in "auto" and in fp32."""
    repeats = ["--device", str(device), "--repeats", str(5 if quick else 10)]
    random = _run(*repeats)
    with tempfile.TemporaryDirectory(prefix="clipviz-vitb32-") as folder:
        weights = os.path.join(folder, "vitb32_random.pt")
        _run("--write-weights", weights)
        from_file = _run(*repeats, "--weights", weights)
        fp32 = _run(*repeats, "--weights", weights, "--precision", "fp32")
    return {"vitb32_precision": from_file["precision"], "vitb32_prompt_update_ms": from_file["prompt_update_ms"],
            "vitb32_prompt_update_cpu_ms": from_file["prompt_update_cpu_ms"],
            "vitb32_peak_rss_mb": random["peak_rss_mb"], "vitb32_file_load_peak_rss_mb": from_file["peak_rss_mb"],
            "vitb32_fp32_prompt_update_ms": fp32["prompt_update_ms"],
            "vitb32_fp32_prompt_update_cpu_ms": fp32["prompt_update_cpu_ms"],
            "vitb32_fp32_file_load_peak_rss_mb": fp32["peak_rss_mb"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clipviz.bench.pretrained", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default=None, help="cpu, cuda or mps (default: the best available)")
    parser.add_argument("--repeats", type=int, default=10, help="prompt changes to time (the median is kept)")
    parser.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"],
                        help="weights' precision (default: auto, as the chapter)")
    parser.add_argument("--weights", default=None, help="a weights file to load (default: random weights)")
    parser.add_argument("--write-weights", metavar="PATH", help="only write a random ViT-B-32 state dict to PATH")
    args = parser.parse_args(argv)
    if args.write_weights:
        write_random_weights(args.write_weights)
        print("{}")
        return 0
    print(json.dumps(measure(args.device, args.repeats, args.precision, args.weights)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
