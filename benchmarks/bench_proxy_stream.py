"""Does the media proxy stream a 256 MiB object as well as nginx's proxy_pass relays it?

The object sits behind a fast local S3 upstream: nginx serving ``<root>/<bucket>/<key>``
path-style, which boto3 reads at gigabytes a second (moto builds every object in memory on
each GET and would be the bottleneck). ``r2store.wsgi.R2ProxyApp`` runs under gunicorn
(``-w 1 -k gthread --threads 4``), ``r2store.asgi.R2ProxyApp`` under uvicorn
(``--loop asyncio``), and a minimal Django project serving the object through
``path("media-proxy/", include("r2store.django.urls"))`` under the same gunicorn settings,
each over r2store pointed at nginx. A client in this process
reads through the proxy with urllib3 (``read(1 MiB)``, the loop boto3's ``iter_chunks``
runs underneath), interleaved with the two anchors, read in the same run from the same
upstream: nginx itself as a streaming reverse proxy (``proxy_pass``, unbuffered, 1 MiB
buffers; the same urllib3 loop reads through it), and a direct boto3
``get_object(...)["Body"].iter_chunks(1 MiB)``. Each round reads direct, relay, proxy.

Targets, for each server:

* throughput (median over ``--runs``) at least 1.0x the nginx relay's median: the hop
  costs a proxy in C what it costs, and the Python one should not cost more;
* CPU time of the serving process per 10^9 bytes at most 1.2x the relay's (its nginx
  worker's): on a 2-core machine throughput is mostly what the hop costs in CPU, and CPU
  per GB is less disturbed by other load than MB/s;
* time to first byte (median) at most 1.1x the direct read's: the direct read's is
  ``get_object`` plus its first chunk, the proxy's is from the client's request to the first
  body byte;
* peak RSS growth of the serving process (gunicorn's worker, the uvicorn process) at most
  8 MiB: ``VmHWM`` (reset through ``clear_refs`` after two warm-up requests) and a 5 ms
  ``VmRSS`` poll, against ``VmRSS`` after the warm-up.

For context, without targets: throughput against the direct read (the old ">= 0.9x
direct" target: on 2 cores shared by client, server and upstream, no proxy, nginx's
included, reaches it); nginx's relay against the direct read; nginx read with urllib3 alone
(the client's ceiling); naive proxies (a WSGI app returning ``iter_chunks(64 KiB)``, a
Starlette ``StreamingResponse`` over ``iter_chunks(64 KiB)``); and the same r2store
measurements with moto's server as the upstream.
Every row also reports CPU milliseconds per 10^9 bytes moved, by process (client, server,
upstream), from ``/proc/<pid>/stat``: on a small machine the throughput ratio is mostly what
the extra hop costs in CPU, and that number is less disturbed by other load than MB/s.
With django-storages installed, one more context row: its ``S3Storage`` opened into Django's
``FileResponse`` under the same gunicorn, the usual way a Django project serves media from S3
(its ``S3File`` downloads the whole object before the first byte goes out).

Needs nginx (``apt-get install -y nginx-light``), gunicorn, uvicorn, starlette, Django and
moto.
Run: ``python benchmarks/bench_proxy_stream.py [--json PATH] [--runs N] [--context-runs N]
[--size-mib N] [--moto-size-mib N] [--no-context]``
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Run from a checkout without installing: put the repository root first on the path.
# (The script's own directory, with _upstream.py, is on it already.)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3
import urllib3
from _reads import (
    CHUNK,
    MiB,
    Read,
    best_mb_s,
    gunicorn_argv,
    http_read,
    make_object,
    median_mb_s,
    median_ttfb_ms,
)
from _upstream import (
    RssSampler,
    Upstream,
    UpstreamError,
    cpu_seconds,
    free_port,
    machine_busy_seconds,
    moto_upstream,
    nginx_relay,
    nginx_upstream,
    only_child,
    peak_rss_kib,
    reset_peak_rss,
    rss_kib,
    running,
)
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[1]
BUCKET = "bench"
KEY = "media/stream-256.bin"
ACCESS_KEY_ID = "x"
SECRET_ACCESS_KEY = "y" * 20
#: Median proxied MB/s over the nginx relay's median, at least.
THROUGHPUT_TARGET = 1.0
#: The serving process's CPU per GB over the nginx relay worker's, at most.
SERVER_CPU_TARGET = 1.2
TTFB_TARGET = 1.10
RSS_TARGET_MIB = 8.0

# The apps the servers load, written into a temporary directory. The r2store ones import
# this checkout (it is first on PYTHONPATH); the naive ones are what a hurried app would do.
_STORE = """\
import os
from r2store import R2Config, R2Store

store = R2Store(
    R2Config(
        endpoint_url=os.environ["BENCH_UPSTREAM"],
        bucket="bench",
        access_key_id="x",
        secret_access_key="y" * 20,
    )
)
"""
_BOTO3_CLIENT = """\
import os
import boto3
from botocore.config import Config

client = boto3.client(
    "s3",
    endpoint_url=os.environ["BENCH_UPSTREAM"],
    region_name="auto",
    aws_access_key_id="x",
    aws_secret_access_key="y" * 20,
    config=Config(s3={"addressing_style": "path"}),
)
"""
# A Django project in two modules: settings that are also the URLconf, and the WSGI app.
_DJANGO_SETTINGS = """\
import os
from django.urls import include, path

SECRET_KEY = "bench-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
INSTALLED_APPS = [{app}]
# The two of startproject's middleware that need no database.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = __name__
USE_TZ = True
STORAGES = {{
    "default": {{"BACKEND": {backend}, "OPTIONS": {{{options}}}}},
    "staticfiles": {{"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}},
}}
"""
_DJANGO_APP = """\
import os
os.environ["DJANGO_SETTINGS_MODULE"] = "{settings}"
from django.core.wsgi import get_wsgi_application
app = get_wsgi_application()
"""
APPS = {
    "r2store_wsgi": _STORE + "from r2store.wsgi import R2ProxyApp\napp = R2ProxyApp(store)\n",
    "r2store_asgi": _STORE + "from r2store.asgi import R2ProxyApp\napp = R2ProxyApp(store)\n",
    "naive_wsgi": _BOTO3_CLIENT
    + """
def app(environ, start_response):
    obj = client.get_object(Bucket="bench", Key=environ["PATH_INFO"][1:])
    start_response(
        "200 OK",
        [("Content-Type", obj["ContentType"]), ("Content-Length", str(obj["ContentLength"]))],
    )
    return obj["Body"].iter_chunks(64 * 1024)
""",
    "naive_starlette": _BOTO3_CLIENT
    + """
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse
from starlette.routing import Route

async def serve(request):
    obj = await run_in_threadpool(
        client.get_object, Bucket="bench", Key=request.path_params["key"]
    )
    return StreamingResponse(
        obj["Body"].iter_chunks(64 * 1024),
        media_type=obj["ContentType"],
        headers={"Content-Length": str(obj["ContentLength"])},
    )

app = Starlette(routes=[Route("/{key:path}", serve)])
""",
    "r2store_django_settings": _DJANGO_SETTINGS.format(
        app='"r2store.django"',
        backend='"r2store.django.R2Storage"',
        options='"endpoint_url": os.environ["BENCH_UPSTREAM"], "bucket": "bench", '
        '"access_key_id": "x", "secret_access_key": "y" * 20',
    )
    + """MEDIA_URL = "/media-proxy/"
urlpatterns = [path("media-proxy/", include("r2store.django.urls"))]
""",
    "r2store_django": _DJANGO_APP.format(settings="r2store_django_settings"),
    "storages_django_settings": _DJANGO_SETTINGS.format(
        app='"storages"',
        backend='"storages.backends.s3.S3Storage"',
        options='"endpoint_url": os.environ["BENCH_UPSTREAM"], "bucket_name": "bench", '
        '"access_key": "x", "secret_key": "y" * 20, "region_name": "auto", '
        '"addressing_style": "path", "querystring_auth": False',
    )
    + """
from django.core.files.storage import default_storage
from django.http import FileResponse

def serve(request, key):
    return FileResponse(default_storage.open(key))

urlpatterns = [path("media/<path:key>", serve)]
""",
    "storages_django": _DJANGO_APP.format(settings="storages_django_settings"),
}


@dataclass(frozen=True)
class Server:
    """One way of serving the object: a server command over one of :data:`APPS`."""

    name: str
    label: str
    kind: str  # "gunicorn" or "uvicorn"
    app: str
    prefix: str = "/"  # the object is at <prefix><key>

    def argv(self, port: int, app_dir: Path) -> list[str]:
        if self.kind == "gunicorn":
            return gunicorn_argv(port, app_dir, self.app)
        return [
            *(sys.executable, "-m", "uvicorn", f"{self.app}:app", "--app-dir", str(app_dir)),
            *("--host", "127.0.0.1", "--port", str(port), "--no-access-log"),
            *("--loop", "asyncio", "--timeout-keep-alive", "30", "--log-level", "warning"),
        ]


# uvicorn's --http auto picks httptools when it is installed, else h11: say which ran.
_UVICORN_HTTP = "httptools" if importlib.util.find_spec("httptools") else "h11"
GUNICORN = Server("gunicorn", "r2store WSGI, gunicorn gthread", "gunicorn", "r2store_wsgi")
UVICORN = Server("uvicorn", f"r2store ASGI, uvicorn ({_UVICORN_HTTP})", "uvicorn", "r2store_asgi")
DJANGO = Server(
    "django", "r2store Django view, gunicorn gthread", "gunicorn", "r2store_django", "/media-proxy/"
)
NAIVE_WSGI = Server(
    "naive-wsgi", "naive WSGI iter_chunks(64 KiB), gunicorn", "gunicorn", "naive_wsgi"
)
RELAY_LABEL = "nginx proxy_pass (C), unbuffered, 1 MiB buffer"
NAIVE_STARLETTE = Server(
    "naive-starlette",
    "naive Starlette StreamingResponse, 64 KiB, uvicorn",
    "uvicorn",
    "naive_starlette",
)
STORAGES_DJANGO = Server(
    "storages-django",
    "django-storages S3Storage + FileResponse, gunicorn",
    "gunicorn",
    "storages_django",
    "/media/",
)
# The django-storages row needs both; it is skipped without them.
HAVE_STORAGES = all(importlib.util.find_spec(m) for m in ("django", "storages"))


@dataclass
class Measured:
    """Reads of the anchors and of one server, the server's RSS growth, and CPU time used.

    ``direct_cpu``, ``relay_cpu`` and ``proxied_cpu`` are CPU seconds summed over all the
    reads of each kind, by process: ``client`` (this one), ``server`` (the serving process;
    the relay's nginx worker), ``upstream``. ``relay`` is empty for context rows.
    """

    server: Server
    direct: list[Read] = field(default_factory=list)
    proxied: list[Read] = field(default_factory=list)
    relay: list[Read] = field(default_factory=list)
    rss_baseline_kib: int = 0
    rss_peak_kib: int = 0
    hwm_reset: bool = False
    direct_cpu: dict[str, float] = field(default_factory=dict)
    proxied_cpu: dict[str, float] = field(default_factory=dict)
    relay_cpu: dict[str, float] = field(default_factory=dict)

    def cpu_ms_per_gb(self, proxied: bool, relay: bool = False) -> dict[str, float]:
        """CPU milliseconds per 10^9 bytes moved, by process (of the benchmark's own):
        of the proxied reads, the relay's (*relay*) or the direct ones."""
        if relay:
            reads, cpu = self.relay, self.relay_cpu
        elif proxied:
            reads, cpu = self.proxied, self.proxied_cpu
        else:
            reads, cpu = self.direct, self.direct_cpu
        moved = sum(r.size for r in reads) / 1e9
        return {
            name: seconds * 1e3 / moved
            for name, seconds in cpu.items()
            if name not in ("machine", "wall")
        }

    @property
    def other_load(self) -> float:
        """The share of the machine's CPUs that other processes used during the reads."""
        other = wall = 0.0
        for cpu in (self.direct_cpu, self.proxied_cpu, self.relay_cpu):
            if not cpu:
                continue
            ours = sum(v for k, v in cpu.items() if k not in ("machine", "wall"))
            other += max(0.0, cpu["machine"] - ours)
            wall += cpu["wall"]
        return other / (wall * (os.cpu_count() or 1))

    @property
    def throughput_ratio(self) -> float:
        return best_mb_s(self.proxied) / best_mb_s(self.direct)

    @property
    def median_throughput_ratio(self) -> float:
        """Median over median: steadier than best over best when one anchor run is an outlier."""
        return median_mb_s(self.proxied) / median_mb_s(self.direct)

    @property
    def relay_ratio(self) -> float:
        """Median proxied MB/s over the relay's median, read in the same rounds."""
        return median_mb_s(self.proxied) / median_mb_s(self.relay)

    @property
    def server_cpu_ratio(self) -> float:
        """The serving process's CPU per GB over the relay's nginx worker's."""
        relay = self.cpu_ms_per_gb(proxied=False, relay=True)["server"]
        return self.cpu_ms_per_gb(proxied=True)["server"] / relay

    @property
    def ttfb_ratio(self) -> float:
        return median_ttfb_ms(self.proxied) / median_ttfb_ms(self.direct)

    @property
    def rss_growth_mib(self) -> float:
        return (self.rss_peak_kib - self.rss_baseline_kib) / 1024


def direct_read(client: Any, size: int) -> Read:
    """The anchor: boto3 ``get_object`` and ``iter_chunks(1 MiB)`` to the end."""
    start = time.perf_counter()
    body = client.get_object(Bucket=BUCKET, Key=KEY)["Body"]
    chunks = body.iter_chunks(CHUNK)
    received = len(next(chunks))
    first = time.perf_counter() - start
    for chunk in chunks:
        received += len(chunk)
    total = time.perf_counter() - start
    body.close()
    if received != size:
        raise SystemExit(f"proxy_stream: direct read got {received} bytes of {size}")
    return Read(first, first, total, received)


def direct_client(endpoint: str) -> Any:
    """A plain boto3 client with the settings r2store uses for R2 (path style, no checksums)."""
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name="auto",
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        config=Config(
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


@contextmanager
def serving(server: Server, upstream: Upstream, work: Path) -> Iterator[tuple[int, int]]:
    """Run *server* over *upstream*; yield its port and the pid of the process that serves."""
    app_dir = work / "apps"
    port = free_port()
    env = {
        **os.environ,
        "BENCH_UPSTREAM": upstream.url,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(ROOT), str(app_dir), os.environ.get("PYTHONPATH")])
        ),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    log = work / f"{server.name}.log"
    with running(server.argv(port, app_dir), port=port, log=log, env=env) as proc:
        # gunicorn's one worker serves; uvicorn serves in its own process.
        yield port, only_child(proc.pid) if server.kind == "gunicorn" else proc.pid


class CpuClock:
    """Adds up the CPU time processes use between ``start()`` and ``stop()``.

    ``total`` has the benchmark's own processes by name, plus ``machine`` (every process on
    the machine) and ``wall`` (elapsed seconds).
    """

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.total = dict.fromkeys(["client", *pids, "machine", "wall"], 0.0)
        self._start: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        now = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        return {
            "client": time.process_time(),
            **now,
            "machine": machine_busy_seconds(),
            "wall": time.perf_counter(),
        }

    def start(self) -> None:
        self._start = self._now()

    def stop(self) -> None:
        for name, seconds in self._now().items():
            self.total[name] += seconds - self._start[name]


def measure(
    server: Server,
    upstream: Upstream,
    client: Any,
    size: int,
    expected_digest: str,
    runs: int,
    work: Path,
    relay: Upstream | None = None,
) -> Measured:
    """Warm *server* up, then interleave direct, relayed (when *relay* runs) and proxied
    reads, watching the server's RSS."""
    with serving(server, upstream, work) as (port, worker), ExitStack() as pools:
        pool = urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=1, retries=False)
        pools.callback(pool.close)
        relay_pool = None
        if relay is not None:
            relay_port = int(relay.url.rsplit(":", 1)[1])
            relay_pool = urllib3.HTTPConnectionPool(
                "127.0.0.1", relay_port, maxsize=1, retries=False
            )
            pools.callback(relay_pool.close)
            http_read(relay_pool, "/" + KEY, size)  # warm: its connections to the upstream
        path = server.prefix + KEY
        # Warm-up: imports, the S3 client, connections, thread pools. The first read also
        # proves the proxy sends the object's bytes, not just the right number of them.
        digest = hashlib.blake2b()
        http_read(pool, path, size, digest)
        if digest.hexdigest() != expected_digest:
            raise SystemExit(f"proxy_stream: {server.name} sent different bytes")
        http_read(pool, path, size)
        direct_read(client, size)
        result = Measured(server)
        direct_cpu = CpuClock({"upstream": upstream.pid})
        proxied_cpu = CpuClock({"server": worker, "upstream": upstream.pid})
        relay_cpu = CpuClock({"server": relay.pid if relay else worker, "upstream": upstream.pid})
        result.hwm_reset = reset_peak_rss(worker)
        result.rss_baseline_kib = rss_kib(worker)
        with RssSampler(worker) as sampler:
            for _ in range(runs):
                direct_cpu.start()
                result.direct.append(direct_read(client, size))
                direct_cpu.stop()
                if relay_pool is not None:
                    relay_cpu.start()
                    result.relay.append(http_read(relay_pool, "/" + KEY, size))
                    relay_cpu.stop()
                proxied_cpu.start()
                result.proxied.append(http_read(pool, path, size))
                proxied_cpu.stop()
        hwm = peak_rss_kib(worker) if result.hwm_reset else 0
        result.rss_peak_kib = max(hwm, sampler.peak_kib)
        result.direct_cpu, result.proxied_cpu = direct_cpu.total, proxied_cpu.total
        if relay_pool is not None:
            result.relay_cpu = relay_cpu.total
    return result


def rows_for(m: Measured, prefix: str, judged: bool, upstream: str) -> list[dict[str, Any]]:
    """Result objects (run.py's shape) for one server's measurements.

    A judged server's throughput and server CPU are against the nginx relay read in the
    same rounds; the direct read is their context. Context servers compare with direct.
    """
    name = f"proxy_stream.{prefix}{m.server.name}"
    proxied_ms, direct_ms = median_ttfb_ms(m.proxied), median_ttfb_ms(m.direct)
    growth = m.rss_growth_mib
    rss_how = "of both" if m.hwm_reset else "of the poll (clear_refs refused)"
    cpu = {
        "cpu_ms_per_gb": _rounded(m.cpu_ms_per_gb(proxied=True)),
        "anchor_cpu_ms_per_gb": _rounded(m.cpu_ms_per_gb(proxied=False)),
    }
    runs = {
        "runs_mb_s": [round(r.mb_s, 1) for r in m.proxied],
        "direct_runs_mb_s": [round(r.mb_s, 1) for r in m.direct],
    }
    vs_direct = {
        "name": f"{name}.vs_direct",
        "label": f"{m.server.label}: median of {len(m.proxied)} reads against the direct read, "
        f"{upstream} upstream",
        "value": round(median_mb_s(m.proxied), 1),
        "unit": "MB/s",
        "anchor": round(median_mb_s(m.direct), 1),
        "anchor_label": "direct boto3 iter_chunks(1 MiB), median",
        "ratio": round(m.median_throughput_ratio, 3),
        "target": None,
        "passed": None,
        "best_ratio": round(m.throughput_ratio, 3),
        **runs,
        **cpu,
        "other_load_pct": round(m.other_load * 100, 1),
    }
    rows: list[dict[str, Any]] = []
    if judged:
        relay_cpu = m.cpu_ms_per_gb(proxied=False, relay=True)
        server_cpu = m.cpu_ms_per_gb(proxied=True)["server"]
        rows += [
            {
                "name": f"{name}.throughput",
                "label": f"{m.server.label}: median of {len(m.proxied)} reads, {upstream} "
                "upstream, against nginx's relay",
                "value": round(median_mb_s(m.proxied), 1),
                "unit": "MB/s",
                "anchor": round(median_mb_s(m.relay), 1),
                "anchor_label": "nginx proxy_pass (C), same upstream, same rounds, median",
                "ratio": round(m.relay_ratio, 3),
                "target": f">= {THROUGHPUT_TARGET:g}x nginx relay (median over median)",
                "passed": m.relay_ratio >= THROUGHPUT_TARGET,
                "best_ratio": round(best_mb_s(m.proxied) / best_mb_s(m.relay), 3),
                "relay_runs_mb_s": [round(r.mb_s, 1) for r in m.relay],
                **runs,
                "other_load_pct": round(m.other_load * 100, 1),
            },
            {
                "name": f"{name}.server_cpu",
                "label": f"{m.server.label}: serving process's CPU per 10^9 bytes, "
                f"{upstream} upstream",
                "value": round(server_cpu, 1),
                "unit": "ms/GB",
                "anchor": round(relay_cpu["server"], 1),
                "anchor_label": "nginx relay's worker, same rounds",
                "ratio": round(m.server_cpu_ratio, 3),
                "target": f"<= {SERVER_CPU_TARGET:g}x nginx relay's",
                "passed": m.server_cpu_ratio <= SERVER_CPU_TARGET,
                **cpu,
                "relay_cpu_ms_per_gb": _rounded(relay_cpu),
            },
            vs_direct,
        ]
    else:
        rows.append(
            vs_direct
            | {
                "name": f"{name}.throughput",
                "label": f"{m.server.label}: median of {len(m.proxied)} reads, {upstream} upstream",
            }
        )
    rows += [
        {
            "name": f"{name}.ttfb",
            "label": f"{m.server.label}: request to first body byte, median, {upstream} upstream",
            "value": round(proxied_ms, 3),
            "unit": "ms",
            "anchor": round(direct_ms, 3),
            "anchor_label": "direct get_object + first 1 MiB chunk",
            "ratio": round(m.ttfb_ratio, 3),
            "target": f"<= {TTFB_TARGET:g}x direct" if judged else None,
            "passed": m.ttfb_ratio <= TTFB_TARGET if judged else None,
            "runs_ms": [round(r.first_byte_s * 1e3, 3) for r in m.proxied],
            "first_chunk_runs_ms": [round(r.first_chunk_s * 1e3, 3) for r in m.proxied],
            "anchor_runs_ms": [round(r.first_byte_s * 1e3, 3) for r in m.direct],
        },
        {
            "name": f"{name}.rss",
            "label": f"{m.server.label}: peak RSS growth while streaming, {upstream} upstream",
            "value": round(growth, 2),
            "unit": "MiB",
            "anchor": round(m.rss_baseline_kib / 1024, 1),
            "anchor_label": "RSS after warm-up",
            "ratio": None,
            "target": f"<= {RSS_TARGET_MIB:g} MiB" if judged else None,
            "passed": growth <= RSS_TARGET_MIB if judged else None,
            "method": f"VmHWM reset by clear_refs, and a 5 ms VmRSS poll; peak {rss_how}",
            "peak_mib": round(m.rss_peak_kib / 1024, 1),
        },
    ]
    return rows


def relay_row(judged: list[Measured]) -> dict[str, Any]:
    """The relay's own reads (of every judged server's rounds) against the direct ones (no
    target): what the hop costs a proxy written in C on this machine."""
    relay = [r for m in judged for r in m.relay]
    direct = [r for m in judged for r in m.direct]
    moved = sum(r.size for r in relay) / 1e9
    server = sum(m.relay_cpu["server"] for m in judged) * 1e3 / moved
    return {
        "name": "proxy_stream.nginx-relay.throughput",
        "label": f"{RELAY_LABEL}: median of {len(relay)} reads, against the direct read",
        "value": round(median_mb_s(relay), 1),
        "unit": "MB/s",
        "anchor": round(median_mb_s(direct), 1),
        "anchor_label": "direct boto3 iter_chunks(1 MiB), median",
        "ratio": round(median_mb_s(relay) / median_mb_s(direct), 3),
        "target": None,
        "passed": None,
        "server_cpu_ms_per_gb": round(server, 1),
    }


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {name: round(value, 1) for name, value in values.items()}


def print_table(title: str, measured: list[Measured]) -> None:
    """Throughput, time to first byte, RSS growth and CPU cost, one line per server."""
    print(title)
    print(
        f"  {'server':50} {'MB/s':>5} {'relay':>5} {'ratio':>5} {'direct':>6} {'ratio':>5} | "
        f"{'TTFB ms':>7} {'direct':>6} {'ratio':>5} {'1st MiB':>7} | {'RSS +MiB':>8} | "
        f"{'other':>5} | CPU ms/GB: server (relay's) ratio | client, upstream (direct)"
    )
    for m in measured:
        first_chunk_ms = statistics.median(r.first_chunk_s for r in m.proxied) * 1e3
        proxied, direct = m.cpu_ms_per_gb(proxied=True), m.cpu_ms_per_gb(proxied=False)
        if m.relay:
            relay_server = m.cpu_ms_per_gb(proxied=False, relay=True)["server"]
            relay = f"{median_mb_s(m.relay):5.0f} {m.relay_ratio:5.2f}"
            server = f"{proxied['server']:.0f} ({relay_server:.0f}) {m.server_cpu_ratio:.2f}"
        else:
            relay, server = f"{'-':>5} {'-':>5}", f"{proxied['server']:.0f}"
        print(
            f"  {m.server.label:50} {median_mb_s(m.proxied):5.0f} {relay} "
            f"{median_mb_s(m.direct):6.0f} {m.median_throughput_ratio:5.2f} | "
            f"{median_ttfb_ms(m.proxied):7.2f} "
            f"{median_ttfb_ms(m.direct):6.2f} {m.ttfb_ratio:5.2f} {first_chunk_ms:7.2f} | "
            f"{m.rss_growth_mib:8.2f} | {m.other_load:5.0%} | {server} | "
            f"{proxied['client']:.0f} ({direct['client']:.0f}), "
            f"{proxied['upstream']:.0f} ({direct['upstream']:.0f})"
        )


def prepare(work: Path, size: int) -> tuple[Path, str]:
    """Write the app modules and the object under *work*; the nginx root and the digest."""
    (work / "apps").mkdir()
    for module, source in APPS.items():
        (work / "apps" / f"{module}.py").write_text(source, encoding="utf-8")
    root = work / "root"
    object_path = root / BUCKET / KEY
    object_path.parent.mkdir(parents=True)
    # nginx's workers run unprivileged: everything they serve must be world-readable.
    for directory in (work, *object_path.parents):
        directory.chmod(0o755)
        if directory == root:
            break
    return root, make_object(object_path, size)


def measure_nginx(
    args: argparse.Namespace, stack: ExitStack, work: Path, size: int
) -> tuple[list[Measured], list[Measured], list[Read]]:
    """The judged servers, the naive proxies and the raw urllib3 reads, against nginx."""
    root, digest = prepare(work, size)
    upstream = stack.enter_context(nginx_upstream(root, work))
    client = direct_client(upstream.url)
    stack.callback(client.close)
    direct_read(client, size)  # warm the anchor's client and connection

    # The client's ceiling: the same urllib3 loop straight from nginx, without boto3.
    raw_pool = urllib3.HTTPConnectionPool("127.0.0.1", int(upstream.url.rsplit(":", 1)[1]))
    try:
        raw = [http_read(raw_pool, f"/{BUCKET}/{KEY}", size) for _ in range(args.context_runs)]
    finally:
        raw_pool.close()
    # The anchor of the judged rows: one nginx relay, read in every judged server's rounds.
    relay = stack.enter_context(nginx_relay(upstream, BUCKET, work))
    judged = [
        measure(s, upstream, client, size, digest, args.runs, work, relay)
        for s in (GUNICORN, UVICORN, DJANGO)
    ]
    naive = []
    if not args.no_context:
        context = [NAIVE_WSGI, NAIVE_STARLETTE]
        if HAVE_STORAGES:
            context.append(STORAGES_DJANGO)
        else:
            print("proxy_stream: django-storages is not installed; skipping its row")
        naive = [
            measure(s, upstream, client, size, digest, args.context_runs, work) for s in context
        ]
    return judged, naive, raw


def measure_moto(args: argparse.Namespace, stack: ExitStack, work: Path) -> list[Measured]:
    """The r2store servers again, with moto's server as the upstream."""
    size = args.moto_size_mib * MiB
    moto_dir = work / "moto"
    moto_dir.mkdir()
    upstream = stack.enter_context(moto_upstream(moto_dir))
    client = direct_client(upstream.url)
    stack.callback(client.close)
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "auto"})
    source = moto_dir / "object.bin"
    digest = make_object(source, size)
    with source.open("rb") as body:
        client.put_object(Bucket=BUCKET, Key=KEY, Body=body)
    source.unlink()
    direct_read(client, size)  # warm the anchor's client
    return [
        measure(s, upstream, client, size, digest, args.context_runs, work)
        for s in (GUNICORN, UVICORN)
    ]


def main(argv: list[str] | None = None) -> int:
    """Measure, print the tables and the verdicts; optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--runs", type=int, default=11, help="reads of each kind per judged server")
    parser.add_argument(
        "--context-runs", type=int, default=5, help="reads of each kind per context row"
    )
    parser.add_argument("--size-mib", type=int, default=256, help="object size (nginx)")
    parser.add_argument("--moto-size-mib", type=int, default=256, help="object size (moto)")
    parser.add_argument(
        "--no-context", action="store_true", help="skip the naive proxies and the moto table"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    # A SIGTERM (a runner's timeout, say) unwinds like Ctrl-C: every server is stopped and
    # the temporary directory removed.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

    moto: list[Measured] = []
    try:
        with ExitStack() as stack:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="r2store-stream-")))
            judged, naive, raw = measure_nginx(args, stack, work, args.size_mib * MiB)
            if not args.no_context:
                moto = measure_moto(args, stack, work)
    except UpstreamError as exc:
        print(f"proxy_stream: cannot measure: {exc}", file=sys.stderr)
        return 2

    results: list[dict[str, Any]] = []
    for m in judged:
        results += rows_for(m, "", True, "nginx")
    for m in naive:
        rows = rows_for(m, "", False, "nginx")
        # The naive proxies hold one chunk; django-storages' memory is the point of its row.
        results += rows if m.server is STORAGES_DJANGO else rows[:2]
    results.append(relay_row(judged))
    direct_mb_s = best_mb_s(judged[0].direct)
    results.append(
        {
            "name": "proxy_stream.nginx-urllib3.throughput",
            "label": "no proxy: urllib3 read(1 MiB) straight from nginx (the client's ceiling)",
            "value": round(best_mb_s(raw), 1),
            "unit": "MB/s",
            "anchor": round(direct_mb_s, 1),
            "anchor_label": "direct boto3 iter_chunks(1 MiB)",
            "ratio": round(best_mb_s(raw) / direct_mb_s, 3),
            "target": None,
            "passed": None,
        }
    )
    for m in moto:
        results += rows_for(m, "moto.", False, f"moto, {args.moto_size_mib} MiB")

    print_table(
        f"proxy_stream: a {args.size_mib} MiB object from nginx; MB/s (10^6 bytes) and TTFB "
        f"medians of {args.runs} ({args.context_runs} for context rows); 'relay' is nginx's "
        "proxy_pass and 'direct' boto3, from the same upstream in the same rounds",
        judged + naive,
    )
    print(f"  urllib3 straight from nginx, no boto3: {best_mb_s(raw):.0f} MB/s")
    relay = relay_row(judged)
    print(
        f"  nginx's relay: {relay['value']:.0f} MB/s median, {relay['ratio']:.2f}x direct, "
        f"its worker {relay['server_cpu_ms_per_gb']:.0f} CPU ms/GB"
    )
    if moto:
        print_table(
            f"proxy_stream: context, moto's server as the upstream, a {args.moto_size_mib} MiB "
            f"object, medians of {args.context_runs} (no targets)",
            moto,
        )
    judged_rows = [r for r in results if r["passed"] is not None]
    passed = all(r["passed"] for r in judged_rows)
    print(
        f"proxy_stream: took {time.perf_counter() - started:.0f} s on {os.cpu_count()} cores. "
        "Ratios are median over median. 'other': the share of all cores that "
        "other processes used during the reads (client, server and upstream share the cores)"
    )
    for r in judged_rows:
        ratio = "" if r["ratio"] is None else f"ratio {r['ratio']:g}"
        print(f"  {r['name']:34} {r['value']:8g} {r['unit']:4} {ratio:12} {r['target']}")
    for r in judged_rows:
        print(f"{r['name']}: {'PASS' if r['passed'] else 'FAIL'}")
    print(f"proxy_stream: {'PASS' if passed else 'FAIL'}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
