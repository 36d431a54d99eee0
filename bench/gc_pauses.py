"""Garbage-collector pauses of the benchmark's web workers, written where bench/load.py can read them.

bench/load_settings.py calls `install()` in each gunicorn worker when BENCH_GC_DIR is set. A collection holds
the GIL, so while it runs every thread of that worker waits; each pause of at least MIN_MS is appended to
`<BENCH_GC_DIR>/<pid>.log` as `<unix time> <generation> <milliseconds>` (shorter ones, most of them, are
not written: a line per collection would cost more than the collections).
"""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path

MIN_MS = 1.0


def install(directory: str) -> None:
    log = (Path(directory) / f"{os.getpid()}.log").open("a", buffering=1)
    started = [0.0]

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        ms = (time.perf_counter() - started[0]) * 1000
        if ms >= MIN_MS:
            log.write(f"{time.time():.3f} {info['generation']} {ms:.2f}\n")

    gc.callbacks.append(callback)


def summary(directory: Path, since: float, until: float) -> dict[int, tuple[int, float, float]]:
    """Per generation: (pauses ≥ MIN_MS, their total ms, the longest) between two unix times."""
    pauses: dict[int, list[float]] = {}
    for path in directory.glob("*.log"):
        for line in path.read_text().splitlines():
            stamp, generation, ms = line.split()
            if since <= float(stamp) <= until:
                pauses.setdefault(int(generation), []).append(float(ms))
    return {generation: (len(ms), sum(ms), max(ms)) for generation, ms in sorted(pauses.items())}
