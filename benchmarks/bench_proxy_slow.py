"""Do 50 slow clients leave the proxy's memory bounded and a fast client's latency alone?

50 clients each GET a 64 MiB object and read it at about 1 MB/s (a 64 KiB receive buffer,
paced reads), as phones on poor networks do, while one fast client fetches small objects
(2-60 KB, one request every 20 ms, one keep-alive connection). Before the slow clients
come, the fast client runs alone for ``--baseline`` seconds: its p99 then is the anchor.
Then the slow clients connect and everything runs for ``--seconds`` seconds, after which
the slow clients hang up (at 1 MB/s none gets near the end of 64 MiB: they are still
streaming when measured). The upstream is nginx over files (the proxy is what is
measured); everything is on loopback and stops by itself.

Judged, for ``r2store.asgi.R2ProxyApp`` under uvicorn:

* peak RSS growth of the uvicorn process over its warmed-up baseline at most 64 MiB;
* the fast client's p99 latency at most 2x its p99 with no slow clients, with every
  answer a 200 with the object's bytes.

The stream cap. ``R2ProxyApp`` serves at most ``max_streams`` requests at once (default:
the connection pool's size, 32); beyond that a request waits ``queue_timeout`` (5 s) and
gets 503. With its defaults, 32 slow clients would hold every slot for a minute and the
fast client's requests would all wait 5 s for a 503. The judged row therefore runs the
deployment sized for this load: ``R2_MAX_POOL_CONNECTIONS=64`` (so 64 streams and 64
connections to R2), and reports how many slow clients were served. A context row runs the
defaults (pool and cap 32) and reports the same: how many slow clients were served and
refused, and what the fast client got.

Context, no target: ``r2store.wsgi.R2ProxyApp`` under gunicorn gthread (64 threads, pool
64) and nginx serving the same files from disk, with the same clients.

Run: ``python benchmarks/bench_proxy_slow.py [--seconds 20] [--baseline 5]
[--context-seconds 10] [--json PATH]``
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import select
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import urllib3

# Run from a checkout without installing: put the repository root first on the path.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _load import BUCKET, OBJECTS, fetch_small, proxy_server, upstream  # noqa: E402
from _upstream import RssSampler, rss_kib  # noqa: E402

SLOW_CLIENTS = 50
SLOW_RATE = 1_000_000  # bytes a second, each
SLOW_RCVBUF = 64 * 1024
LARGE_KEY = "large/slow-64.bin"
LARGE_SIZE = 64 * 1024 * 1024
#: The fast client's pace: one request every this many seconds.
FAST_INTERVAL = 0.02
#: Streams and connections to R2 of the judged deployment: room for every slow client.
SIZED_POOL = 64
RSS_TARGET_MIB = 64.0
P99_TARGET = 2.0


@dataclass
class SlowClient:
    """What one slow client saw: the status (0: none), when it came, and bytes received."""

    status: int = 0
    status_s: float = 0.0
    received: int = 0
    ended_early: bool = False  # the server closed before the client hung up
    error: str = ""


@dataclass
class Phase:
    """The fast client's requests in one phase: latencies (s) and the wrong answers."""

    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def p99_ms(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1e3 if ordered else 0.0

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies) * 1e3 if self.latencies else 0.0


@dataclass
class Measured:
    """One server's run: the fast client alone and with the slow ones, RSS, slow clients."""

    name: str
    label: str
    alone: Phase
    loaded: Phase
    slow: list[SlowClient]
    rss_baseline_kib: int
    rss_peak_kib: int

    @property
    def rss_growth_mib(self) -> float:
        return (self.rss_peak_kib - self.rss_baseline_kib) / 1024

    @property
    def p99_ratio(self) -> float:
        return self.loaded.p99_ms / self.alone.p99_ms

    def slow_count(self, status: int) -> int:
        return sum(1 for c in self.slow if c.status == status)


def _slow_clients(
    host: str, port: int, path: str, count: int, seconds: float, out: Connection
) -> None:
    """In a child process: *count* clients read *path* at SLOW_RATE each for *seconds*,
    then hang up; send a list of :class:`SlowClient` back through *out*."""
    clients = [SlowClient() for _ in range(count)]
    socks: list[socket.socket | None] = []
    heads = [b""] * count
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    started = time.monotonic()
    for client in clients:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Before connecting, so the window the client offers stays small.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SLOW_RCVBUF)
        try:
            sock.connect((host, port))
            sock.sendall(request)
        except OSError as exc:
            client.error = type(exc).__name__
            sock.close()
            socks.append(None)
            continue
        sock.setblocking(False)
        socks.append(sock)
    deadline = started + seconds
    while (now := time.monotonic()) < deadline:
        # Each client may have taken SLOW_RATE bytes a second since the start.
        allowance = int(SLOW_RATE * (now - started))
        for i, sock in enumerate(socks):
            client = clients[i]
            if sock is None:
                continue
            wanted = allowance - client.received
            if client.status and wanted < 4096:
                continue
            try:
                data = sock.recv(max(4096, min(wanted, 256 * 1024)))
            except BlockingIOError:
                continue
            except OSError as exc:
                client.error, client.ended_early = type(exc).__name__, True
                sock.close()
                socks[i] = None
                continue
            if not data:
                client.ended_early = True
                sock.close()
                socks[i] = None
                continue
            if not client.status:
                heads[i] += data
                head, sep, body = heads[i].partition(b"\r\n\r\n")
                if not sep:
                    continue
                client.status = int(head.split(b" ", 2)[1])
                client.status_s = time.monotonic() - started
                data = body
                if client.status != 200:
                    # A refusal (503): its short body is all there is.
                    sock.close()
                    socks[i] = None
            client.received += len(data)
        select.select([], [], [], 0.01)
    for sock in socks:
        if sock is not None:
            sock.close()
    out.send(clients)
    out.close()


def _fast_client(base: str, prefix: str, seconds: float, seed: int) -> Phase:
    """One keep-alive connection fetching random small objects, one every FAST_INTERVAL."""
    rng = random.Random(seed)  # noqa: S311 -- picks keys, guards nothing
    keys = list(OBJECTS)
    phase = Phase()
    host, port = base.removeprefix("http://").split(":")
    pool = urllib3.HTTPConnectionPool(host, int(port), maxsize=1, retries=False, timeout=30)
    deadline = time.monotonic() + seconds
    next_at = time.monotonic()
    try:
        while (now := time.monotonic()) < deadline:
            if now < next_at:
                time.sleep(next_at - now)
            next_at += FAST_INTERVAL
            key = rng.choice(keys)
            started = time.perf_counter()
            try:
                response = pool.request("GET", f"{prefix}/{key}")
            except urllib3.exceptions.HTTPError as exc:
                phase.errors.append(f"{key}: {type(exc).__name__}")
                continue
            phase.latencies.append(time.perf_counter() - started)
            if response.status != 200 or response.data != OBJECTS[key]:
                phase.errors.append(f"{key}: {response.status}, {len(response.data)} bytes")
    finally:
        pool.close()
    return phase


def run_clients(
    name: str, label: str, base: str, prefix: str, pid: int, args: argparse.Namespace, judged: bool
) -> Measured:
    """The fast client alone, then with the slow clients, watching *pid*'s RSS."""
    seconds = args.seconds if judged else args.context_seconds
    baseline_rss = rss_kib(pid)
    alone = _fast_client(base, prefix, args.baseline, seed=1)
    host, port = base.removeprefix("http://").split(":")
    receiver, sender = multiprocessing.get_context("fork").Pipe(duplex=False)
    # Forked before the RSS sampler's thread starts: the child needs no thread of ours.
    child = multiprocessing.get_context("fork").Process(
        target=_slow_clients,
        args=(host, int(port), f"{prefix}/{LARGE_KEY}", args.slow_clients, seconds, sender),
        daemon=True,
    )
    child.start()
    sender.close()
    try:
        with RssSampler(pid) as sampler:
            loaded = _fast_client(base, prefix, seconds, seed=2)
            if not receiver.poll(seconds + 30):
                raise SystemExit(f"proxy_slow: {name}: the slow clients did not report")
            slow: list[SlowClient] = receiver.recv()
    finally:
        child.join(10)
        if child.is_alive():
            child.kill()
    return Measured(name, label, alone, loaded, slow, baseline_rss, sampler.peak_kib)


@contextmanager
def _proxy(kind: str, endpoint: str, workdir: Path, pool: int) -> Iterator[tuple[str, str, int]]:
    """The proxy, warmed up; yields its base URL, the path prefix and the serving pid."""
    with proxy_server(kind, endpoint, workdir, pool=pool) as (base, pid, _log):
        import asyncio

        asyncio.run(fetch_small(base, 8, 2.0))  # warm: imports, client, pool, threads
        yield base, "", pid


@contextmanager
def _nginx(endpoint: str, pid: int) -> Iterator[tuple[str, str, int]]:
    yield endpoint, f"/{BUCKET}", pid


def measure_all(args: argparse.Namespace, workdir: Path) -> list[tuple[Measured, bool]]:
    """Every server with the same clients; each paired with whether it is judged."""
    large = os.urandom(LARGE_SIZE)
    results = []
    with upstream("nginx", workdir, {LARGE_KEY: large}) as endpoint:
        servers: list[tuple[str, str, Callable[[], AbstractContextManager[Any]], bool]] = [
            (
                "asgi",
                f"r2store ASGI, uvicorn, pool and max_streams {SIZED_POOL}",
                lambda: _proxy("asgi", endpoint.url, workdir, SIZED_POOL),
                True,
            ),
        ]
        if not args.no_context:
            servers += [
                (
                    "asgi-default",
                    "r2store ASGI, uvicorn, defaults (pool and max_streams 32)",
                    lambda: _proxy("asgi", endpoint.url, workdir, 32),
                    False,
                ),
                (
                    "wsgi",
                    f"r2store WSGI, gunicorn gthread, {SIZED_POOL} threads, pool {SIZED_POOL}",
                    lambda: _proxy("wsgi", endpoint.url, workdir, SIZED_POOL),
                    False,
                ),
                (
                    "nginx",
                    "nginx from disk (no proxy)",
                    lambda: _nginx(endpoint.url, endpoint.pid),
                    False,
                ),
            ]
        for name, label, serve, judged in servers:
            with serve() as (base, prefix, pid):
                m = run_clients(name, label, base, prefix, pid, args, judged)
            results.append((m, judged))
            print(f"proxy_slow: {name} measured", flush=True)
    return results


def rows_for(m: Measured, judged: bool, clients: int) -> list[dict[str, Any]]:
    """Result objects (run.py's shape) for one server."""
    name = f"proxy_slow.{m.name}"
    served, refused = m.slow_count(200), m.slow_count(503)
    slow_mb = sum(c.received for c in m.slow) / 1e6
    fast_ok = not m.loaded.errors
    return [
        {
            "name": f"{name}.rss",
            "label": f"{m.label}: peak RSS growth with {clients} slow clients",
            "value": round(m.rss_growth_mib, 1),
            "unit": "MiB",
            "anchor": round(m.rss_baseline_kib / 1024, 1),
            "anchor_label": "RSS after warm-up",
            "ratio": None,
            "target": f"<= {RSS_TARGET_MIB:g} MiB" if judged else None,
            "passed": m.rss_growth_mib <= RSS_TARGET_MIB if judged else None,
        },
        {
            "name": f"{name}.fast_p99",
            "label": f"{m.label}: fast client's p99 with {clients} slow clients "
            f"({len(m.loaded.latencies)} requests, {len(m.loaded.errors)} wrong answers)",
            "value": round(m.loaded.p99_ms, 2),
            "unit": "ms",
            "anchor": round(m.alone.p99_ms, 2),
            "anchor_label": f"its p99 alone ({len(m.alone.latencies)} requests)",
            "ratio": round(m.p99_ratio, 3),
            "target": f"<= {P99_TARGET:g}x alone, every answer right" if judged else None,
            "passed": (m.p99_ratio <= P99_TARGET and fast_ok) if judged else None,
            "p50_ms": round(m.loaded.p50_ms, 2),
            "alone_p50_ms": round(m.alone.p50_ms, 2),
            "errors": len(m.loaded.errors),
            "alone_errors": len(m.alone.errors),
        },
        {
            "name": f"{name}.slow_served",
            "label": f"{m.label}: slow clients answered 200 (of {clients}); "
            f"{refused} got 503, {slow_mb:.0f} MB read in all",
            "value": served,
            "unit": "clients",
            "anchor": clients,
            "anchor_label": "slow clients",
            "ratio": None,
            "target": None,
            "passed": None,
            "refused": refused,
            "no_answer": m.slow_count(0),
            "ended_early": sum(1 for c in m.slow if c.ended_early),
            "slow_mb_read": round(slow_mb, 1),
            "status_s_max": round(max((c.status_s for c in m.slow), default=0.0), 2),
        },
    ]


def main(argv: list[str] | None = None) -> int:
    """Measure, print the table and the verdicts; optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="with slow clients, judged")
    parser.add_argument("--context-seconds", type=float, default=10.0, help="the same, context")
    parser.add_argument("--baseline", type=float, default=5.0, help="the fast client alone")
    parser.add_argument("--slow-clients", type=int, default=SLOW_CLIENTS)
    parser.add_argument("--no-context", action="store_true", help="the judged server only")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="r2store-slow-") as tmp:
        measured = measure_all(args, Path(tmp))

    print(
        f"proxy_slow: {args.slow_clients} clients reading a 64 MiB object at ~1 MB/s each, "
        f"one fast client fetching small objects every {FAST_INTERVAL * 1e3:g} ms; nginx "
        "upstream"
    )
    print(
        f"  {'server':58} {'RSS +MiB':>8} | {'fast p50':>8} {'p99':>7} {'alone':>7} {'ratio':>5} "
        f"{'wrong':>5} | slow: 200 503 none, MB read, last status"
    )
    results = []
    for m, judged in measured:
        results += rows_for(m, judged, args.slow_clients)
        print(
            f"  {m.label:58} {m.rss_growth_mib:8.1f} | {m.loaded.p50_ms:8.1f} "
            f"{m.loaded.p99_ms:7.1f} {m.alone.p99_ms:7.1f} {m.p99_ratio:5.2f} "
            f"{len(m.loaded.errors):5d} | {m.slow_count(200):4d} {m.slow_count(503):3d} "
            f"{m.slow_count(0):4d}, {sum(c.received for c in m.slow) / 1e6:.0f}, "
            f"{max((c.status_s for c in m.slow), default=0.0):.1f} s"
        )
        for error in m.loaded.errors[:3]:
            print(f"    fast client: {error}")
    judged_rows = [r for r in results if r["passed"] is not None]
    passed = all(r["passed"] for r in judged_rows)
    print(f"proxy_slow: took {time.perf_counter() - started:.0f} s on {os.cpu_count()} cores")
    for r in judged_rows:
        print(f"{r['name']}: {'PASS' if r['passed'] else 'FAIL'}")
    print(f"proxy_slow: {'PASS' if passed else 'FAIL'}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
