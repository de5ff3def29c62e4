"""Is ``r2store sync`` as fast as ``aws s3 sync``, and is its no-change re-run one listing?

Anchor: ``aws s3 sync`` (awscli), run in the same run against the same S3 server:
moto's server in a separate process on loopback, so the clients' work does not share
its GIL. Both are timed as whole processes, start-up included, as people run them.

Data: 1,000 files of 10 KiB in 10 folders, synced into a fresh bucket per tool.

Targets:

* first sync (everything uploaded): r2store no slower than aws (ratio <= 1.0; moto
  itself tops out near 250 PUT/s on 2 cores, so both mostly wait for it);
* no-change re-run, best of 3: r2store at most half of aws's time;
* requests of r2store's re-run, from the server's access log: exactly 1 (one
  ListObjectsV2 answers 1,000 keys; no request per file).

Run: ``python benchmarks/bench_sync.py [--json PATH] [--files N] [--repeat N]``
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Run from a checkout without installing: put the repository root first on the path.
sys.path.insert(0, str(ROOT))

ACCESS_KEY_ID = "bench-access-key-id"
SECRET_ACCESS_KEY = "bench-secret-0123456789abcdef0123456789abcdef"
REGION = "auto"
FILE_SIZE = 10 * 1024
FOLDERS = 10
FIRST_TARGET = 1.0  # r2store / aws, at most
RERUN_TARGET = 0.5  # r2store / aws, at most
# "GET /bucket?list-type=2&... HTTP/1.1" 200 -  (werkzeug's access log line)
_REQUEST = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3})')


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class AccessLog:
    """The request lines the moto server logs, collected by a thread as they come."""

    def __init__(self, stream: Any) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            if _REQUEST.search(line):
                with self._lock:
                    self.lines.append(line)

    def mark(self) -> int:
        """The number of requests logged so far."""
        with self._lock:
            return len(self.lines)

    def since(self, mark: int) -> list[str]:
        """Requests logged after *mark*, waiting briefly for lines still in the pipe."""
        time.sleep(0.2)
        with self._lock:
            return self.lines[mark:]


def http_get(port: int, path: str) -> bytes:
    """The body of a plain GET to 127.0.0.1:*port* (moto does not check signatures)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        return connection.getresponse().read()
    finally:
        connection.close()


@contextmanager
def moto_server() -> Iterator[tuple[str, AccessLog]]:
    """moto's S3 server in its own process; its endpoint and its access log."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                http_get(port, "/moto-api/")
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("sync: the moto server did not start") from None
                time.sleep(0.1)
        yield endpoint, AccessLog(process.stderr)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def make_bucket(endpoint: str, name: str) -> None:
    """Create an empty bucket."""
    import boto3

    client = boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    client.close()


def make_files(root: Path, count: int) -> None:
    """*count* files of 10 KiB of random bytes, spread over folders."""
    for number in range(count):
        folder = root / f"folder-{number % FOLDERS:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"file-{number:05d}.bin").write_bytes(os.urandom(FILE_SIZE))


def clean_env() -> dict[str, str]:
    """This environment without AWS or R2 settings, and no AWS config files."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "R2_", "USE_R2"))}
    env["AWS_CONFIG_FILE"] = os.devnull
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    return env


def timed(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    """Run *command*; its wall time in seconds and its stdout. Stops the script on failure."""
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(
            f"sync: {' '.join(command[:5])} ... failed ({done.returncode}):\n"
            f"{done.stdout}{done.stderr}"
        )
    return seconds, done.stdout


def main(argv: list[str] | None = None) -> int:
    """Time both tools' first sync and no-change re-runs; print the table and verdicts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--files", type=int, default=1000, help="files to sync (default 1000)")
    parser.add_argument("--repeat", type=int, default=3, help="re-runs per tool; the best counts")
    args = parser.parse_args(argv)
    count: int = args.files

    with (
        tempfile.TemporaryDirectory(prefix="r2store-bench-sync-") as tmp,
        moto_server() as (
            endpoint,
            log,
        ),
    ):
        work = Path(tmp)
        local = work / "media"
        make_files(local, count)
        make_bucket(endpoint, "bench-r2store")
        make_bucket(endpoint, "bench-aws")

        env = clean_env()
        r2_env = env | {
            # The command works on the local folder unless USE_R2 says R2.
            "USE_R2": "true",
            "R2_ENDPOINT_URL": endpoint,
            "R2_BUCKET_NAME": "bench-r2store",
            "R2_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "R2_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        }
        aws_env = env | {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "AWS_DEFAULT_REGION": REGION,
        }
        r2_cmd = [sys.executable, "-m", "r2store", "sync", str(local), "media"]
        aws_cmd = [
            sys.executable,
            "-m",
            "awscli",
            "s3",
            "sync",
            str(local),
            "s3://bench-aws/media",
            "--endpoint-url",
            endpoint,
            "--no-progress",
        ]

        # (a) The first sync: every file uploaded. Once each: a bucket is fresh only once.
        r2_first, out = timed(r2_cmd, r2_env, work)
        if f"Uploaded {count} file(s)" not in out:
            raise SystemExit(f"sync: r2store's first sync did not upload every file:\n{out}")
        aws_first, out = timed(aws_cmd, aws_env, work)
        if out.count("upload:") != count:
            raise SystemExit(f"sync: aws's first sync did not upload every file:\n{out[-500:]}")

        # (b) No-change re-runs, alternated so that a noisy moment hurts both alike.
        r2_runs: list[float] = []
        aws_runs: list[float] = []
        r2_requests: list[list[str]] = []
        aws_requests: list[list[str]] = []
        for _ in range(args.repeat):
            mark = log.mark()
            seconds, out = timed(r2_cmd, r2_env, work)
            r2_requests.append(log.since(mark))
            if f"skipped {count} unchanged" not in out:
                raise SystemExit(f"sync: r2store's re-run changed something:\n{out}")
            r2_runs.append(seconds)
            mark = log.mark()
            seconds, out = timed(aws_cmd, aws_env, work)
            aws_requests.append(log.since(mark))
            if "upload:" in out:
                raise SystemExit(f"sync: aws's re-run uploaded again:\n{out[-500:]}")
            aws_runs.append(seconds)

        # Context, to read the re-run figures by: what neither tool can go below.
        # moto does not check signatures, so a plain GET times its answer alone.
        port = int(endpoint.rsplit(":", 1)[1])
        listing = "/bench-r2store?list-type=2&prefix=media/&max-keys=1000"
        server_runs = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            http_get(port, listing)
            server_runs.append(time.perf_counter() - start)
        # What a no-change re-run needs before its one request: the read transport (the
        # botocore client is made only when something is uploaded).
        floor_cmd = [
            sys.executable,
            "-c",
            "from r2store import R2Store; R2Store.from_env().transport",
        ]
        floor_runs = [timed(floor_cmd, r2_env, work)[0] for _ in range(args.repeat)]

    r2_rerun, aws_rerun = min(r2_runs), min(aws_runs)
    server_listing, startup_floor = min(server_runs), min(floor_runs)
    first_ratio = r2_first / aws_first
    rerun_ratio = r2_rerun / aws_rerun
    expected_requests = math.ceil(count / 1000)
    # The worst re-run counts: every run must stay at one listing per 1,000 keys.
    requests = max(len(lines) for lines in r2_requests)
    listings = min(sum("list-type=2" in line for line in lines) for lines in r2_requests)
    aws_request_count = max(len(lines) for lines in aws_requests)
    first_ok = first_ratio <= FIRST_TARGET
    rerun_ok = rerun_ratio <= RERUN_TARGET
    requests_ok = requests == expected_requests == listings

    runs = ", ".join(f"{r:.2f}" for r in r2_runs)
    aws_list = ", ".join(f"{a:.2f}" for a in aws_runs)
    print(f"sync: {count} files of {FILE_SIZE // 1024} KiB into moto (separate process)")
    print(f"  first sync        r2store {r2_first:6.2f} s   aws {aws_first:6.2f} s")
    print(f"                    r2store/aws {first_ratio:5.2f}x   (target <= {FIRST_TARGET:g}x)")
    print(f"  no-change re-run  r2store {r2_rerun:6.2f} s   aws {aws_rerun:6.2f} s   (best of 3)")
    print(f"                    runs: r2store [{runs}]  aws [{aws_list}]")
    print(f"                    r2store/aws {rerun_ratio:5.2f}x   (target <= {RERUN_TARGET:g}x)")
    print(
        f"  re-run requests   r2store {requests} ({listings} ListObjectsV2)   "
        f"aws {aws_request_count}   (target: {expected_requests})"
    )
    for line in r2_requests[-1]:
        print(f"    {line.strip()}")
    print("  context (best of 3), part of every re-run above:")
    print(f"    moto's answer to the one listing (plain GET)        {server_listing:6.2f} s")
    print(f"    r2store start-up + read client, no request (python -c) {startup_floor:6.2f} s")
    print(f"sync.first: {'PASS' if first_ok else 'FAIL'}")
    print(f"sync.rerun: {'PASS' if rerun_ok else 'FAIL'}")
    print(f"sync.rerun_requests: {'PASS' if requests_ok else 'FAIL'}")
    passed = first_ok and rerun_ok and requests_ok
    print(f"sync: {'PASS' if passed else 'FAIL'}")

    if args.json is not None:
        results = [
            {
                "name": "sync.first",
                "label": f"first sync of {count} x 10 KiB, whole process (python -m r2store)",
                "value": round(r2_first, 3),
                "unit": "s",
                "anchor": round(aws_first, 3),
                "anchor_label": "aws s3 sync",
                "ratio": round(first_ratio, 2),
                "target": f"<= {FIRST_TARGET:g}x aws's time",
                "passed": first_ok,
            },
            {
                "name": "sync.rerun",
                "label": f"no-change re-run of {count} files, whole process, best of {args.repeat}",
                "value": round(r2_rerun, 3),
                "unit": "s",
                "anchor": round(aws_rerun, 3),
                "anchor_label": "aws s3 sync",
                "ratio": round(rerun_ratio, 2),
                "target": f"<= {RERUN_TARGET:g}x aws's time",
                "passed": rerun_ok,
            },
            {
                "name": "sync.rerun_requests",
                "label": "requests r2store's no-change re-run sends (server access log)",
                "value": requests,
                "unit": "requests",
                "anchor": aws_request_count,
                "anchor_label": "aws s3 sync's re-run",
                "ratio": requests,
                "target": f"== {expected_requests} ListObjectsV2 per {count} keys",
                "passed": requests_ok,
            },
            {
                "name": "sync.server_listing",
                "label": "moto's answer to the one ListObjectsV2 of 1,000 keys (both tools wait)",
                "value": round(server_listing, 3),
                "unit": "s",
                "target": None,
                "passed": None,
            },
            {
                "name": "sync.startup_floor",
                "label": "r2store process start-up and read client creation, no request",
                "value": round(startup_floor, 3),
                "unit": "s",
                "target": None,
                "passed": None,
            },
        ]
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
