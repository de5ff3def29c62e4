"""Helpers for the streaming benchmarks: local S3 upstreams, server processes, and RSS.

Everything here runs on loopback and is cleaned up by the context managers: each child runs
in its own process group, which is sent SIGTERM, then SIGKILL, when the benchmark leaves the
context however it does; a child whose benchmark is killed outright gets SIGTERM from the
kernel (``PR_SET_PDEATHSIG``). Linux only: everything reads ``/proc``.

* :func:`nginx_upstream` serves ``<root>/<bucket>/<key>`` as a path-style S3 endpoint that
  answers boto3's ``get_object`` and ``head_object`` (with ETag, Last-Modified and Range) at
  gigabytes a second, so the upstream is never the bottleneck. It checks no signature.
* :func:`nginx_relay` runs nginx as a streaming reverse proxy in front of an upstream: what a
  proxy written in C achieves on the same machine.
* :func:`moto_upstream` runs moto's ``ThreadedMotoServer`` in a child process (not a thread of
  the benchmark: it would share the client's GIL).
* :func:`rss_kib`, :func:`reset_peak_rss` and :func:`peak_rss_kib` read and reset a process's
  resident set; :func:`cpu_seconds` and :func:`machine_busy_seconds` read CPU time used.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "RssSampler",
    "Upstream",
    "UpstreamError",
    "child_pids",
    "cpu_seconds",
    "free_port",
    "machine_busy_seconds",
    "moto_upstream",
    "nginx_relay",
    "nginx_upstream",
    "only_child",
    "peak_rss_kib",
    "reset_peak_rss",
    "rss_kib",
    "running",
]

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
NGINX_INSTALL_HINT = "apt-get update && apt-get install -y nginx-light"


class UpstreamError(RuntimeError):
    """A server the benchmark needs could not be started."""


@dataclass(frozen=True)
class Upstream:
    """A running S3 endpoint: its URL, and the pid of the process that serves requests."""

    url: str
    pid: int


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the benchmark dies, even by SIGKILL.

    The children run in sessions of their own (so a terminal's Ctrl-C reaches only the
    benchmark, which then stops them in order); this keeps them from outliving it.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """End *proc* and everything in its process group: SIGTERM, then SIGKILL."""
    for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            continue
    # The leader may be gone while its children (gunicorn's worker, nginx's) linger.
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@contextmanager
def running(
    argv: Sequence[str],
    *,
    port: int,
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 30.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start *argv* in a new process group, wait until 127.0.0.1:*port* accepts, then yield it.

    Its output goes to *log*; when it dies or never listens, the log's tail is in the error.
    """
    with log.open("wb") as out:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
            # Safe here: the benchmark runs no other thread while it starts a server.
            preexec_fn=_die_with_parent,
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise UpstreamError(
                    f"{argv[0]} exited with status {proc.returncode}:\n{_tail(log)}"
                )
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise UpstreamError(
                        f"{argv[0]} did not listen on port {port} in {timeout:g} s:\n{_tail(log)}"
                    ) from None
                time.sleep(0.05)
        yield proc
    finally:
        _stop(proc)


# What both nginx configurations share: one worker, and every path under its own prefix.
_NGINX_COMMON = """\
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
"""
_NGINX_CONF = (
    _NGINX_COMMON
    + """\
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 60s;
    keepalive_requests 100000;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{
            # GET also allows HEAD.
            limit_except GET {{ deny all; }}
        }}
    }}
}}
"""
)


@contextmanager
def _nginx(name: str, template: str, workdir: Path, **values: object) -> Iterator[Upstream]:
    """Run nginx in the foreground on a free port, configured by *template* and *values*.

    Its config, pid, logs and temp paths are in ``workdir/name``.
    """
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if nginx is None:
        raise UpstreamError(f"nginx is not installed; install it with: {NGINX_INSTALL_HINT}")
    prefix = workdir / name
    prefix.mkdir()
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(template.format(prefix=prefix, port=port, **values), encoding="utf-8")
    argv = [nginx, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
    with running([*argv, "-g", "daemon off;"], port=port, log=prefix / "stdout.log") as proc:
        yield Upstream(f"http://127.0.0.1:{port}", only_child(proc.pid))


@contextmanager
def nginx_upstream(root: Path, workdir: Path) -> Iterator[Upstream]:
    """Serve the files under *root* (``<root>/<bucket>/<key>``) with nginx.

    nginx runs in the foreground with its own config, pid, logs and temp paths in *workdir*.
    Its workers run unprivileged, so *root* and the files in it must be world-readable.
    """
    with _nginx("nginx", _NGINX_CONF, workdir, root=root) as upstream:
        yield upstream


_RELAY_CONF = (
    _NGINX_COMMON
    + """\
    upstream s3 {{
        server {upstream};
        keepalive 4;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            limit_except GET {{ deny all; }}
            proxy_pass http://s3/{bucket}/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # Stream as the proxy does: no buffering to disk, 1 MiB reads.
            proxy_buffering off;
            proxy_buffer_size 1m;
            proxy_buffers 4 1m;
            proxy_busy_buffers_size 2m;
        }}
    }}
}}
"""
)


@contextmanager
def nginx_relay(upstream: Upstream, bucket: str, workdir: Path) -> Iterator[Upstream]:
    """nginx as a streaming reverse proxy for *bucket* on *upstream*: ``/<key>`` is relayed.

    What a proxy written in C gets on this machine, for comparison; it signs nothing.
    """
    address = upstream.url.split("://", 1)[1]
    with _nginx("nginx-relay", _RELAY_CONF, workdir, upstream=address, bucket=bucket) as relay:
        yield relay


_MOTO_MAIN = """\
import sys, threading
from moto.server import ThreadedMotoServer
ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False).start()
threading.Event().wait()
"""


@contextmanager
def moto_upstream(workdir: Path) -> Iterator[Upstream]:
    """Run moto's S3 server on loopback in a child process.

    moto spools large objects to temporary files: they go to *workdir*.
    """
    port = free_port()
    env = {**os.environ, "TMPDIR": str(workdir)}
    argv = [sys.executable, "-c", _MOTO_MAIN, str(port)]
    with running(argv, port=port, log=workdir / "moto.log", env=env) as proc:
        yield Upstream(f"http://127.0.0.1:{port}", proc.pid)


def _status_kib(pid: int, field: str) -> int:
    with Path(f"/proc/{pid}/status").open(encoding="ascii", errors="replace") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise UpstreamError(f"/proc/{pid}/status has no {field}")


def rss_kib(pid: int) -> int:
    """The process's resident set size now (``VmRSS``), in KiB."""
    return _status_kib(pid, "VmRSS")


def peak_rss_kib(pid: int) -> int:
    """The process's peak resident set size (``VmHWM``) since start or the last reset, in KiB."""
    return _status_kib(pid, "VmHWM")


def reset_peak_rss(pid: int) -> bool:
    """Reset ``VmHWM`` to the current RSS (``clear_refs`` 5, Linux >= 4.0); False if refused."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5", encoding="ascii")
    except OSError:
        return False
    return True


def child_pids(pid: int) -> list[int]:
    """The pids of *pid*'s direct children (from ``/proc/*/stat``)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            children.append(int(entry.name))
    return sorted(children)


def only_child(pid: int, timeout: float = 10.0) -> int:
    """The one child of *pid* (a server's worker), waiting for it to be forked."""
    deadline = time.monotonic() + timeout
    while not (children := child_pids(pid)) and time.monotonic() < deadline:
        time.sleep(0.01)
    if len(children) != 1:
        raise UpstreamError(f"process {pid} has children {children}, expected one worker")
    return children[0]


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) *pid* has used so far, in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    fields = stat.rsplit(")", 1)[-1].split()
    # After "(comm)": state is field 3, utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time all processes on the machine have used so far (user, nice, system), in seconds.

    Interrupt time is left out, as it is from a process's own ``utime + stime``: the difference
    to what the benchmark's processes used is what other processes took.
    """
    with Path("/proc/stat").open(encoding="ascii") as stat:
        user, nice, system = (int(field) for field in stat.readline().split()[1:4])
    return (user + nice + system) / os.sysconf("SC_CLK_TCK")


class RssSampler:
    """Polls a process's ``VmRSS`` in a thread; ``peak_kib`` is the largest value seen.

    A cross-check of ``VmHWM``: polling can miss a short spike, ``VmHWM`` cannot.
    """

    def __init__(self, pid: int, interval: float = 0.005) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_kib = rss_kib(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.peak_kib = max(self.peak_kib, rss_kib(self.pid))
            except (OSError, UpstreamError):
                return

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
