"""Run the benchmarks, one after another, and record what they measured and on what machine.

Run: ``python benchmarks/run.py [NAME ...] [--output PATH]`` (or ``nox -s bench [-- NAME ...]``).
With no NAME every ``benchmarks/bench_*.py`` runs; ``import``, ``bench_import`` and
``bench_import.py`` all select one. The results table and a machine block are printed and
written to ``benchmarks/results.md``. Exit status 1 when any target FAILs or a script breaks.

Writing a benchmark that fits
-----------------------------
One script per question, ``benchmarks/bench_<name>.py``, that:

* measures against an anchor timed **in the same run** (never a stored number), and judges a
  ratio or count against its target;
* takes ``--json PATH`` and writes there one result object or a JSON list of them;
* prints its own table and a last verdict line ``<name>: PASS`` or ``<name>: FAIL``;
* exits 0 when every target is met, 1 when one is missed, anything else (or writes no JSON)
  when it could not measure; ``run.py`` judges by the JSON's ``passed`` fields;
* stays under about a minute.

A result object::

    {
      "name": "urls.public_url[typical]",   # unique in the run; "<script>.<row>" by convention
      "label": "R2Store.public_url(key), typical key",          # what "value" is, for people
      "value": 1.58,                        # the measurement
      "unit": "µs",                         # of value and anchor: "µs", "ms", "MB/s", "requests"
      "anchor": 0.65,                       # the same-run anchor in the same unit, or null
      "anchor_label": "f-string and quote()",  # what the anchor is
      "ratio": 2.42,                        # value/anchor (a slowdown), anchor/value (a
                                            # speedup) or a count, or null
      "target": "<= 1.3x floor",            # the target in words, naming the figure it
                                            # judges; null for a context row
      "passed": false                       # null for a context row (measured, not judged)
    }

Only ``name``, ``value`` and ``passed`` are required; other keys are kept and ignored. The
``value_<unit>`` / ``anchor_<unit>`` spelling of ``bench_presign.py`` (``value_us``) is read
as ``value`` / ``anchor`` with that unit.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
UNITS = {"us": "µs", "ns": "ns", "ms": "ms", "s": "s"}
#: Distributions whose versions go into the machine block (missing ones are listed as such).
PACKAGES = ("boto3", "botocore", "attrs", "moto", "django", "django-storages", "whitenoise")


def discover(names: list[str]) -> list[Path]:
    """The benchmark scripts to run: all of them, or the ones *names* select."""
    scripts = sorted(HERE.glob("bench_*.py"))
    if not names:
        return scripts
    by_name = {s.stem.removeprefix("bench_"): s for s in scripts}
    chosen = []
    for name in names:
        short = Path(name).name.removesuffix(".py").removeprefix("bench_")
        if short not in by_name:
            raise SystemExit(f"run: no benchmark {name!r}; there are: {', '.join(by_name)}")
        chosen.append(by_name[short])
    return chosen


def _summary(script: Path) -> str:
    """The first line of the script's docstring: what it asks."""
    try:
        docstring = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8")))
    except (OSError, SyntaxError):
        return ""
    return docstring.splitlines()[0].replace("``", "`") if docstring else ""


def normalise(raw: Any, script: str) -> dict[str, Any]:
    """One result object in the documented shape; raises ``ValueError`` when it cannot be."""
    if not isinstance(raw, dict):
        raise ValueError(f"a result must be a JSON object, got {type(raw).__name__}")
    row = dict(raw)
    for field in ("value", "anchor"):
        if field in row:
            continue
        spelled = [k for k in row if k.startswith(f"{field}_") and k != "anchor_label"]
        if len(spelled) == 1:
            unit = spelled[0].removeprefix(f"{field}_")
            row[field] = row.pop(spelled[0])
            row.setdefault("unit", UNITS.get(unit, unit))
    missing = [k for k in ("name", "value", "passed") if k not in row]
    if missing:
        raise ValueError(f"result lacks {', '.join(missing)}: {raw!r}")
    if row["passed"] is not None and not isinstance(row["passed"], bool):
        raise ValueError(f"'passed' must be true, false or null, got {row['passed']!r}")
    row.setdefault("script", script)
    for key in ("label", "unit", "anchor", "anchor_label", "ratio", "target"):
        row.setdefault(key, None)
    return row


def run_script(script: Path, timeout: float) -> tuple[list[dict[str, Any]], float]:
    """Run one benchmark; its rows (an ERROR row when it broke) and its wall time in seconds."""
    name = script.stem.removeprefix("bench_")
    print(f"== {script.name}", flush=True)
    with tempfile.TemporaryDirectory(prefix="r2store-bench-") as tmp:
        out = Path(tmp) / "result.json"
        start = time.perf_counter()
        try:
            done = subprocess.run(
                [sys.executable, str(script), "--json", str(out)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return [_error(name, f"did not finish in {timeout:g} s")], time.perf_counter() - start
        seconds = time.perf_counter() - start
        print(done.stdout, end="")
        print(done.stderr, end="", file=sys.stderr)
        if not out.exists():
            return [_error(name, f"wrote no JSON (exit status {done.returncode})")], seconds
        try:
            data = json.loads(out.read_text(encoding="utf-8"))
            rows = [normalise(item, name) for item in (data if isinstance(data, list) else [data])]
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            return [_error(name, f"wrote unreadable JSON: {exc}")], seconds
    for row in rows:
        row["label"] = row["label"] or _summary(script)
    judged = [r["passed"] for r in rows if r["passed"] is not None]
    if done.returncode not in (0, 1) or (done.returncode == 1 and all(judged)):
        rows.append(_error(name, f"exit status {done.returncode} does not match its results"))
    return rows, seconds


def _error(script: str, message: str) -> dict[str, Any]:
    return normalise(
        {"name": f"{script} (error)", "value": None, "passed": False, "label": message}, script
    ) | {"error": True}


def _number(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    magnitude = abs(value)
    return (
        f"{value:,.0f}"
        if magnitude >= 100
        else f"{value:.1f}"
        if magnitude >= 10
        else f"{value:.2f}"
    )


def _with_unit(value: Any, unit: str | None) -> str:
    text = _number(value)
    if not text or not unit:
        return text
    # "1 request", "2 requests"; units like "ms" and "MB/s" stay as they are.
    if value == 1 and len(unit) > 2 and unit.isalpha() and unit.endswith("s"):
        unit = unit[:-1]
    return f"{text} {unit}"


def _verdict(row: dict[str, Any]) -> str:
    if row.get("error"):
        return "**ERROR**"
    if row["passed"] is None:
        return "context"
    return "PASS" if row["passed"] else "**FAIL**"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(rows: list[dict[str, Any]]) -> str:
    """The results as a Markdown table."""
    lines = [
        "| benchmark | what | measured | anchor | ratio | target | result |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for r in rows:
        anchor = _with_unit(r["anchor"], r["unit"])
        if r["anchor_label"]:
            anchor = f"{anchor} ({r['anchor_label']})" if anchor else r["anchor_label"]
        ratio = r["ratio"]
        ratio_text = f"{_number(ratio)}x" if isinstance(ratio, float) else _number(ratio)
        cells = [
            f"`{r['name']}`",
            r["label"] or "",
            _with_unit(r["value"], r["unit"]),
            anchor,
            ratio_text,
            r["target"] or "-",
            _verdict(r),
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return ""


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _commit() -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() or "unknown"


def machine() -> str:
    """What the numbers were measured on, as a fenced block."""
    cpuinfo = _read("/proc/cpuinfo")
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line),
        platform.processor() or platform.machine(),
    )
    meminfo = _read("/proc/meminfo")
    kib = next((int(line.split()[1]) for line in meminfo.splitlines() if "MemTotal" in line), 0)
    memory = f"{kib / 1024**2:.1f} GiB" if kib else "unknown"
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    release = dict(
        line.split("=", 1) for line in _read("/etc/os-release").splitlines() if "=" in line
    )
    system = release.get("PRETTY_NAME", "").strip('"') or platform.system()
    now = datetime.datetime.now(datetime.timezone.utc)
    packages = ", ".join(f"{name} {_version(name)}" for name in PACKAGES)
    return "\n".join(
        [
            "```",
            f"date:     {now:%Y-%m-%d %H:%M} UTC",
            f"commit:   {_commit()} (plus any uncommitted changes)",
            f"cpu:      {model}, {os.cpu_count()} cores ({usable} usable)",
            f"memory:   {memory}",
            f"os:       {system}, {platform.system()} {platform.release()} {platform.machine()}",
            f"python:   {platform.python_implementation()} {platform.python_version()}",
            f"packages: {packages}",
            "```",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks, print and write the report, and say whether all passed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (default all)")
    parser.add_argument(
        "--output", type=Path, default=HERE / "results.md", help="where to write the report"
    )
    parser.add_argument("--timeout", type=float, default=300, help="seconds allowed per script")
    args = parser.parse_args(argv)

    rows: list[dict[str, Any]] = []
    durations: list[str] = []
    for script in discover(args.names):
        script_rows, seconds = run_script(script, args.timeout)
        rows += script_rows
        durations.append(f"{script.name} {seconds:.0f} s")
        print(flush=True)

    failed = [r["name"] for r in rows if r["passed"] is False]
    verdict = f"FAIL: {', '.join(failed)}" if failed else "PASS: every target met"
    report = "\n\n".join(
        [
            "# Benchmark results",
            table(rows),
            f"{verdict}. Run times: {'; '.join(durations)}.",
            machine(),
        ]
    )
    print(report)
    args.output.write_text(report + "\n", encoding="utf-8")
    print(f"\nwritten to {args.output}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
