"""What does redirect delivery save the app server, against streaming through the proxy?

One server process (gunicorn, then uvicorn) serves the same store twice: ``/proxy/`` streams
objects (``delivery="proxy"``), ``/redirect/`` answers 307 to a presigned URL
(``delivery="redirect"``). The upstream is nginx serving the objects path-style (fast, so the
app server is what is measured), or moto with ``--upstream moto``. Clients are raw HTTP/1.1
keep-alive connections (asyncio, in this process), cheaper than an HTTP library; they share
the machine's cores with the server and the upstream, so requests per second are a bound of
the whole machine. A redirect is not followed: fetching from R2 costs the app nothing. The
modes are measured in alternating rounds, so the shared machine's load drifts over them
alike. Targets, per server:

* a 1 MiB object: the server's CPU per request (user + system, all threads, from
  ``/proc``) in redirect mode at most 0.1x the proxy's;
* small objects (2 to 60 KB), 32 connections: requests per second in redirect mode at least
  10x the proxy's.

One Location is fetched from the upstream and compared byte for byte before measuring.
Context, not judged: small objects per second of the server's CPU (what the server would
answer with a core to itself), and the same server's floor, a 404 from the empty app behind
both middlewares (no r2store work at all): how much of a redirect's cost is the server's own.

Run: ``python benchmarks/bench_redirect.py [--seconds 4] [--rounds 2] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

# Run from a checkout without installing: put the repository root first on the path.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _load import OBJECTS, proxy_server, upstream  # noqa: E402
from _upstream import cpu_seconds, machine_busy_seconds  # noqa: E402

CPU_TARGET = 0.1
RPS_TARGET = 10.0
BIG_KEY = "big/1mib.bin"
BIG = os.urandom(1024 * 1024)

# The same store behind both deliveries, in one process; anything else is a 404.
_APP = """\
from r2store import R2Store
from r2store.{kind} import R2ProxyMiddleware

store = R2Store.from_env()

if "{kind}" == "wsgi":
    def fallback(environ, start_response):
        start_response("404 Not Found", [("Content-Length", "0")])
        return [b""]
else:
    async def fallback(scope, receive, send):
        if scope["type"] == "http":
            headers = [(b"content-length", b"0")]
            await send(dict(type="http.response.start", status=404, headers=headers))
            await send(dict(type="http.response.body", body=b""))

app = R2ProxyMiddleware(
    R2ProxyMiddleware(fallback, store, prefix="/proxy/", delivery="proxy"),
    store,
    prefix="/redirect/",
    delivery="redirect",
)
"""


class _Connection:
    """One keep-alive HTTP/1.1 connection: GET a path, read the answer whole."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str):
        self._reader, self._writer, self._host = reader, writer, host

    async def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        self._writer.write(f"GET {path} HTTP/1.1\r\nHost: {self._host}\r\n\r\n".encode())
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = await self._reader.readexactly(length) if length else b""
        return int(status_line.split()[1]), headers, body

    def close(self) -> None:
        self._writer.close()


async def _connect(base: str) -> _Connection:
    parts = urlsplit(base)
    assert parts.hostname is not None
    assert parts.port is not None
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port, limit=2**22)
    return _Connection(reader, writer, parts.netloc)


def _check(mode: str, key: str, status: int, headers: dict[str, str], body: bytes) -> str | None:
    """What is wrong with an answer, or None: a proxied one must be the object's bytes, a
    redirect a 307 with a Location, the empty app's a 404."""
    if mode == "empty":
        return None if status == 404 else f"{key}: {status} from the empty app"
    expected = BIG if key == BIG_KEY else OBJECTS[key]
    if mode == "proxy" and (status != 200 or body != expected):
        return f"{key}: {status}, {len(body)} bytes"
    if mode == "redirect" and (status != 307 or "location" not in headers):
        return f"{key}: {status}, no Location"
    return None


async def _load(
    base: str, mode: str, keys: list[str], clients: int, *, count: int = 0, seconds: float = 0.0
) -> tuple[int, list[str], float]:
    """*clients* connections GET random *keys* under /<mode>/: *count* requests in all, or
    for *seconds*. Returns the requests answered, the errors, and the elapsed time."""
    connections = [await _connect(base) for _ in range(clients)]
    errors: list[str] = []
    done = 0
    started = time.monotonic()
    deadline = started + seconds

    async def worker(connection: _Connection, seed: int) -> None:
        nonlocal done
        rng = random.Random(seed)  # noqa: S311 -- picks keys, guards nothing
        while (done < count) if count else (time.monotonic() < deadline):
            done += 1
            key = rng.choice(keys)
            status, headers, body = await connection.get(f"/{mode}/{key}")
            problem = _check(mode, key, status, headers, body)
            if problem:
                errors.append(problem)

    try:
        await asyncio.gather(*(worker(c, i) for i, c in enumerate(connections)))
    finally:
        for connection in connections:
            connection.close()
    return done, errors, time.monotonic() - started


def measure(kind: str, endpoint: str, workdir: Path, rounds: int, seconds: float) -> dict[str, Any]:
    """CPU per 1 MiB request and small-object requests per second, both modes, one server."""
    small = list(OBJECTS)
    with proxy_server(kind, endpoint, workdir, app=_APP) as (base, pid, _log):
        # The Location must serve the object: checked once, from the upstream itself.
        location = httpx.get(f"{base}/redirect/{BIG_KEY}").headers["Location"]
        if httpx.get(location).content != BIG:
            raise SystemExit("redirect: the Location did not serve the object")
        for mode in ("proxy", "redirect"):  # warm: imports, pools, signer
            asyncio.run(_load(base, mode, [BIG_KEY, *small], 4, count=50))
        cpu = {"proxy": [0.0, 0], "redirect": [0.0, 0], "empty": [0.0, 0]}
        rate = {"proxy": [0.0, 0], "redirect": [0.0, 0], "empty": [0.0, 0]}
        small_cpu = {"proxy": 0.0, "redirect": 0.0, "empty": 0.0}
        errors: list[str] = []
        busy_started, wall_started = machine_busy_seconds(), time.monotonic()
        for _ in range(rounds):
            for mode, count in (("proxy", 200), ("redirect", 2000), ("empty", 2000)):
                before = cpu_seconds(pid)
                done, errs, _ = asyncio.run(_load(base, mode, [BIG_KEY], 4, count=count))
                cpu[mode][0] += cpu_seconds(pid) - before
                cpu[mode][1] += done
                errors += errs
            for mode in ("proxy", "redirect", "empty"):
                before = cpu_seconds(pid)
                done, errs, elapsed = asyncio.run(_load(base, mode, small, 32, seconds=seconds))
                small_cpu[mode] += cpu_seconds(pid) - before
                rate[mode][0] += elapsed
                rate[mode][1] += done
                errors += errs
        busy = machine_busy_seconds() - busy_started
        wall = time.monotonic() - wall_started
    return {
        "server": "gunicorn (WSGI)" if kind == "wsgi" else "uvicorn (ASGI)",
        "cpu_us": {mode: total / n * 1e6 for mode, (total, n) in cpu.items()},
        "rps": {mode: n / elapsed for mode, (elapsed, n) in rate.items()},
        # Requests per second of server CPU: what one core would serve with nothing else on it.
        "capacity": {mode: n / small_cpu[mode] for mode, (_, n) in rate.items()},
        "errors": errors,
        "machine_busy": busy / (wall * (os.cpu_count() or 1)),
    }


def main(argv: list[str] | None = None) -> int:
    """Measure both servers; print the table and verdicts; optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="small-object load per round")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per server")
    parser.add_argument("--upstream", choices=["nginx", "moto"], default="nginx")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)

    rows = []
    with (
        tempfile.TemporaryDirectory(prefix="r2store-redirect-") as tmp,
        upstream(args.upstream, Path(tmp), {BIG_KEY: BIG}) as endpoint,
    ):
        for kind in ("wsgi", "asgi"):
            rows.append(measure(kind, endpoint.url, Path(tmp), args.rounds, args.seconds))

    print(f"redirect: {args.rounds} rounds per server, {args.upstream} upstream")
    results = []
    for row in rows:
        kind = "wsgi" if "WSGI" in row["server"] else "asgi"
        cpu, rps, cap = row["cpu_us"], row["rps"], row["capacity"]
        cpu_ratio = cpu["redirect"] / cpu["proxy"]
        rps_ratio = rps["redirect"] / rps["proxy"]
        cpu_ok = cpu_ratio <= CPU_TARGET and not row["errors"]
        rps_ok = rps_ratio >= RPS_TARGET and not row["errors"]
        print(
            f"  {row['server']:16} 1 MiB: {cpu['redirect']:7.0f} µs CPU/request redirected, "
            f"{cpu['proxy']:7.0f} proxied ({cpu_ratio:.3f}x)  small: "
            f"{rps['redirect']:7.0f}/s redirected, {rps['proxy']:6.0f}/s proxied "
            f"({rps_ratio:.1f}x)  errors {len(row['errors'])}  "
            f"machine {row['machine_busy']:.0%} busy\n"
            f"  {'':16} small, per second of server CPU: {cap['redirect']:7.0f} redirected, "
            f"{cap['proxy']:6.0f} proxied ({cap['redirect'] / cap['proxy']:.1f}x)\n"
            f"  {'':16} the server's floor, an empty app's 404: "
            f"{cpu['empty']:7.0f} µs CPU/request, {rps['empty']:7.0f}/s"
        )
        for error in row["errors"][:5]:
            print(f"    error: {error}")
        results += [
            {
                "name": f"redirect.cpu_1mib[{kind}]",
                "label": f"{row['server']}: server CPU per 1 MiB request, redirect",
                "value": round(cpu["redirect"], 1),
                "unit": "µs",
                "anchor": round(cpu["proxy"], 1),
                "anchor_label": "the same server proxying it",
                "ratio": round(cpu_ratio, 4),
                "target": f"<= {CPU_TARGET:g}x proxy",
                "passed": cpu_ok,
            },
            {
                "name": f"redirect.rps_small[{kind}]",
                "label": f"{row['server']}: small objects per second, redirect",
                "value": round(rps["redirect"], 1),
                "unit": "requests/s",
                "anchor": round(rps["proxy"], 1),
                "anchor_label": "the same server proxying them",
                "ratio": round(rps_ratio, 2),
                "target": f">= {RPS_TARGET:g}x proxy",
                "passed": rps_ok,
            },
            {
                "name": f"redirect.capacity_small[{kind}]",
                "label": f"{row['server']}: small objects per second of server CPU, redirect",
                "value": round(cap["redirect"], 1),
                "unit": "requests/CPU-s",
                "anchor": round(cap["proxy"], 1),
                "anchor_label": "the same server proxying them",
                "ratio": round(cap["redirect"] / cap["proxy"], 2),
                "target": None,
                "passed": None,
            },
            {
                "name": f"redirect.floor[{kind}]",
                "label": f"{row['server']}: server CPU per request of an empty app's 404",
                "value": round(cpu["empty"], 1),
                "unit": "µs",
                "anchor": round(cpu["redirect"], 1),
                "anchor_label": "a redirect on the same server",
                "ratio": round(cpu["empty"] / cpu["redirect"], 3),
                "target": None,
                "passed": None,
                "rps": round(rps["empty"], 1),
            },
        ]
        print(f"redirect.cpu_1mib[{kind}]: {'PASS' if cpu_ok else 'FAIL'}")
        print(f"redirect.rps_small[{kind}]: {'PASS' if rps_ok else 'FAIL'}")
    ok = all(r["passed"] for r in results)
    print(f"redirect: {'PASS' if ok else 'FAIL'}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
