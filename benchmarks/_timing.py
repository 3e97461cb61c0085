"""Timing for benchmarks: the best of several runs, as every figure here is quoted."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


def best(fn: Callable[[], T], repeat: int) -> tuple[float, T]:
    """``(seconds, result)``: the least wall time of ``repeat`` calls of ``fn`` (the one least
    disturbed by the rest of a noisy machine) and the last call's result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result
