"""How many writes does a Django storage lose when 32 threads save one name at once?

32 warm threads (each has made its connection, then all wait on a barrier) call
``storage.save(name, ContentFile(own_bytes))`` with the same name, five times. A write is
*lost* when ``save()`` returned a name that does not hold the bytes that thread saved: another
writer replaced them, and nobody was told. Both storages run with overwriting off:

* r2store's ``R2Storage`` (an atomic create, ``If-None-Match: *``, then another name).
  Target: 0 writes lost in every run, and 32 distinct names.
* django-storages' ``S3Storage(file_overwrite=False)`` (``exists()``, then an unconditional
  PUT) is measured for context, when installed: no target.

The S3 server is moto's, **in this process** (``ThreadedMotoServer`` on loopback). moto
checks ``If-None-Match: *`` and then writes, in two steps, so under many writers two creates
can both pass; real R2 and S3 make the conditional write atomic. This script emulates that by
serialising moto's write handlers (``S3Response.put_object`` and ``_key_response_post``) with
a lock. That does not help django-storages: its check is a separate HEAD request, so the
window it loses writes in lies between two requests, not inside moto.

Run: ``python benchmarks/bench_races.py [--json PATH] [--runs N] [--threads N]``
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import logging
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Run from a checkout without installing: put the repository root first on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
ACCESS_KEY_ID = "bench-access-key-id"
SECRET_ACCESS_KEY = "bench-secret-0123456789abcdef0123456789abcdef"
NAME = "profile_images/avatar.jpg"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serialise_moto_writes() -> Callable[[], int]:
    """Make moto's conditional writes atomic, as R2's are; returns a counter of writes."""
    from moto.s3.responses import S3Response

    lock = threading.Lock()
    calls = [0]

    def serialised(original: Callable[..., Any]) -> Callable[..., Any]:
        def handler(self: Any, *args: Any, **kwargs: Any) -> Any:
            with lock:
                calls[0] += 1
                return original(self, *args, **kwargs)

        return handler

    S3Response.put_object = serialised(S3Response.put_object)  # type: ignore[method-assign]
    S3Response._key_response_post = serialised(S3Response._key_response_post)  # type: ignore[method-assign]
    return lambda: calls[0]


def content(run: int, writer: int) -> bytes:
    """What *writer* saves in *run*: different for every writer."""
    return f"run {run} writer {writer:02d}\n".encode() * 64


def race(storage: Any, runs: int, threads: int, prefix: str) -> list[dict[str, Any]]:
    """*threads* warm threads save one name at once, *runs* times; what each run lost."""
    from django.core.files.base import ContentFile

    barrier = threading.Barrier(threads)
    results: list[list[str | BaseException]] = [
        [RuntimeError("did not run")] * threads for _ in range(runs)
    ]

    def writer(index: int) -> None:
        # Warm: this thread's connection (django-storages keeps one per thread) exists.
        storage.exists(f"{prefix}/warm-up/{index}")
        for run in range(runs):
            barrier.wait(timeout=120)
            try:
                outcome: str | BaseException = storage.save(
                    f"{prefix}/run-{run}/{NAME}", ContentFile(content(run, index))
                )
            except Exception as exc:
                outcome = exc
            results[run][index] = outcome

    workers = [threading.Thread(target=writer, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=600)
    if any(worker.is_alive() for worker in workers):
        raise SystemExit("races: a writer thread hung")

    report = []
    for run in range(runs):
        names = results[run]
        errors = [r for r in names if isinstance(r, BaseException)]
        lost = 0
        for index, name in enumerate(names):
            if isinstance(name, BaseException):
                continue
            with storage.open(name, "rb") as file:
                if file.read() != content(run, index):
                    lost += 1
        returned = [n for n in names if isinstance(n, str)]
        report.append(
            {
                "lost": lost,
                "distinct_names": len(set(returned)),
                "errors": [f"{type(e).__name__}: {e}" for e in errors],
            }
        )
    return report


def _configure_django() -> None:
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(USE_TZ=True, INSTALLED_APPS=[])
    django.setup()


def main(argv: list[str] | None = None) -> int:
    """Race both storages, print the table and the verdict; optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--runs", type=int, default=5, help="runs per storage (default 5)")
    parser.add_argument("--threads", type=int, default=32, help="writers (default 32)")
    args = parser.parse_args(argv)

    # The machine's AWS settings must not reach the clients; set before any client exists.
    os.environ["AWS_CONFIG_FILE"] = str(ROOT / "benchmarks" / "no-such-aws-config")
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(ROOT / "benchmarks" / "no-such-aws-credentials")
    for name in [n for n in os.environ if n.startswith(("R2_", "USE_R2"))]:
        del os.environ[name]
    from moto.server import ThreadedMotoServer

    # The server's access log would bury the table; django-storages' pool warnings too.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    writes = serialise_moto_writes()
    _configure_django()
    from r2store.django import R2Storage

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    started = time.monotonic()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        bucket = f"bench-races-{uuid.uuid4().hex[:8]}"
        ours = R2Storage(
            endpoint_url=endpoint,
            bucket=bucket,
            access_key_id=ACCESS_KEY_ID,
            secret_access_key=SECRET_ACCESS_KEY,
            # One connection per writer, so the pool is not what serialises them.
            max_pool_connections=max(args.threads, 10),
        )
        ours.store.client.create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "auto"}
        )
        r2store_runs = race(ours, args.runs, args.threads, "r2store")
        writes_ours = writes()
        ours.store.close()
        theirs = None
        if importlib.util.find_spec("storages") is not None:
            # By name: django-storages ships no type information.
            s3 = importlib.import_module("storages.backends.s3")
            peer = s3.S3Storage(
                bucket_name=bucket,
                access_key=ACCESS_KEY_ID,
                secret_key=SECRET_ACCESS_KEY,
                endpoint_url=endpoint,
                region_name="auto",
                signature_version="s3v4",
                addressing_style="path",
                file_overwrite=False,
            )
            theirs = race(peer, args.runs, args.threads, "django-storages")
    finally:
        server.stop()
    elapsed = time.monotonic() - started

    lost_ours = [run["lost"] for run in r2store_runs]
    all_distinct = all(run["distinct_names"] == args.threads for run in r2store_runs)
    no_errors = not any(run["errors"] for run in r2store_runs)
    passed = all(n == 0 for n in lost_ours) and all_distinct and no_errors
    results: list[dict[str, Any]] = [
        {
            "name": "races.r2store",
            "label": (
                f"R2Storage.save(), {args.threads} warm threads, one name: "
                f"writes lost over {args.runs} runs"
            ),
            "value": sum(lost_ours),
            "unit": "writes",
            "anchor": 0,
            "anchor_label": "expected",
            "ratio": sum(lost_ours),
            "target": f"== 0 lost in every run, {args.threads} distinct names",
            "passed": passed,
            "per_run": lost_ours,
            "distinct_names": [run["distinct_names"] for run in r2store_runs],
            "errors": [e for run in r2store_runs for e in run["errors"]],
            "moto": "in-process, conditional writes serialised (see the docstring)",
            "serialised_writes": writes_ours,
        }
    ]
    if theirs is not None:
        lost_theirs = [run["lost"] for run in theirs]
        results.append(
            {
                "name": "races.django-storages",
                "label": (
                    f"django-storages S3Storage(file_overwrite=False).save(), {args.threads} "
                    f"warm threads, one name: writes lost over {args.runs} runs"
                ),
                "value": sum(lost_theirs),
                "unit": "writes",
                "anchor": sum(lost_ours),
                "anchor_label": "r2store R2Storage, same runs",
                "ratio": sum(lost_theirs),
                "target": None,
                "passed": None,
                "per_run": lost_theirs,
                "distinct_names": [run["distinct_names"] for run in theirs],
                "errors": [e for run in theirs for e in run["errors"]],
            }
        )

    print(
        f"races: {args.threads} warm threads save one name, {args.runs} runs "
        f"(moto in-process, conditional writes serialised; {elapsed:.1f} s)"
    )
    print(f"  {'storage':18} {'lost per run':24} {'total':>5}  {'distinct names per run'}")
    for r in results:
        per_run = ", ".join(map(str, r["per_run"]))
        names = ", ".join(map(str, r["distinct_names"]))
        status = "" if r["passed"] is None else ("ok" if r["passed"] else "MISSED")
        row = r["name"].removeprefix("races.")
        print(f"  {row:18} {per_run:24} {r['value']:5d}  {names}  {status}")
        for error in r["errors"][:3]:
            print(f"    error: {error}")
    print(f"races: {'PASS' if passed else 'FAIL'}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
