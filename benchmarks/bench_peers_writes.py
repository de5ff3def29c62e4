"""Does r2store write as cheaply as obstore and upload 256 MiB as fast as the faster peer?

Peers, timed in the same run against the same server: obstore (Rust's object_store) and
boto3. Each writes as its users write:

* r2store: ``store.save(key, data, overwrite=True)`` (a plain PutObject, as the peers send;
  the default ``overwrite=False`` adds ``If-None-Match: *``); a 256 MiB ``bytes`` goes up in
  parts of ``multipart_chunksize``, ``max_concurrency`` at a time (defaults 8 MiB x 4);
* boto3: ``put_object(Bucket=, Key=, Body=)``; ``upload_fileobj`` (s3transfer, 8 MiB x 10);
* obstore: ``obstore.put(store, key, data)`` (one PUT up to 5 MiB, then 5 MiB x 12 parts).

Every client signs the payload: a probe (a local HTTP server that records headers) checks
that each sends the body's SHA-256 in ``x-amz-content-sha256``, not ``UNSIGNED-PAYLOAD``, so
the CPU compared includes the same hashing; the script stops if one does not.

Server: SeaweedFS (checks signatures; moto is the bottleneck for writes) in its own process,
so ``time.process_time`` here is the client's CPU alone (all its threads).

Data: 1,000 PUTs of 10 KiB one after another (after 50 warm-up PUTs), and a 256 MiB upload
from memory; ``--rounds`` rounds, the clients taking turns. Figures: the best round for the
small PUTs (CPU and wall), the median round's MB/s for 256 MiB. Then, for context, r2store's
256 MiB upload over a grid of part size (5, 8, 16 MiB) x concurrency (4, 8, 12), best of
``--grid-rounds``.

Targets:

* client CPU per small PUT: at most 1.5x obstore's; wall per small PUT: at most 1.2x;
* 256 MiB upload: at least 1.0x the MB/s of the faster of boto3 and obstore.

Run: ``python benchmarks/bench_peers_writes.py [--json PATH] [--rounds N] [--small N]
[--grid-rounds N] [--no-grid]``
"""

from __future__ import annotations

import argparse
import hashlib
import http.server
import io
import json
import os
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _peers import (
    MiB,
    Timing,
    boto3_client,
    make_bucket,
    median,
    obstore_store,
    r2store_store,
    row,
    seaweedfs,
    timed,
)

BUCKET = "bench"
SMALL_SIZE = 10 * 1024
BIG_SIZE = 256 * MiB
WARM_UP = 50
CPU_TARGET = 1.5  # r2store / obstore CPU per small PUT, at most
WALL_TARGET = 1.2  # r2store / obstore wall per small PUT, at most
MB_S_TARGET = 1.0  # r2store / the faster peer's 256 MiB MB/s, at least
CLIENTS = ("r2store", "boto3", "obstore")
GRID_PARTS = (5, 8, 16)  # MiB
GRID_CONCURRENCY = (4, 8, 12)


def writers(endpoint: str, store: Any) -> dict[str, Callable[[str, bytes], object]]:
    """Per client: write *data* under *key* (small or big: each picks its own way)."""
    import obstore

    client = boto3_client(endpoint)
    ob = obstore_store(endpoint, BUCKET)
    small_limit = SMALL_SIZE * 2

    def r2_write(key: str, data: bytes) -> object:
        return store.save(key, data, overwrite=True)

    def boto3_write(key: str, data: bytes) -> object:
        if len(data) <= small_limit:
            return client.put_object(Bucket=BUCKET, Key=key, Body=data)
        return client.upload_fileobj(io.BytesIO(data), BUCKET, key)

    def obstore_write(key: str, data: bytes) -> object:
        return obstore.put(ob, key, data)

    return {"r2store": r2_write, "boto3": boto3_write, "obstore": obstore_write}


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every PUT 200 (with an ETag) and records its ``x-amz-content-sha256``."""

    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, bytes]] = []  # noqa: RUF012 (one probe at a time)

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        self.seen.append((self.headers.get("x-amz-content-sha256", ""), body))
        self.send_response(200)
        self.send_header("ETag", '"0"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def probe_payload_signing() -> dict[str, str]:
    """What each client sends as ``x-amz-content-sha256`` for a 10 KiB PUT over http."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_port}"
    data = os.urandom(SMALL_SIZE)
    digest = hashlib.sha256(data).hexdigest()
    found: dict[str, str] = {}
    try:
        for name, write in writers(endpoint, r2store_store(endpoint, BUCKET)).items():
            _Recorder.seen.clear()
            write("probe", data)
            sent = [value for value, body in _Recorder.seen if body == data]
            found[name] = (
                "SHA-256 of the body"
                if sent == [digest]
                else (sent[0] if sent else "no PUT of the body")
            )
    finally:
        server.shutdown()
        server.server_close()
    return found


def main(argv: list[str] | None = None) -> int:
    """Time the three clients' small PUTs and 256 MiB uploads, then r2store's grid."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every client")
    parser.add_argument("--small", type=int, default=1000, help="small PUTs per round")
    parser.add_argument("--grid-rounds", type=int, default=2, help="uploads per grid cell")
    parser.add_argument("--no-grid", action="store_true", help="skip the part-size grid")
    args = parser.parse_args(argv)
    small: int = args.small

    signing = probe_payload_signing()
    for name, what in signing.items():
        print(f"  {name:8} x-amz-content-sha256 of a PUT over http: {what}")
    if any(what != "SHA-256 of the body" for what in signing.values()):
        raise SystemExit("peers_writes: the clients do not all sign the payload; not comparable")

    body = os.urandom(SMALL_SIZE)
    big = os.urandom(BIG_SIZE)
    small_runs: dict[str, list[Timing]] = {name: [] for name in CLIENTS}
    big_runs: dict[str, list[Timing]] = {name: [] for name in CLIENTS}
    grid: dict[tuple[int, int], float] = {}
    with (
        tempfile.TemporaryDirectory(prefix="r2store-bench-peers-writes-") as tmp,
        seaweedfs(Path(tmp) / "seaweedfs") as endpoint,
    ):
        make_bucket(endpoint, BUCKET)
        admin = boto3_client(endpoint)
        clients = writers(endpoint, r2store_store(endpoint, BUCKET))

        def check(key: str, size: int) -> None:
            stored = admin.head_object(Bucket=BUCKET, Key=key)["ContentLength"]
            if stored != size:
                raise SystemExit(f"peers_writes: {key} holds {stored} bytes, not {size}")

        for name, write in clients.items():
            for number in range(WARM_UP):
                write(f"warm/{name}/{number}", body)
            check(f"warm/{name}/0", SMALL_SIZE)

        for round_number in range(args.rounds):
            for name, write in clients.items():
                keys = [f"small/{name}/{round_number}/{n:05d}" for n in range(small)]

                def all_small(
                    write: Callable[[str, bytes], object] = write, keys: list[str] = keys
                ) -> None:
                    for key in keys:
                        write(key, body)

                small_runs[name].append(timed(all_small))
                check(keys[-1], SMALL_SIZE)
                key = f"big/{name}/{round_number}"
                big_runs[name].append(timed(lambda write=write, key=key: write(key, big)))  # type: ignore[misc]
                check(key, BIG_SIZE)
                admin.delete_object(Bucket=BUCKET, Key=key)

        if not args.no_grid:
            for part in GRID_PARTS:
                for concurrency in GRID_CONCURRENCY:
                    store = r2store_store(
                        endpoint,
                        BUCKET,
                        multipart_chunksize=part * MiB,
                        max_concurrency=concurrency,
                    )
                    walls = []
                    for n in range(args.grid_rounds):
                        key = f"grid/{part}x{concurrency}/{n}"
                        walls.append(
                            timed(lambda s=store, k=key: s.save(k, big, overwrite=True)).wall  # type: ignore[misc]
                        )
                        check(key, BIG_SIZE)
                        admin.delete_object(Bucket=BUCKET, Key=key)
                    store.close()
                    grid[part, concurrency] = BIG_SIZE / min(walls) / 1e6
        admin.close()

    cpu_us = {name: min(t.cpu for t in runs) / small * 1e6 for name, runs in small_runs.items()}
    wall_us = {name: min(t.wall for t in runs) / small * 1e6 for name, runs in small_runs.items()}
    mb_s = {
        name: median([BIG_SIZE / t.wall / 1e6 for t in runs]) for name, runs in big_runs.items()
    }
    cpu_gb = {
        name: median([t.cpu / (BIG_SIZE / 1e9) for t in runs]) for name, runs in big_runs.items()
    }
    peer = max(("boto3", "obstore"), key=mb_s.__getitem__)
    cpu_ratio = cpu_us["r2store"] / cpu_us["obstore"]
    wall_ratio = wall_us["r2store"] / wall_us["obstore"]
    mb_ratio = mb_s["r2store"] / mb_s[peer]
    cpu_ok = cpu_ratio <= CPU_TARGET
    wall_ok = wall_ratio <= WALL_TARGET
    mb_ok = mb_ratio >= MB_S_TARGET

    print(f"peers_writes: SeaweedFS; {small} x 10 KiB and 1 x 256 MiB, {args.rounds} rounds")
    print("  client     CPU/small PUT   wall/small PUT   256 MiB MB/s   CPU s per GB (256 MiB)")
    for name in CLIENTS:
        print(
            f"  {name:9} {cpu_us[name]:10.0f} µs {wall_us[name]:12.0f} µs"
            f" {mb_s[name]:12.0f} {cpu_gb[name]:14.2f}"
        )
    for text, ratio, target, ok in (
        ("r2store/obstore CPU per small PUT ", cpu_ratio, f"<= {CPU_TARGET:g}x", cpu_ok),
        ("r2store/obstore wall per small PUT", wall_ratio, f"<= {WALL_TARGET:g}x", wall_ok),
        (f"r2store/{peer} 256 MiB MB/s      ", mb_ratio, f">= {MB_S_TARGET:g}x", mb_ok),
    ):
        print(f"  {text} {ratio:5.2f}x (target {target})  {'PASS' if ok else 'FAIL'}")
    if grid:
        print(f"  r2store 256 MiB MB/s by part size x concurrency (best of {args.grid_rounds}):")
        print("    part    " + "".join(f"{c:>8}" for c in GRID_CONCURRENCY))
        for part in GRID_PARTS:
            cells = "".join(f"{grid[part, c]:8.0f}" for c in GRID_CONCURRENCY)
            print(f"    {part:2d} MiB  {cells}")
    passed = cpu_ok and wall_ok and mb_ok
    print(f"peers_writes: {'PASS' if passed else 'FAIL'}")

    results: list[dict[str, Any]] = [
        row(
            "peers_writes.small_cpu",
            f"client CPU per 10 KiB PUT, save(overwrite=True), best of {args.rounds} x {small}",
            cpu_us["r2store"],
            "µs",
            anchor=cpu_us["obstore"],
            anchor_label="obstore.put (payload signed, as r2store's)",
            ratio=cpu_ratio,
            target=f"<= {CPU_TARGET:g}x obstore's CPU",
            passed=cpu_ok,
        ),
        row(
            "peers_writes.small_wall",
            f"wall per 10 KiB PUT, one after another, best of {args.rounds} x {small}",
            wall_us["r2store"],
            "µs",
            anchor=wall_us["obstore"],
            anchor_label="obstore.put",
            ratio=wall_ratio,
            target=f"<= {WALL_TARGET:g}x obstore's wall",
            passed=wall_ok,
        ),
        row(
            "peers_writes.big_mb_s",
            f"256 MiB upload from memory (defaults), median of {args.rounds}",
            mb_s["r2store"],
            "MB/s",
            anchor=mb_s[peer],
            anchor_label=f"{peer}, the faster peer",
            ratio=mb_ratio,
            target=f">= {MB_S_TARGET:g}x the faster peer's MB/s",
            passed=mb_ok,
        ),
    ]
    for name in ("boto3", "obstore"):
        results += [
            row(
                f"peers_writes.small_cpu[{name}]", f"{name}: CPU per 10 KiB PUT", cpu_us[name], "µs"
            ),
            row(
                f"peers_writes.small_wall[{name}]",
                f"{name}: wall per 10 KiB PUT",
                wall_us[name],
                "µs",
            ),
            row(f"peers_writes.big_mb_s[{name}]", f"{name}: 256 MiB upload", mb_s[name], "MB/s"),
        ]
    for name in CLIENTS:
        results.append(
            row(
                f"peers_writes.big_cpu[{name}]",
                f"{name}: client CPU per GB uploaded",
                cpu_gb[name],
                "s",
            )
        )
    for (part, concurrency), value in grid.items():
        results.append(
            row(
                f"peers_writes.grid[{part}MiBx{concurrency}]",
                f"r2store: 256 MiB upload, {part} MiB parts x {concurrency} at once",
                value,
                "MB/s",
            )
        )
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
