"""Does the media proxy serve a 256 MiB local file (LocalStore) as fast as whitenoise does?

One folder, one 256 MiB file of random bytes in it, saved with ``LocalStore.save`` (so it
has its sidecar, as an app's uploads do). Two gunicorn servers with the same settings
(``-w 1 -k gthread --threads 4``, sendfile on, as ``bench_proxy_stream.py``'s) serve it:

* ``r2store.wsgi.R2ProxyApp`` over ``LocalStore(LocalConfig(root=folder))``; the proxy hands
  the open file to ``wsgi.file_wrapper``, so gunicorn may ``sendfile`` it;
* the anchor, whitenoise's ``WhiteNoise`` WSGI app over the same folder (``root=folder``),
  which hands its open file to ``wsgi.file_wrapper`` too.

A client in this process reads the whole body with urllib3 (``read(1 MiB)`` to the end),
alternating between the two servers, ``--runs`` reads each after two warm-up reads each (the
first of which must give the file's bytes).

Targets:

* throughput of the proxy (median of the runs) at least 0.9x whitenoise's median;
* peak RSS growth of the proxy's gunicorn worker at most 8 MiB: ``VmHWM`` (reset through
  ``clear_refs`` after the warm-up) and a 5 ms ``VmRSS`` poll, against ``VmRSS`` after the
  warm-up;
* ranges through the same path: ``bytes=1000-66535``, ``bytes=-4096`` and
  ``bytes=268434432-`` give 206 with the right ``Content-Range``, ``Content-Length`` and bytes.

Context, without a target: time to first byte (median) of both; whitenoise's RSS growth.

Needs gunicorn and whitenoise (the ``bench`` dependency group).
Run: ``python benchmarks/bench_local_serve.py [--json PATH] [--runs N] [--size-mib N]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Run from a checkout without installing: put the repository root first on the path.
# (The script's own directory, with _reads.py and _upstream.py, is on it already.)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import urllib3
from _reads import (
    MiB,
    Read,
    gunicorn_argv,
    http_read,
    make_object,
    median_mb_s,
    median_ttfb_ms,
)
from _upstream import (
    RssSampler,
    UpstreamError,
    free_port,
    only_child,
    peak_rss_kib,
    reset_peak_rss,
    rss_kib,
    running,
)

ROOT = Path(__file__).resolve().parents[1]
KEY = "media/local-256.bin"
THROUGHPUT_TARGET = 0.90
RSS_TARGET_MIB = 8.0

# The two apps gunicorn loads, written into a temporary directory. The r2store one imports
# this checkout (it is first on PYTHONPATH).
APPS = {
    "local_r2store": """\
import os
from r2store import LocalConfig, LocalStore
from r2store.wsgi import R2ProxyApp

app = R2ProxyApp(LocalStore(LocalConfig(root=os.environ["BENCH_ROOT"])))
""",
    "local_whitenoise": """\
import os
from whitenoise import WhiteNoise

def not_found(environ, start_response):
    start_response("404 Not Found", [("Content-Length", "0")])
    return []

app = WhiteNoise(not_found, root=os.environ["BENCH_ROOT"])
""",
}


@dataclass
class Served:
    """One server's reads and its worker's RSS growth."""

    name: str
    label: str
    port: int
    worker: int
    reads: list[Read] = field(default_factory=list)
    rss_baseline_kib: int = 0
    rss_peak_kib: int = 0
    hwm_reset: bool = False

    @property
    def rss_growth_mib(self) -> float:
        return (self.rss_peak_kib - self.rss_baseline_kib) / 1024


@contextmanager
def serving(app: str, folder: Path, work: Path) -> Iterator[tuple[int, int]]:
    """gunicorn serving *app* over *folder*; yields its port and its worker's pid."""
    port = free_port()
    env = {
        **os.environ,
        "BENCH_ROOT": str(folder),
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(ROOT), str(work / "apps"), os.environ.get("PYTHONPATH")])
        ),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    argv = gunicorn_argv(port, work / "apps", app)
    with running(argv, port=port, log=work / f"{app}.log", env=env) as proc:
        yield port, only_child(proc.pid)


def check_ranges(pool: urllib3.HTTPConnectionPool, source: Path, size: int) -> list[str]:
    """Ranged GETs through the proxy; the problems found (none when all are right)."""
    problems = []
    for header, first, last in (
        ("bytes=1000-66535", 1000, 66535),
        ("bytes=-4096", size - 4096, size - 1),
        (f"bytes={size - MiB}-", size - MiB, size - 1),
    ):
        response = pool.request("GET", f"/{KEY}", headers={"Range": header})
        with source.open("rb") as file:
            file.seek(first)
            expected = file.read(last - first + 1)
        wanted = {
            "status": 206,
            "content-range": f"bytes {first}-{last}/{size}",
            "content-length": str(len(expected)),
        }
        got = {
            "status": response.status,
            "content-range": response.headers.get("Content-Range"),
            "content-length": response.headers.get("Content-Length"),
        }
        if got != wanted:
            problems.append(f"Range: {header}: got {got}, wanted {wanted}")
        elif response.data != expected:
            problems.append(f"Range: {header}: wrong bytes")
    return problems


def measure(args: argparse.Namespace, work: Path) -> tuple[Served, Served, list[str]]:
    """Save the file, start both servers, warm them up, then alternate reads."""
    from r2store import LocalConfig, LocalStore

    (work / "apps").mkdir()
    for module, source in APPS.items():
        (work / "apps" / f"{module}.py").write_text(source, encoding="utf-8")
    size = args.size_mib * MiB
    source = work / "source.bin"
    digest = make_object(source, size)
    folder = work / "media"
    with source.open("rb") as body:
        LocalStore(LocalConfig(root=str(folder))).save(KEY, body)

    with ExitStack() as stack:
        servers = []
        for app, name, label in (
            ("local_r2store", "r2store", "r2store WSGI R2ProxyApp over LocalStore, gunicorn"),
            ("local_whitenoise", "whitenoise", "whitenoise WhiteNoise(root=folder), gunicorn"),
        ):
            port, worker = stack.enter_context(serving(app, folder, work))
            pool = urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=1, retries=False)
            stack.callback(pool.close)
            servers.append((Served(name, label, port, worker), pool))
        ours, anchor = (served for served, _ in servers)
        # Warm-up: imports, the first request's work, the page cache. The first read also
        # proves each server sends the file's bytes, not just the right number of them.
        for served, pool in servers:
            check = hashlib.blake2b()
            http_read(pool, f"/{KEY}", size, check)
            if check.hexdigest() != digest:
                raise SystemExit(f"local_serve: {served.name} sent different bytes")
            http_read(pool, f"/{KEY}", size)
        problems = check_ranges(servers[0][1], source, size)
        with ExitStack() as samplers:
            for served, _ in servers:
                served.hwm_reset = reset_peak_rss(served.worker)
                served.rss_baseline_kib = rss_kib(served.worker)
            sampled = [samplers.enter_context(RssSampler(s.worker)) for s, _ in servers]
            for run in range(args.runs):
                # Alternate which goes first, so neither always follows the other's read.
                for served, pool in servers if run % 2 == 0 else servers[::-1]:
                    served.reads.append(http_read(pool, f"/{KEY}", size))
        for (served, _), sampler in zip(servers, sampled, strict=True):
            hwm = peak_rss_kib(served.worker) if served.hwm_reset else 0
            served.rss_peak_kib = max(hwm, sampler.peak_kib)
    return ours, anchor, problems


def rows(ours: Served, anchor: Served, problems: list[str], runs: int) -> list[dict[str, Any]]:
    """Result objects (run.py's shape)."""
    ratio = median_mb_s(ours.reads) / median_mb_s(anchor.reads)
    growth = ours.rss_growth_mib
    return [
        {
            "name": "local_serve.throughput",
            "label": f"{ours.label}: 256 MiB file, median of {runs} reads",
            "value": round(median_mb_s(ours.reads), 1),
            "unit": "MB/s",
            "anchor": round(median_mb_s(anchor.reads), 1),
            "anchor_label": anchor.label,
            "ratio": round(ratio, 3),
            "target": f">= {THROUGHPUT_TARGET:g}x whitenoise",
            "passed": ratio >= THROUGHPUT_TARGET,
            "runs_mb_s": [round(r.mb_s, 1) for r in ours.reads],
            "anchor_runs_mb_s": [round(r.mb_s, 1) for r in anchor.reads],
        },
        {
            "name": "local_serve.rss",
            "label": f"{ours.label}: peak RSS growth of the worker while serving",
            "value": round(growth, 2),
            "unit": "MiB",
            "anchor": round(ours.rss_baseline_kib / 1024, 1),
            "anchor_label": "RSS after warm-up",
            "ratio": None,
            "target": f"<= {RSS_TARGET_MIB:g} MiB",
            "passed": growth <= RSS_TARGET_MIB,
        },
        {
            "name": "local_serve.range",
            "label": f"{ours.label}: ranged GETs answered 206 with the right bytes",
            "value": 3 - len(problems),
            "unit": "of 3",
            "anchor": None,
            "anchor_label": None,
            "ratio": None,
            "target": "3 of 3",
            "passed": not problems,
            "problems": problems,
        },
        {
            "name": "local_serve.ttfb",
            "label": f"{ours.label}: request to first body byte, median of {runs}",
            "value": round(median_ttfb_ms(ours.reads), 3),
            "unit": "ms",
            "anchor": round(median_ttfb_ms(anchor.reads), 3),
            "anchor_label": anchor.label,
            "ratio": round(median_ttfb_ms(ours.reads) / median_ttfb_ms(anchor.reads), 3),
            "target": None,
            "passed": None,
            "runs_ms": [round(r.first_byte_s * 1e3, 3) for r in ours.reads],
            "anchor_runs_ms": [round(r.first_byte_s * 1e3, 3) for r in anchor.reads],
        },
        {
            "name": "local_serve.whitenoise.rss",
            "label": f"{anchor.label}: peak RSS growth of the worker while serving",
            "value": round(anchor.rss_growth_mib, 2),
            "unit": "MiB",
            "anchor": round(anchor.rss_baseline_kib / 1024, 1),
            "anchor_label": "RSS after warm-up",
            "ratio": None,
            "target": None,
            "passed": None,
        },
    ]


def main(argv: list[str] | None = None) -> int:
    """Measure, print the table and the verdicts; optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--runs", type=int, default=11, help="reads per server (default 11)")
    parser.add_argument("--size-mib", type=int, default=256, help="file size (default 256)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    # A SIGTERM (a runner's timeout, say) unwinds like Ctrl-C: both servers are stopped and
    # the temporary directory removed.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        with tempfile.TemporaryDirectory(prefix="r2store-local-serve-") as tmp:
            ours, anchor, problems = measure(args, Path(tmp))
    except UpstreamError as exc:
        print(f"local_serve: cannot measure: {exc}", file=sys.stderr)
        return 2

    results = rows(ours, anchor, problems, args.runs)
    print(
        f"local_serve: a {args.size_mib} MiB file, {args.runs} reads per server, alternating; "
        "MB/s (10^6 bytes) and time to first byte are medians"
    )
    print(f"  {'server':52} {'MB/s':>6} {'TTFB ms':>8} {'RSS +MiB':>8}   MB/s of each read")
    for served in (ours, anchor):
        each = " ".join(f"{r.mb_s:.0f}" for r in served.reads)
        print(
            f"  {served.label:52} {median_mb_s(served.reads):6.0f} "
            f"{median_ttfb_ms(served.reads):8.2f} {served.rss_growth_mib:8.2f}   {each}"
        )
    for problem in problems:
        print(f"  {problem}")
    print(f"local_serve: took {time.perf_counter() - started:.0f} s on {os.cpu_count()} cores")
    judged = [r for r in results if r["passed"] is not None]
    for r in judged:
        ratio = "" if r["ratio"] is None else f"ratio {r['ratio']:g}"
        print(f"  {r['name']:24} {r['value']:8g} {r['unit']:5} {ratio:12} {r['target']}")
    for r in judged:
        print(f"{r['name']}: {'PASS' if r['passed'] else 'FAIL'}")
    passed = all(r["passed"] for r in judged)
    print(f"local_serve: {'PASS' if passed else 'FAIL'}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
