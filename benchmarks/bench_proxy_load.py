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
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

# Run from a checkout without installing: put the repository root first on the path.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _upstream import (  # noqa: E402
    RssSampler,
    Upstream,
    free_port,
    moto_upstream,
    nginx_upstream,
    only_child,
    rss_kib,
    running,
)

BUCKET = "load"
# Thumbnail-sized objects, 2 to 60 KB.
OBJECTS = {f"thumbs/{i:03d}.jpg": os.urandom(2_000 + i * 1_450) for i in range(40)}
POOL = 32
RSS_TARGET_MIB = 16.0

_APP = """\
from r2store import R2Store
from r2store.{kind} import R2ProxyApp
app = R2ProxyApp(R2Store.from_env())
"""


@contextmanager
def _upstream(kind: str, workdir: Path) -> Iterator[Upstream]:
    """The S3 endpoint holding OBJECTS: nginx over files, or moto."""
    if kind == "moto":
        with moto_upstream(workdir) as upstream:
            _seed_moto(upstream.url)
            yield upstream
        return
    root = workdir / "root"
    for key, body in OBJECTS.items():
        path = root / BUCKET / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    # nginx's workers run unprivileged: everything on the way must be world-readable.
    for path in [workdir, *root.rglob("*"), root]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    with nginx_upstream(root, workdir) as upstream:
        yield upstream


def _seed_moto(endpoint: str) -> None:
    import boto3

    client = boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name="auto",
        aws_access_key_id="load",
        aws_secret_access_key="load-secret-value",
    )
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "auto"})
    for key, body in OBJECTS.items():
        client.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType="image/jpeg")
    client.close()


@contextmanager
def _server(kind: str, endpoint: str, workdir: Path) -> Iterator[tuple[str, int, Path]]:
    """gunicorn or uvicorn serving R2ProxyApp; yields base URL, serving pid and log path."""
    (workdir / f"{kind}_app.py").write_text(_APP.format(kind=kind), encoding="utf-8")
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{workdir}",
        "R2_ENDPOINT_URL": endpoint,
        "R2_BUCKET_NAME": BUCKET,
        "R2_ACCESS_KEY_ID": "load",
        "R2_SECRET_ACCESS_KEY": "load-secret-value",
        "R2_MAX_POOL_CONNECTIONS": str(POOL),
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    }
    if kind == "wsgi":
        argv = [
            sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "1",
            "-k", "gthread", "--threads", str(POOL), "--backlog", "256", "wsgi_app:app",
        ]  # fmt: skip
    else:
        argv = [
            sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port),
            "--no-access-log", "--loop", "asyncio", "--backlog", "256", "asgi_app:app",
        ]  # fmt: skip
    log = workdir / f"{kind}.log"
    with running(argv, port=port, log=log, env=env, cwd=workdir) as proc:
        pid = only_child(proc.pid) if kind == "wsgi" else proc.pid
        yield f"http://127.0.0.1:{port}", pid, log


async def _load(base: str, clients: int, seconds: float) -> dict[str, Any]:
    """*clients* loops fetching random objects until the time is up."""
    keys = list(OBJECTS)
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def worker(seed: int) -> None:
            rng = random.Random(seed)  # noqa: S311 -- picks keys, guards nothing
            while time.monotonic() < deadline:
                key = rng.choice(keys)
                started = time.perf_counter()
                try:
                    response = await client.get(f"/{key}")
                except httpx.HTTPError as exc:
                    errors.append(f"{key}: {type(exc).__name__}")
                    continue
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200 or response.content != OBJECTS[key]:
                    errors.append(f"{key}: {response.status_code}, {len(response.content)} bytes")

        await asyncio.gather(*(worker(i) for i in range(clients)))
    return {"latencies": latencies, "errors": errors}


def measure(
    kind: str, endpoint: str, workdir: Path, clients: int, seconds: float
) -> dict[str, Any]:
    """Warm the server up, then load it while sampling its RSS."""
    with _server(kind, endpoint, workdir) as (base, pid, log):
        asyncio.run(_load(base, clients, min(3.0, seconds)))  # warm: imports, client, pool
        baseline = rss_kib(pid)
        with RssSampler(pid) as sampler:
            started = time.monotonic()
            result = asyncio.run(_load(base, clients, seconds))
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


def main(argv: list[str] | None = None) -> int:
    """Load both servers; print the table and verdicts; optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="load time per server")
    parser.add_argument("--clients", type=int, default=64, help="concurrent connections")
    parser.add_argument("--upstream", choices=["nginx", "moto"], default="nginx")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)

    rows = []
    with (
        tempfile.TemporaryDirectory(prefix="r2store-load-") as tmp,
        _upstream(args.upstream, Path(tmp)) as upstream,
    ):
        for kind in ("wsgi", "asgi"):
            rows.append(measure(kind, upstream.url, Path(tmp), args.clients, args.seconds))

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
