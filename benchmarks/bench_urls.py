"""How close to plain string formatting are r2store's URL builders, and how much faster
than botocore are its presigned URLs?

Anchors, timed in the same run for the same keys:

* ``R2Store.public_url`` and ``R2Store.proxy_url`` against the floor, a one-line function
  returning ``f"{base}/{urllib.parse.quote(key)}"`` (what a hand-written helper does, without
  r2store's key checks). Target: at most 1.3x the floor's per-call time.
* ``R2Store.presigned_url`` against ``client.generate_presigned_url("get_object", ...)`` on
  the store's own botocore client. Target: at least 10x faster. Both must give the same URL
  for a frozen clock, else the script stops: a faster URL that differs is a broken one.

Two keys: a typical one (``profile_images/abc123.jpg``, nothing to quote) and one that needs
quoting (``profile images/ü 1.jpg``). When django-storages and Django are installed, its
``S3Storage.url()`` with and without a custom domain is timed for context (no target).

Every timer runs once per round, rounds interleaved; the best round counts (least disturbed).

Run: ``python benchmarks/bench_urls.py [--json PATH] [--repeat N]``
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import importlib.util
import json
import os
import sys
import timeit
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import quote

# Run from a checkout without installing: put the repository root first on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from r2store import R2Config, R2Store

ROOT = Path(__file__).resolve().parents[1]
ACCESS_KEY_ID = "0123456789abcdef0123456789abcdef"
SECRET_ACCESS_KEY = "bench-secret-0123456789abcdef0123456789abcdef0123456789abcdef"
BUCKET = "media"
PUBLIC_URL = "https://media.example.com"
PROXY_BASE = "/media-proxy"
KEYS = {"typical": "profile_images/abc123.jpg", "quoted": "profile images/ü 1.jpg"}
EXPIRES_IN = 3600
URL_TARGET = 1.3
PRESIGN_TARGET = 10.0


def floor(base: str, key: str) -> str:
    """The least a URL builder can do: join and quote, no checks."""
    return f"{base}/{quote(key)}"


def _config(**overrides: Any) -> R2Config:
    return R2Config(
        account_id="0" * 32,
        bucket=BUCKET,
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
        public_url=PUBLIC_URL,
        **overrides,
    )


def _check_same_presigned_url(store: R2Store, key: str) -> None:
    """Stop unless r2store and botocore presign *key* identically for a frozen clock."""
    moment = datetime.datetime(2026, 11, 25, 12, 34, 56)
    epoch = moment.replace(tzinfo=datetime.timezone.utc).timestamp()
    with (
        mock.patch("botocore.auth.get_current_datetime", return_value=moment),
        mock.patch("time.time", return_value=epoch),
    ):
        ours = store.presigned_url(key, expires_in=EXPIRES_IN)
        theirs = store.client.generate_presigned_url(
            "get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=EXPIRES_IN
        )
    if ours != theirs:
        raise SystemExit(f"urls: presigned URLs differ\n  botocore: {theirs}\n  r2store:  {ours}")


def _django_storages() -> tuple[Any, Any] | None:
    """Two django-storages S3Storage instances (custom domain, presigned), or None."""
    if not all(importlib.util.find_spec(name) for name in ("storages", "django")):
        return None
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)
    settings = importlib.import_module("django.conf").settings
    if not settings.configured:
        settings.configure(USE_TZ=True)
    s3 = importlib.import_module("storages.backends.s3")
    common = {
        "bucket_name": BUCKET,
        "access_key": ACCESS_KEY_ID,
        "secret_key": SECRET_ACCESS_KEY,
        "endpoint_url": f"https://{'0' * 32}.r2.cloudflarestorage.com",
        "region_name": "auto",
        "signature_version": "s3v4",
        "addressing_style": "path",
    }
    return (
        s3.S3Storage(custom_domain=PUBLIC_URL.removeprefix("https://"), **common),
        s3.S3Storage(**common),
    )


def main(argv: list[str] | None = None) -> int:
    """Time the URL builders, print the table and the verdict; optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--repeat", type=int, default=7, help="timing rounds; the best counts")
    args = parser.parse_args(argv)

    # The machine's AWS settings (a profile's s3 options, say) must not reach the clients.
    os.environ["AWS_CONFIG_FILE"] = str(ROOT / "benchmarks" / "no-such-aws-config")
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(ROOT / "benchmarks" / "no-such-aws-credentials")
    public = R2Store(_config(media_proxy=False))
    proxy = R2Store(_config(media_proxy=True))
    client = public.client
    for key in KEYS.values():
        _check_same_presigned_url(public, key)
        # The floor must build the very same URLs, or the comparison is unfair.
        if public.public_url(key) != floor(PUBLIC_URL, key):
            raise SystemExit(f"urls: public_url({key!r}) differs from the floor")
        if proxy.proxy_url(key) != floor(PROXY_BASE, key):
            raise SystemExit(f"urls: proxy_url({key!r}) differs from the floor")

    # (row name, statement, calls per round); every statement is one call returning a URL.
    timers: dict[str, tuple[timeit.Timer, int]] = {}
    names = {"public": public, "proxy": proxy, "client": client, "floor": floor}
    for kind, key in KEYS.items():
        env = {**names, "key": key, "PUBLIC_URL": PUBLIC_URL, "PROXY_BASE": PROXY_BASE}
        for row, statement, number in (
            (f"floor.public[{kind}]", "floor(PUBLIC_URL, key)", 100_000),
            (f"public_url[{kind}]", "public.public_url(key)", 100_000),
            (f"floor.proxy[{kind}]", "floor(PROXY_BASE, key)", 100_000),
            (f"proxy_url[{kind}]", "proxy.proxy_url(key)", 100_000),
            (f"presigned_url[{kind}]", "public.presigned_url(key)", 20_000),
            (
                f"botocore[{kind}]",
                f"client.generate_presigned_url('get_object', "
                f"Params={{'Bucket': {BUCKET!r}, 'Key': key}}, ExpiresIn={EXPIRES_IN})",
                1_000,
            ),
        ):
            timers[row] = (timeit.Timer(statement, globals=env), number)
    peers = _django_storages()
    if peers is not None:
        for kind, key in KEYS.items():
            env = {"custom": peers[0], "signed": peers[1], "key": key}
            timers[f"django-storages.custom[{kind}]"] = (
                timeit.Timer("custom.url(key)", globals=env),
                50_000,
            )
            timers[f"django-storages.presigned[{kind}]"] = (
                timeit.Timer("signed.url(key)", globals=env),
                1_000,
            )
        peers[1].url(KEYS["typical"])  # creates its boto3 resource outside the timing

    rounds: dict[str, list[float]] = {row: [] for row in timers}
    for _ in range(args.repeat):
        for row, (timer, number) in timers.items():
            rounds[row].append(timer.timeit(number) / number * 1e6)
    us = {row: min(values) for row, values in rounds.items()}
    client.close()

    results: list[dict[str, Any]] = []

    def add(name: str, label: str, anchor: str, anchor_label: str, **extra: Any) -> None:
        results.append(
            {
                "name": f"urls.{name}",
                "label": label,
                "value": round(us[name], 3),
                "unit": "µs",
                "anchor": round(us[anchor], 3),
                "anchor_label": anchor_label,
                **extra,
            }
        )

    for kind in KEYS:
        for method, base in (("public_url", "public"), ("proxy_url", "proxy")):
            ratio = us[f"{method}[{kind}]"] / us[f"floor.{base}[{kind}]"]
            add(
                f"{method}[{kind}]",
                f"R2Store.{method}(key), {kind} key",
                f"floor.{base}[{kind}]",
                'f"{base}/{quote(key)}" in a function',
                ratio=round(ratio, 2),
                target=f"<= {URL_TARGET:g}x floor",
                passed=ratio <= URL_TARGET,
            )
        speedup = us[f"botocore[{kind}]"] / us[f"presigned_url[{kind}]"]
        add(
            f"presigned_url[{kind}]",
            f"R2Store.presigned_url(key), {kind} key",
            f"botocore[{kind}]",
            "botocore generate_presigned_url",
            ratio=round(speedup, 2),
            target=f">= {PRESIGN_TARGET:g}x faster",
            passed=speedup >= PRESIGN_TARGET,
        )
    if peers is not None:
        for kind in KEYS:
            add(
                f"django-storages.custom[{kind}]",
                f"django-storages S3Storage.url(), custom domain, {kind} key",
                f"floor.public[{kind}]",
                'f"{base}/{quote(key)}" in a function',
                ratio=round(us[f"django-storages.custom[{kind}]"] / us[f"floor.public[{kind}]"], 2),
                target=None,
                passed=None,
            )
            add(
                f"django-storages.presigned[{kind}]",
                f"django-storages S3Storage.url(), presigned, {kind} key",
                f"botocore[{kind}]",
                "botocore generate_presigned_url",
                ratio=round(us[f"botocore[{kind}]"] / us[f"django-storages.presigned[{kind}]"], 2),
                target=None,
                passed=None,
            )

    passed = all(r["passed"] for r in results if r["passed"] is not None)
    print(f"urls: per-call time, best of {args.repeat} interleaved rounds")
    print(f"  {'row':44} {'value':>9} {'anchor':>9} {'ratio':>7}  target")
    for r in results:
        status = "" if r["passed"] is None else ("ok" if r["passed"] else "MISSED")
        target = r["target"] or "(context)"
        print(
            f"  {r['name'].removeprefix('urls.'):44} {r['value']:6.2f} µs {r['anchor']:6.2f} µs"
            f" {r['ratio']:6.2f}x  {target:15} {status}".rstrip()
        )
    print("  ratio: value/anchor for URL builders (lower is better), anchor/value for presigning")
    print(f"urls: {'PASS' if passed else 'FAIL'}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
