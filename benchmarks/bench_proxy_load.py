"""Does the media proxy hold up under load, without errors, growth or pool exhaustion?

64 concurrent clients (one asyncio process, httpx) fetch small objects through the proxy
for a bounded time, on loopback only, once under gunicorn (WSGI, threaded worker) and once
under uvicorn (ASGI). The upstream is nginx serving the objects path-style (fast, so the
proxy is what is measured), or moto's S3 server with ``--upstream moto``. Targets:

* zero errors: every answer is a 200 with exactly the object's bytes;
* peak RSS growth of the serving process at most 16 MiB over its warmed-up baseline;
* no "Connection pool is full" warning in the server's log (botocore's pool is sized to the
  worker's threads by ``R2_MAX_POOL_CONNECTIONS``);
* reported, no target: requests per second and p50/p99 latency of small objects.

Run: ``python benchmarks/bench_proxy_load.py [--seconds 20] [--clients 64] [--json PATH]``
(``nox -s load`` runs it for 30 s).

``--slow-readers N`` measures something else, on uvicorn only: N clients each send a GET for
a 32 MiB object and never read a byte (a 4 KiB receive buffer), as slow or hostile clients
do. Reported: the server's RSS over its warmed-up baseline while they hang on, the most
connections it held to the upstream at once (the pool is 32), the same after
``--stall-wait`` seconds (past the ASGI adapter's 30 s ``send_timeout``), and the status a
fresh request then gets.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

# Run from a checkout without installing: put the repository root first on the path.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _load import OBJECTS, POOL, fetch_small, proxy_server, upstream  # noqa: E402
from _upstream import RssSampler, rss_kib  # noqa: E402

RSS_TARGET_MIB = 16.0
#: What the slow readers ask for: far more than the buffers between server and client.
LARGE_KEY = "large/slow.bin"
LARGE = os.urandom(32 * 1024 * 1024)


def measure(
    kind: str, endpoint: str, workdir: Path, clients: int, seconds: float
) -> dict[str, Any]:
    """Warm the server up, then load it while sampling its RSS."""
    with proxy_server(kind, endpoint, workdir) as (base, pid, log):
        asyncio.run(fetch_small(base, clients, min(3.0, seconds)))  # warm: imports, client, pool
        baseline = rss_kib(pid)
        with RssSampler(pid) as sampler:
            started = time.monotonic()
            result = asyncio.run(fetch_small(base, clients, seconds))
            elapsed = time.monotonic() - started
        after = rss_kib(pid)
        log_text = log.read_text(encoding="utf-8", errors="replace")
    latencies = sorted(result["latencies"])
    return {
        "server": "gunicorn (WSGI)" if kind == "wsgi" else "uvicorn (ASGI)",
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else 0.0,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else 0.0,
        "errors": result["errors"],
        "rss_baseline_mib": baseline / 1024,
        "rss_growth_mib": (sampler.peak_kib - baseline) / 1024,
        "rss_end_growth_mib": (after - baseline) / 1024,
        "pool_warnings": log_text.count("Connection pool is full"),
    }


def _upstream_connections(endpoint: str) -> int:
    """Established TCP connections to the upstream's port (only the server makes them)."""
    port = endpoint.rsplit(":", 1)[1].rstrip("/")
    out = subprocess.run(
        ["ss", "-Htn", "state", "established", "dport", f"= :{port}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return len(out.splitlines())


def _stalled_client(base: str) -> socket.socket:
    """A connection that asks for LARGE and will never read a byte of the answer."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Before connecting, so the window the client offers stays small.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.sendall(f"GET /{LARGE_KEY} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    return sock


def measure_slow_readers(
    endpoint: str, workdir: Path, clients: int, hold: float, stall_wait: float
) -> dict[str, Any]:
    """*clients* non-reading clients on uvicorn: RSS and upstream connections, then and later."""
    with proxy_server("asgi", endpoint, workdir) as (base, pid, _log):
        asyncio.run(fetch_small(base, 8, 2.0))  # warm: imports, client, pool
        baseline = rss_kib(pid)
        started = time.monotonic()
        sockets = [_stalled_client(base) for _ in range(clients)]
        peak_connections = 0
        try:
            with RssSampler(pid) as sampler:
                while time.monotonic() - started < hold:
                    peak_connections = max(peak_connections, _upstream_connections(endpoint))
                    time.sleep(0.25)
            held = rss_kib(pid)
            time.sleep(max(0.0, stall_wait - (time.monotonic() - started)))
            later_rss = rss_kib(pid)
            later_connections = _upstream_connections(endpoint)
            key = next(iter(OBJECTS))
            try:
                fresh = httpx.get(f"{base}/{key}", timeout=30)
            except httpx.TimeoutException:
                fresh = httpx.Response(0)  # no answer in 30 s
            fresh_ok = fresh.status_code == 200 and fresh.content == OBJECTS[key]
        finally:
            for sock in sockets:
                sock.close()
    return {
        "clients": clients,
        "rss_baseline_mib": baseline / 1024,
        "rss_peak_growth_mib": (sampler.peak_kib - baseline) / 1024,
        "rss_held_growth_mib": (held - baseline) / 1024,
        "upstream_connections_peak": peak_connections,
        "later_s": stall_wait,
        "rss_later_growth_mib": (later_rss - baseline) / 1024,
        "upstream_connections_later": later_connections,
        "fresh_request_ok": fresh_ok,
        "fresh_status": fresh.status_code,
    }


def _report_slow_readers(row: dict[str, Any], json_path: Path | None) -> int:
    print(
        f"proxy_slow_readers: {row['clients']} non-reading clients on uvicorn (ASGI), pool {POOL}\n"
        f"  RSS baseline {row['rss_baseline_mib']:.1f} MiB, "
        f"+{row['rss_peak_growth_mib']:.1f} MiB peak "
        f"(+{row['rss_held_growth_mib']:.1f} while they hang on), "
        f"upstream connections {row['upstream_connections_peak']} at most\n"
        f"  after {row['later_s']:g} s: +{row['rss_later_growth_mib']:.1f} MiB, "
        f"upstream connections {row['upstream_connections_later']}, "
        f"a fresh request {'served' if row['fresh_request_ok'] else 'NOT served'} "
        f"(status {row['fresh_status'] or 'none in 30 s'})"
    )
    ok = row["upstream_connections_peak"] <= POOL and row["fresh_request_ok"]
    print(f"proxy_slow_readers: {'PASS' if ok else 'FAIL'}")
    if json_path is not None:
        result = {"name": "proxy_slow_readers", "passed": ok, **row}
        json_path.write_text(json.dumps([result], indent=2) + "\n", encoding="utf-8")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    """Load both servers; print the table and verdicts; optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="load time per server")
    parser.add_argument("--clients", type=int, default=64, help="concurrent connections")
    parser.add_argument("--upstream", choices=["nginx", "moto"], default="nginx")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument(
        "--slow-readers", type=int, metavar="N", help="measure N non-reading clients instead"
    )
    parser.add_argument("--hold", type=float, default=10.0, help="slow readers: seconds held")
    parser.add_argument(
        "--stall-wait", type=float, default=40.0, help="slow readers: seconds to the second look"
    )
    args = parser.parse_args(argv)

    if args.slow_readers:
        with (
            tempfile.TemporaryDirectory(prefix="r2store-slow-") as tmp,
            upstream(args.upstream, Path(tmp), {LARGE_KEY: LARGE}) as endpoint,
        ):
            row = measure_slow_readers(
                endpoint.url, Path(tmp), args.slow_readers, args.hold, args.stall_wait
            )
        return _report_slow_readers(row, args.json)

    rows = []
    with (
        tempfile.TemporaryDirectory(prefix="r2store-load-") as tmp,
        upstream(args.upstream, Path(tmp), {LARGE_KEY: LARGE}) as endpoint,
    ):
        for kind in ("wsgi", "asgi"):
            rows.append(measure(kind, endpoint.url, Path(tmp), args.clients, args.seconds))

    results = []
    print(
        f"proxy_load: {args.clients} clients, {args.seconds:g} s per server, "
        f"{args.upstream} upstream"
    )
    for row in rows:
        ok = not row["errors"] and row["rss_growth_mib"] <= RSS_TARGET_MIB
        ok = ok and row["pool_warnings"] == 0
        print(
            f"  {row['server']:16} {row['requests']:6d} requests  {row['rps']:7.1f}/s  "
            f"p50 {row['p50_ms']:6.1f} ms  p99 {row['p99_ms']:6.1f} ms  "
            f"errors {len(row['errors'])}  RSS +{row['rss_growth_mib']:.1f} MiB peak "
            f"(+{row['rss_end_growth_mib']:.1f} at end)  pool warnings {row['pool_warnings']}"
        )
        for error in row["errors"][:5]:
            print(f"    error: {error}")
        name = f"proxy_load.{'wsgi' if 'WSGI' in row['server'] else 'asgi'}"
        print(f"{name}: {'PASS' if ok else 'FAIL'}")
        results.append(
            {
                "name": name,
                "value": round(row["rss_growth_mib"], 2),
                "anchor": RSS_TARGET_MIB,
                "ratio": round(row["rss_growth_mib"] / RSS_TARGET_MIB, 3),
                "unit": "MiB RSS growth",
                "target": f"0 errors, <= {RSS_TARGET_MIB:g} MiB growth, 0 pool warnings",
                "passed": ok,
                "requests": row["requests"],
                "errors": len(row["errors"]),
                "rps": round(row["rps"], 1),
                "p50_ms": round(row["p50_ms"], 2),
                "p99_ms": round(row["p99_ms"], 2),
                "pool_warnings": row["pool_warnings"],
            }
        )
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0 if all(r["passed"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
