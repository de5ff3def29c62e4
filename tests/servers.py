"""Run a real server process (gunicorn, uvicorn) for a test, and stop it afterwards."""

from __future__ import annotations

import http.client
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Starting a server costs about a second; a broken one must not hang the run.
_START_DEADLINE = 30.0


def _wait_until_serving(
    process: subprocess.Popen[bytes], port: int, ready_path: str, log: Path
) -> None:
    """Poll until GET *ready_path* answers 200 (not just until the socket accepts:
    gunicorn binds before its worker has started)."""
    deadline = time.monotonic() + _START_DEADLINE
    while time.monotonic() < deadline and process.poll() is None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        try:
            connection.request("GET", ready_path)
            with connection.getresponse() as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.05)
    output = log.read_text(errors="replace")
    raise RuntimeError(f"the server did not start; its output:\n{output}")


@contextmanager
def server_process(
    argv: Sequence[str],
    *,
    port: int,
    env: Mapping[str, str],
    log: Path,
    ready_path: str,
    fail_on: str,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run *argv* (its output to *log*) until the block ends, once GET *ready_path* on
    127.0.0.1:*port* answers 200. Afterwards, fail the test if a line of the log holds
    *fail_on* (say ``"ResourceWarning"``, with the server run under
    ``PYTHONWARNINGS=always::ResourceWarning``)."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            list(argv), env=dict(env), cwd=ROOT, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            _wait_until_serving(process, port, ready_path, log)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    found = [line for line in log.read_text(errors="replace").splitlines() if fail_on in line]
    if found:
        pytest.fail(f"the server logged {fail_on}:\n" + "\n".join(found))
