"""Does r2store read as cheaply as obstore: client CPU per small GET, MB/s for a big one?

Peers, timed in the same run against the same server: obstore (Rust's object_store, the
fastest Python S3 client there is) and boto3. Each reads as its users read:

* r2store: ``store.read(key)`` for a small object; ``store.open(key)`` and ``read(1 MiB)``
  to the end for the big one;
* boto3: ``get_object(...)["Body"].read()``; ``iter_chunks(1 MiB)`` for the big one;
* obstore: ``obstore.get(store, key).bytes()``; iterating the result (its default stream,
  10 MiB chunks) for the big one.

Server: nginx serving ``<root>/<bucket>/<key>`` (benchmarks/_upstream.py), which answers a
path-style GetObject from all three (it checks no signature) and never is the bottleneck; it
runs in its own processes, so ``time.process_time`` here is the client's CPU alone (all its
threads: obstore's Rust runtime too).

Data: 1,000 objects of 10 KiB read one after another (after a warm-up of 100 GETs that
opens the connections), and one object of 256 MiB; ``--rounds`` rounds, the clients
taking turns within each round. Figures: the best round's CPU per small GET (the least
disturbed by the shared machine), the median round's MB/s for the big one.

Targets:

* client CPU per small GET: at most 1.0x obstore's;
* 256 MiB GET: at least 0.9x obstore's MB/s.

Run: ``python benchmarks/bench_peers_reads.py [--json PATH] [--rounds N] [--small N]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _peers import MiB, Timing, boto3_client, median, obstore_store, r2store_store, row, timed
from _upstream import nginx_upstream

BUCKET = "bench"
SMALL_SIZE = 10 * 1024
BIG_SIZE = 256 * MiB
CHUNK = MiB
WARM_UP = 100
CPU_TARGET = 1.0  # r2store / obstore CPU per small GET, at most
MB_S_TARGET = 0.9  # r2store / obstore MB/s of the big GET, at least
CLIENTS = ("r2store", "boto3", "obstore")


def make_objects(root: Path, small: int) -> bytes:
    """Write the small objects and the big one under ``root/BUCKET``; return a small one's bytes.

    Everything world-readable: nginx's workers run unprivileged.
    """
    bucket = root / BUCKET
    (bucket / "small").mkdir(parents=True)
    body = os.urandom(SMALL_SIZE)
    for number in range(small):
        (bucket / "small" / f"{number:05d}.bin").write_bytes(body)
    with (bucket / "big.bin").open("wb") as big:
        for _ in range(BIG_SIZE // MiB):
            big.write(os.urandom(MiB))
    for directory in (root, bucket, bucket / "small"):
        directory.chmod(0o755)
    return body


def readers(endpoint: str) -> dict[str, tuple[Callable[[str], Any], Callable[[str], int]]]:
    """Per client: (read a small object whole, stream the big one and count its bytes)."""
    import obstore

    store = r2store_store(endpoint, BUCKET)
    client = boto3_client(endpoint)
    ob = obstore_store(endpoint, BUCKET)

    def r2_small(key: str) -> bytes:
        return store.read(key)  # type: ignore[no-any-return]

    def r2_big(key: str) -> int:
        size = 0
        with store.open(key) as reader:
            while chunk := reader.read(CHUNK):
                size += len(chunk)
        return size

    def boto3_small(key: str) -> bytes:
        return client.get_object(Bucket=BUCKET, Key=key)["Body"].read()  # type: ignore[no-any-return]

    def boto3_big(key: str) -> int:
        body = client.get_object(Bucket=BUCKET, Key=key)["Body"]
        size = sum(len(chunk) for chunk in body.iter_chunks(CHUNK))
        body.close()
        return size

    def obstore_small(key: str) -> Any:
        # obstore's Bytes, as its users get it (no copy into bytes in the timed loop).
        return obstore.get(ob, key).bytes()

    def obstore_big(key: str) -> int:
        return sum(len(chunk) for chunk in obstore.get(ob, key))

    return {
        "r2store": (r2_small, r2_big),
        "boto3": (boto3_small, boto3_big),
        "obstore": (obstore_small, obstore_big),
    }


def main(argv: list[str] | None = None) -> int:
    """Time the three clients' small and big GETs; print the table and verdicts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every client")
    parser.add_argument("--small", type=int, default=1000, help="small GETs per round")
    args = parser.parse_args(argv)
    small: int = args.small
    keys = [f"small/{number:05d}.bin" for number in range(small)]

    small_runs: dict[str, list[Timing]] = {name: [] for name in CLIENTS}
    big_runs: dict[str, list[Timing]] = {name: [] for name in CLIENTS}
    with tempfile.TemporaryDirectory(prefix="r2store-bench-peers-reads-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # TemporaryDirectory makes it 0700; nginx's workers must pass
        root = work / "root"
        root.mkdir()
        expected = make_objects(root, small)
        with nginx_upstream(root, work) as upstream:
            clients = readers(upstream.url)
            for name, (read_small, read_big) in clients.items():
                # Warm-up: connections, clients and code paths; also checks the answers.
                for key in keys[:WARM_UP]:
                    if bytes(read_small(key)) != expected:
                        raise SystemExit(f"peers_reads: {name} read wrong bytes for {key}")
                if read_big("big.bin") != BIG_SIZE:
                    raise SystemExit(f"peers_reads: {name} read a short big object")

            for _ in range(args.rounds):
                for name, (read_small, read_big) in clients.items():

                    def all_small(read: Callable[[str], Any] = read_small) -> None:
                        for key in keys:
                            read(key)

                    small_runs[name].append(timed(all_small))
                    big_runs[name].append(timed(lambda read=read_big: read("big.bin")))  # type: ignore[misc]

    cpu_us = {name: min(t.cpu for t in runs) / small * 1e6 for name, runs in small_runs.items()}
    wall_us = {name: min(t.wall for t in runs) / small * 1e6 for name, runs in small_runs.items()}
    mb_s = {
        name: median([BIG_SIZE / t.wall / 1e6 for t in runs]) for name, runs in big_runs.items()
    }
    cpu_gb = {
        name: median([t.cpu / (BIG_SIZE / 1e9) for t in runs]) for name, runs in big_runs.items()
    }

    cpu_ratio = cpu_us["r2store"] / cpu_us["obstore"]
    mb_ratio = mb_s["r2store"] / mb_s["obstore"]
    cpu_ok = cpu_ratio <= CPU_TARGET
    mb_ok = mb_ratio >= MB_S_TARGET
    print(f"peers_reads: nginx upstream; {small} x 10 KiB and 1 x 256 MiB, {args.rounds} rounds")
    print("  client     CPU/small GET   wall/small GET   256 MiB MB/s   CPU s per GB (256 MiB)")
    for name in CLIENTS:
        print(
            f"  {name:9} {cpu_us[name]:10.0f} µs {wall_us[name]:12.0f} µs"
            f" {mb_s[name]:12.0f} {cpu_gb[name]:14.2f}"
        )
    print(
        f"  r2store/obstore CPU per small GET {cpu_ratio:5.2f}x (target <= {CPU_TARGET:g}x)"
        f"  {'PASS' if cpu_ok else 'FAIL'}"
    )
    print(
        f"  r2store/obstore 256 MiB MB/s      {mb_ratio:5.2f}x (target >= {MB_S_TARGET:g}x)"
        f"  {'PASS' if mb_ok else 'FAIL'}"
    )
    passed = cpu_ok and mb_ok
    print(f"peers_reads: {'PASS' if passed else 'FAIL'}")

    results: list[dict[str, Any]] = [
        row(
            "peers_reads.small_cpu",
            f"client CPU per 10 KiB GET, store.read(key), best of {args.rounds} x {small}",
            cpu_us["r2store"],
            "µs",
            anchor=cpu_us["obstore"],
            anchor_label="obstore.get(store, key).bytes()",
            ratio=cpu_ratio,
            target=f"<= {CPU_TARGET:g}x obstore's CPU",
            passed=cpu_ok,
        ),
        row(
            "peers_reads.big_mb_s",
            f"256 MiB GET streamed (open + read(1 MiB)), median of {args.rounds}",
            mb_s["r2store"],
            "MB/s",
            anchor=mb_s["obstore"],
            anchor_label="obstore.get(store, key), iterated",
            ratio=mb_ratio,
            target=f">= {MB_S_TARGET:g}x obstore's MB/s",
            passed=mb_ok,
        ),
    ]
    for name in CLIENTS:
        results += [
            row(
                f"peers_reads.small_wall[{name}]",
                f"{name}: wall per 10 KiB GET",
                wall_us[name],
                "µs",
            ),
            row(
                f"peers_reads.big_cpu[{name}]",
                f"{name}: client CPU per GB, 256 MiB GET",
                cpu_gb[name],
                "s",
            ),
        ]
    results += [
        row(
            "peers_reads.small_cpu[boto3]",
            "boto3: client CPU per 10 KiB GET",
            cpu_us["boto3"],
            "µs",
        ),
        row(
            "peers_reads.big_mb_s[boto3]",
            "boto3: 256 MiB GET, iter_chunks(1 MiB)",
            mb_s["boto3"],
            "MB/s",
        ),
    ]
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
