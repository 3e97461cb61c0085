"""Run the fault-injection tests and print their figures as the table of docs/reliability.md.

    python benchmarks/fault_report.py            # runs tests/faults (about 3-4 minutes on 2 cores)
    python benchmarks/fault_report.py --k crash  # only some tests (pytest -k expression)

Each fault test appends one JSON line (promise, test, faults injected, runs completed, rows lost,
extras) to the file named by ``INPAINT_FAULT_REPORT``; this script sets it, runs pytest, and prints
the lines as a markdown table plus the totals. Exit status: pytest's, or 1 if any row was lost.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def table(lines: list[dict]) -> str:
    out = ["| promise | test | faults injected | runs completed | rows lost |", "|---|---|---|---|---|"]
    for r in lines:
        out.append(f"| {r['promise']} | `{r['test']}` | {r['faults_injected']} | {r['runs_completed']} | "
                   f"{r['rows_lost']} |")
    return "\n".join(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--k", help="pytest -k expression")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "faults.jsonl")
        env = dict(os.environ, INPAINT_FAULT_REPORT=report, PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/faults",
               "--ignore-glob=tests/faults/test_hostile*", "--ignore-glob=tests/faults/test_fuzz*",
               "--ignore-glob=tests/faults/test_credentials*", "--ignore-glob=tests/faults/test_checkpoint*"]
        if args.k:
            cmd += ["-k", args.k]
        t = time.perf_counter()
        rc = subprocess.call(cmd, env=env)
        seconds = time.perf_counter() - t
        lines = [json.loads(x) for x in open(report)] if os.path.exists(report) else []
    print()
    print(table(lines))
    for r in lines:
        extra = {k: v for k, v in r.items()
                 if k not in ("promise", "test", "faults_injected", "runs_completed", "rows_lost")}
        if extra:
            print(f"- {r['promise']}: {json.dumps(extra)}")
    lost = sum(r["rows_lost"] for r in lines)
    print(f"\n{len(lines)} fault tests reported, {sum(r['faults_injected'] for r in lines)} faults injected, "
          f"{sum(r['runs_completed'] for r in lines)} runs completed, {lost} rows lost; pytest exit {rc}, "
          f"{seconds:.0f} s")
    return rc or (1 if lost else 0)


if __name__ == "__main__":
    sys.exit(main())
