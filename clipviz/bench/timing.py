"""Timing helpers shared by the benchmarks: medians of repeated calls, and waiting for the GPU."""
from __future__ import annotations

import statistics
import time

import torch


def median_ms(fn, repeats: int) -> float:
    """Median wall-clock time of `repeats` calls of fn(), in milliseconds."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def sync(device: torch.device) -> None:
    """Wait for queued GPU work, so a timer stopped next measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize()
