"""What does ``import r2store`` cost a process that starts up, and what does it pull in?

Anchor: a bare interpreter (``python -c pass``), timed in the same run.
Target: ``import r2store`` adds at most 50 ms of wall time (median over fresh processes).
Also FAIL if importing r2store loaded boto3, botocore, s3transfer, urllib3 or a web
framework: the core promises to import none of them until the first request.

Each row is a fresh ``python -c`` subprocess (``sys.executable``, cwd and ``PYTHONPATH`` =
this checkout), the rows interleaved in a shuffled order each round so that drift in the
machine's speed falls on all of them alike. One warm-up round first writes the bytecode
caches, as a deployed app has them. ``import attrs``, ``import boto3`` and, when installed,
``import storages.backends.s3`` (django-storages) are timed for context.

Run: ``python benchmarks/bench_import.py [--json PATH] [--runs N]``
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_MS = 50.0
#: Top-level packages the core must not import (s3transfer and urllib3 come with boto3).
FORBIDDEN = frozenset(
    {
        "boto3",
        "botocore",
        "s3transfer",
        "urllib3",
        "django",
        "flask",
        "werkzeug",
        "starlette",
        "fastapi",
        "uvicorn",
        "asgiref",
    }
)
# Every subprocess runs the same report after its statement, so the rows differ only by the
# import being measured. It prints the number of modules loaded, then the forbidden ones.
_REPORT = (
    "import sys\n"
    "_top = {{m.partition('.')[0] for m in sys.modules}}\n"
    "print(len(sys.modules), *sorted(_top & {forbidden!r}))\n"
)


def _code(statement: str) -> str:
    return f"{statement}\n" + _REPORT.format(forbidden=set(FORBIDDEN))


def _environ() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    # Django's settings must not be configured for the django-storages row (it needs none
    # to import), and startup hooks or a disabled bytecode cache would distort every row.
    for name in ("DJANGO_SETTINGS_MODULE", "PYTHONSTARTUP", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)
    return env


def _run(code: str, env: dict[str, str]) -> tuple[float, str]:
    """Wall time of one fresh interpreter running *code*, in ms, and its report line."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    elapsed = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        raise SystemExit(f"import: {code.splitlines()[0]!r} failed:\n{done.stderr}")
    return elapsed, done.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    """Time the imports, print the table and the verdict; optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--runs", type=int, default=30, help="fresh processes per row")
    args = parser.parse_args(argv)

    rows = {
        "bare": "pass",
        "r2store": "import r2store",
        "attrs": "import attrs",
        "boto3": "import boto3",
    }
    # find_spec("storages.backends.s3") would import the parent package here; look for the
    # distribution's top-level package only.
    if all(importlib.util.find_spec(name) for name in ("storages", "django")):
        rows["django-storages"] = "import storages.backends.s3"
    codes = {label: _code(statement) for label, statement in rows.items()}
    env = _environ()

    times: dict[str, list[float]] = {label: [] for label in rows}
    modules: dict[str, list[int]] = {label: [] for label in rows}
    loaded: dict[str, set[str]] = {label: set() for label in rows}
    order = list(rows)
    # A fixed seed: the same orders every run; nothing secret depends on it.
    shuffle = random.Random(20261125).shuffle  # noqa: S311
    for round_ in range(args.runs + 1):
        shuffle(order)
        for label in order:
            elapsed, report = _run(codes[label], env)
            count, *names = report.split()
            modules[label].append(int(count))
            loaded[label].update(names)
            if round_:  # round 0 warms the bytecode caches and the page cache
                times[label].append(elapsed)

    median = {label: statistics.median(values) for label, values in times.items()}
    bare = median["bare"]
    extra = median["r2store"] - bare
    # Any run that saw a forbidden package counts, warm-up included.
    found = sorted(loaded["r2store"])
    fast_enough = extra <= TARGET_MS
    passed = fast_enough and not found

    print(f"import: wall time of a fresh `python -c`, median of {args.runs} interleaved runs")
    print(f"  {'statement':32} {'median':>9} {'over bare':>10} {'modules':>8}")
    for label, statement in rows.items():
        over = "" if label == "bare" else f"{median[label] - bare:+8.1f} ms"
        print(f"  {statement:32} {median[label]:6.1f} ms {over:>10} {max(modules[label]):8d}")
    print(f"  r2store over bare: {extra:.1f} ms (target <= {TARGET_MS:g} ms)")
    if found:
        print(f"  import r2store loaded: {', '.join(found)}  (must load none of these)")
    else:
        print("  import r2store loaded none of: " + ", ".join(sorted(FORBIDDEN)))
    print(f"import: {'PASS' if passed else 'FAIL'}")

    if args.json is not None:
        results: list[dict[str, object]] = [
            {
                "name": "import.r2store",
                "label": "import r2store, ms over a bare interpreter",
                "value": round(extra, 2),
                "unit": "ms",
                "anchor": round(bare, 2),
                "anchor_label": "python -c pass, median",
                # Whole process time against the bare one; the target judges the difference.
                "ratio": round(median["r2store"] / bare, 2),
                "target": f"<= {TARGET_MS:g} ms over bare",
                "passed": fast_enough,
            },
            {
                "name": "import.r2store.no_heavy_modules",
                "label": "heavy or framework packages loaded by import r2store",
                "value": len(found),
                "unit": "packages",
                "anchor": None,
                "anchor_label": ", ".join(found) or "none loaded",
                "ratio": len(found),
                "target": "0 (no boto3/botocore/s3transfer/urllib3/framework)",
                "passed": not found,
            },
        ]
        results += [
            {
                "name": f"import.{label}",
                "label": f"{statement}, ms over a bare interpreter",
                "value": round(median[label] - bare, 2),
                "unit": "ms",
                "anchor": round(bare, 2),
                "anchor_label": "python -c pass, median",
                "ratio": round(median[label] / bare, 2),
                "target": None,
                "passed": None,
            }
            for label, statement in rows.items()
            if label not in ("bare", "r2store")
        ]
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
