"""Is ``LocalStore.save`` of 1,000 small files as fast as Django's ``FileSystemStorage.save``?

Data: 1,000 distinct 10 KiB payloads of random bytes under distinct keys
(``uploads/<n>.bin``), made before timing. Each round saves all of them once with
``LocalStore(LocalConfig(root=a)).save(key, data)`` (``overwrite=False``: an atomic create,
with its sidecar) and once with ``FileSystemStorage(location=b).save(key, ContentFile(data))``
(Django's default settings from ``settings.configure()``: it checks the name is free, writes
with ``O_EXCL`` and chmods to ``FILE_UPLOAD_PERMISSIONS``, 0o644), each into a fresh folder.
The two take turns every 100 files, the order of each turn alternating, so that the
machine's load, which drifts from second to second on a shared machine, reaches both alike.
Each is called as an app calls it: the store takes bytes, the Django storage a ``File``.
One warm-up round of 100 files each first (imports, first-use setup).

Target: median over ``--rounds`` of LocalStore's time at most 1.0x FileSystemStorage's
median, in the same run. Both times, per file, are printed.

Run: ``python benchmarks/bench_local_save.py [--json PATH] [--files N] [--rounds N]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Run from a checkout without installing: put the repository root first on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FILE_SIZE = 10 * 1024
TARGET = 1.0  # LocalStore / FileSystemStorage, at most
BLOCK = 100  # files each saver saves before the other takes a turn


def _configure_django() -> None:
    """The least Django needs for FileSystemStorage: default settings, no project."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure()
    django.setup()


def local_saver(folder: Path) -> Callable[[str, bytes], object]:
    from r2store import LocalConfig, LocalStore

    return LocalStore(LocalConfig(root=str(folder))).save


def django_saver(folder: Path) -> Callable[[str, bytes], object]:
    from django.core.files.base import ContentFile
    from django.core.files.storage import FileSystemStorage

    storage = FileSystemStorage(location=str(folder))

    def save(name: str, data: bytes) -> object:
        return storage.save(name, ContentFile(data))

    return save


SAVERS = {"LocalStore.save": local_saver, "FileSystemStorage.save": django_saver}


def timed_round(work: Path, files: list[tuple[str, bytes]], block: int) -> dict[str, float]:
    """Seconds each saver takes to save every file into a fresh folder under *work*.

    The two take turns every *block* files (each turn's order alternating), so a change in
    the machine's load reaches both alike. The folders are checked and removed afterwards,
    untimed.
    """
    folders = {name: work / name.split(".")[0] for name in SAVERS}
    savers = {name: make(folders[name]) for name, make in SAVERS.items()}
    seconds = dict.fromkeys(SAVERS, 0.0)
    for turn, first in enumerate(range(0, len(files), block)):
        order = list(savers.items())
        for name, save in order if turn % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            for key, data in files[first : first + block]:
                save(key, data)
            seconds[name] += time.perf_counter() - start
    for name, folder in folders.items():
        # LocalStore also keeps a sidecar per file (and a lock file): at least one per key.
        saved = sum(len(names) for _, _, names in os.walk(folder))
        shutil.rmtree(folder)
        if saved < len(files):
            raise SystemExit(f"local_save: {name} left {saved} files of {len(files)}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    """Time both, print the table and the verdict; optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--files", type=int, default=1000, help="files per round (default 1000)")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds (default 7)")
    args = parser.parse_args(argv)
    _configure_django()

    files = [(f"uploads/{n:04d}.bin", os.urandom(FILE_SIZE)) for n in range(args.files)]
    times: dict[str, list[float]] = {name: [] for name in SAVERS}
    with tempfile.TemporaryDirectory(prefix="r2store-local-save-") as tmp:
        work = Path(tmp)
        timed_round(work, files[:BLOCK], BLOCK)  # the warm-up
        for _ in range(args.rounds):
            for name, seconds in timed_round(work, files, BLOCK).items():
                times[name].append(seconds)

    ours, anchor = (statistics.median(times[name]) for name in SAVERS)
    ratio = ours / anchor
    passed = ratio <= TARGET
    results: list[dict[str, Any]] = [
        {
            "name": "local_save.time",
            "label": (
                f"LocalStore.save(key, bytes), overwrite=False: {args.files:,} files of "
                f"{FILE_SIZE // 1024} KiB, median of {args.rounds} rounds"
            ),
            "value": round(ours * 1e3, 1),
            "unit": "ms",
            "anchor": round(anchor * 1e3, 1),
            "anchor_label": "Django FileSystemStorage.save(name, ContentFile), same files",
            "ratio": round(ratio, 3),
            "target": f"<= {TARGET:g}x FileSystemStorage",
            "passed": passed,
            "runs_ms": [round(t * 1e3, 1) for t in times["LocalStore.save"]],
            "anchor_runs_ms": [round(t * 1e3, 1) for t in times["FileSystemStorage.save"]],
        }
    ]
    print(
        f"local_save: {args.files:,} files of {FILE_SIZE // 1024} KiB into a fresh folder, "
        f"median of {args.rounds} rounds (taking turns every {BLOCK} files)"
    )
    for name in SAVERS:
        median = statistics.median(times[name])
        each = " ".join(f"{t * 1e3:.0f}" for t in times[name])
        print(
            f"  {name:24} {median * 1e3:8.1f} ms  {median / args.files * 1e6:6.1f} µs a file"
            f"   rounds (ms): {each}"
        )
    print(f"  ratio {ratio:.3f} (target <= {TARGET:g}x)")
    print(f"local_save.time: {'PASS' if passed else 'FAIL'}")
    print(f"local_save: {'PASS' if passed else 'FAIL'}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
