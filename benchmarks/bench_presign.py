"""How much faster is ``QuerySigner.presign`` than botocore's ``generate_presigned_url``?

Anchor: botocore's presigner for the same object and expiry, timed in the same run.
Target: at least 10x faster. Both must produce the same URL for a frozen clock, else
the timing means nothing and the script stops.

Run: ``python benchmarks/bench_presign.py [--json PATH] [--repeat N]``
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from unittest import mock
from urllib.parse import quote

# Run from a checkout without installing: put the repository root first on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import botocore.config
import botocore.session

from r2store._presign import QuerySigner

ENDPOINT = "https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com"
REGION = "auto"
ACCESS_KEY_ID = "0123456789abcdef0123456789abcdef"
SECRET_ACCESS_KEY = "bench-secret-0123456789abcdef0123456789abcdef0123456789abcdef"
BUCKET = "media"
KEY = "profile_images/user 42/avatar.jpg"
EXPIRES_IN = 3600
TARGET = 10.0


def best_us(func: Callable[[], object], number: int, repeat: int) -> float:
    """The best (least disturbed) per-call time of *func* in microseconds."""
    return min(timeit.repeat(func, number=number, repeat=repeat)) / number * 1e6


def main(argv: list[str] | None = None) -> int:
    """Time both presigners, print the table and the verdict; optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the result to this file")
    parser.add_argument("--repeat", type=int, default=7, help="timing runs; the best counts")
    args = parser.parse_args(argv)

    client = botocore.session.get_session().create_client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        config=botocore.config.Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )
    signer = QuerySigner(
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
        region=REGION,
        endpoint_url=ENDPOINT,
    )
    path = f"/{BUCKET}/{quote(KEY, safe='/')}"

    def anchor() -> str:
        url: str = client.generate_presigned_url(
            "get_object", Params={"Bucket": BUCKET, "Key": KEY}, ExpiresIn=EXPIRES_IN
        )
        return url

    def value() -> str:
        return signer.presign("GET", path, expires_in=EXPIRES_IN)

    # A faster signer that signs differently is not faster, it is broken.
    when = datetime.datetime(2025, 1, 2, 3, 4, 5)
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        expected = anchor()
    actual = signer.presign("GET", path, expires_in=EXPIRES_IN, now=when)
    if actual != expected:
        client.close()
        raise SystemExit(f"presign: outputs differ\n  botocore: {expected}\n  r2store:  {actual}")

    anchor_us = best_us(anchor, number=2_000, repeat=args.repeat)
    value_us = best_us(value, number=50_000, repeat=args.repeat)
    client.close()
    ratio = anchor_us / value_us
    passed = ratio >= TARGET

    print(f"presign: per-call time, best of {args.repeat} runs")
    print(f"  botocore generate_presigned_url  {anchor_us:8.2f} µs")
    print(f"  QuerySigner.presign              {value_us:8.2f} µs")
    print(f"  speedup                          {ratio:8.1f}x   (target >= {TARGET:g}x)")
    print(f"presign: {'PASS' if passed else 'FAIL'}")
    if args.json is not None:
        result = {
            "name": "presign",
            "anchor_us": round(anchor_us, 3),
            "value_us": round(value_us, 3),
            "ratio": round(ratio, 2),
            "target": f">= {TARGET:g}x faster",
            "passed": passed,
        }
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
