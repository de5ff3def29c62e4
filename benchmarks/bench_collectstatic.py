"""Is ``collectstatic`` into R2ManifestStaticStorage faster than into django-storages'
S3ManifestStaticStorage, first run and no-change re-run?

Anchor: django-storages' ``S3ManifestStaticStorage`` in the same run, against the same S3
server (moto's, in its own process on loopback), each into a fresh bucket.

Data: the Django admin's static files (about 100) plus 1,000 small files (1 KiB of text
each, half ``.css``, so post-processing has work) in a STATICFILES_DIRS folder.

Each run is Django's real ``collectstatic`` (``call_command``) with a storage made afresh,
as a new deploy process would make it. Targets:

* first run (everything uploaded): r2store at most 0.5x django-storages' time;
* no-change re-run, best of 3: r2store at most 0.2x django-storages' time.

For context, r2store again with ``compress=True`` (text stored gzip-compressed).

Needs ``django`` and ``django-storages[s3]`` (the bench dependency group).

Run: ``python benchmarks/bench_collectstatic.py [--json PATH] [--files N] [--repeat N]``
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sync import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, make_bucket, moto_server  # noqa: E402

FIRST_TARGET = 0.5
RERUN_TARGET = 0.2


def configure(assets: Path) -> None:
    """Django settings: the admin's static files and *assets*."""
    import django
    from django.conf import settings

    # The admin's files by folder, with the prefix its app finder gives them: installing
    # the admin app would need its models' dependencies, which collectstatic does not use.
    admin = Path(django.__file__).parent / "contrib" / "admin" / "static" / "admin"
    settings.configure(
        USE_TZ=True,
        INSTALLED_APPS=["django.contrib.staticfiles"],
        STATIC_URL="/static/",
        STATICFILES_DIRS=[("admin", str(admin)), str(assets)],
    )
    django.setup()


def make_assets(root: Path, count: int) -> None:
    """*count* small files, half stylesheets, in ten folders."""
    for number in range(count):
        folder = root / f"folder-{number % 10:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        ext = "css" if number % 2 else "txt"
        (folder / f"file-{number:05d}.{ext}").write_text(f"/* {number} */\n" + "x" * 1000)


def ours(endpoint: str, bucket: str) -> Any:
    from r2store.django import R2ManifestStaticStorage

    return R2ManifestStaticStorage(
        endpoint_url=endpoint,
        bucket=bucket,
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
        public_url="https://static.example.com",
    )


def theirs(endpoint: str, bucket: str) -> Any:
    # By name: django-storages ships no type information.
    s3 = importlib.import_module("storages.backends.s3")
    return s3.S3ManifestStaticStorage(
        bucket_name=bucket,
        access_key=ACCESS_KEY_ID,
        secret_key=SECRET_ACCESS_KEY,
        endpoint_url=endpoint,
        region_name=REGION,
        signature_version="s3v4",
        addressing_style="path",
        location="static",
        querystring_auth=False,
    )


def compressed(endpoint: str, bucket: str) -> Any:
    from r2store.django import R2ManifestStaticStorage

    return R2ManifestStaticStorage(
        endpoint_url=endpoint,
        bucket=bucket,
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
        public_url="https://static.example.com",
        compress=True,
    )


def collect(make: Any, endpoint: str, bucket: str) -> tuple[float, int]:
    """Seconds for one collectstatic with a fresh storage, and the files it reported.

    Each storage gets the command its users run: Django's for django-storages,
    r2store's own (``r2store.django`` listed before staticfiles) for r2store.
    """
    from django.core.management import call_command

    if make is theirs:
        from django.contrib.staticfiles.management.commands import collectstatic
    else:
        from r2store.django.management.commands import collectstatic

    started = time.perf_counter()
    command = collectstatic.Command()
    command.storage = make(endpoint, bucket)
    call_command(command, interactive=False, verbosity=0)
    elapsed = time.perf_counter() - started
    return elapsed, len(command.copied_files) + len(command.unmodified_files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if importlib.util.find_spec("storages") is None:
        raise SystemExit("collectstatic: needs django-storages[s3] (the bench group)")
    with tempfile.TemporaryDirectory() as tmp:
        assets = Path(tmp) / "assets"
        make_assets(assets, args.files)
        configure(assets)
        timings: dict[str, dict[str, float]] = {}
        with moto_server() as (endpoint, _log):
            storages = (
                ("django-storages", theirs),
                ("r2store", ours),
                ("r2store, compress on", compressed),
            )
            for name, make in storages:
                bucket = f"static-{uuid.uuid4().hex[:12]}"
                make_bucket(endpoint, bucket)
                first, files = collect(make, endpoint, bucket)
                reruns = [collect(make, endpoint, bucket)[0] for _ in range(args.repeat)]
                timings[name] = {"first": first, "rerun": min(reruns), "files": files}
    anchor, value = timings["django-storages"], timings["r2store"]
    first_ratio = value["first"] / anchor["first"]
    rerun_ratio = value["rerun"] / anchor["rerun"]
    results = [
        {
            "name": f"collectstatic.{row}",
            "label": f"collectstatic, {label}, {int(value['files'])} files",
            "value": round(value[row] * 1000, 1),
            "unit": "ms",
            "anchor": round(anchor[row] * 1000, 1),
            "anchor_label": "django-storages S3ManifestStaticStorage, same run",
            "ratio": round(ratio, 3),
            "target": f"<= {target}x",
            "passed": ratio <= target,
        }
        for row, label, ratio, target in (
            ("first", "first run", first_ratio, FIRST_TARGET),
            ("rerun", f"no-change re-run, best of {args.repeat}", rerun_ratio, RERUN_TARGET),
        )
    ]
    packed = timings["r2store, compress on"]
    results += [
        {
            "name": f"collectstatic.compressed_{row}",
            "label": f"collectstatic with compress on, {label} (context)",
            "value": round(packed[row] * 1000, 1),
            "unit": "ms",
            "anchor": round(anchor[row] * 1000, 1),
            "anchor_label": "django-storages S3ManifestStaticStorage, same run",
            "ratio": round(packed[row] / anchor[row], 3),
            "target": "context",
            "passed": True,
        }
        for row, label in (("first", "first run"), ("rerun", f"re-run, best of {args.repeat}"))
    ]
    passed = all(r["passed"] for r in results)
    print(f"collectstatic: {int(value['files'])} files into moto (own process)")
    print(f"  {'run':10} {'r2store':>10} {'django-storages':>16} {'ratio':>7}  target")
    for r in results:
        status = "ok" if r["passed"] else "MISSED"
        row = r["name"].removeprefix("collectstatic.")
        print(
            f"  {row:10} {r['value']:>8} ms {r['anchor']:>13} ms {r['ratio']:>7}  "
            f"{r['target']} {status}"
        )
    print(f"collectstatic: {'PASS' if passed else 'FAIL'}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
