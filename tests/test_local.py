"""r2store.local: the local S3 endpoint for examples and demos (moto's server), which
answers browsers' CORS preflights as R2 does.

Each test runs it in a new Python process without ``MOTO_DISABLE_GLOBAL_CORS`` (which
this suite's conftest sets), as a user's script would: moto reads it only once, when
first imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: How long a process may take; generous, as machines here are shared.
DEADLINE = 60

PREFLIGHTS = """
import json

import httpx

from r2store import R2Store
from r2store.buckets import CORSRule, set_cors
from r2store.local import local_s3

def preflight(env, origin):
    response = httpx.options(
        f"{env['R2_ENDPOINT_URL']}/{env['R2_BUCKET_NAME']}/a.txt",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type,if-none-match",
        },
    )
    return response.headers.get("access-control-allow-origin")

with local_s3() as env:
    before = preflight(env, "http://app.test")
    with R2Store.from_env(env) as store:
        set_cors(store, [CORSRule(origins=["http://app.test"])])
    allowed = preflight(env, "http://app.test")
    other = preflight(env, "http://other.test")
print(json.dumps([before, allowed, other]))
"""


def _python(script: str) -> subprocess.CompletedProcess[str]:
    """Run *script* in a new interpreter whose environment has no MOTO_DISABLE_GLOBAL_CORS."""
    env = {k: v for k, v in os.environ.items() if k != "MOTO_DISABLE_GLOBAL_CORS"}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )


def test_preflight_is_answered_only_as_the_bucket_cors_rules_allow() -> None:
    """A preflight gets no CORS headers until the bucket has a rule, then only for its origin."""
    result = _python(PREFLIGHTS)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [None, "http://app.test", None]


def test_refuses_moto_imported_without_strict_cors() -> None:
    """local_s3 raises, naming the variable, when moto was imported before it could set it."""
    result = _python(
        "import moto.server\nfrom r2store.local import local_s3\nwith local_s3():\n    pass\n"
    )
    assert result.returncode == 1
    assert "RuntimeError: moto was imported before local_s3()" in result.stderr
    assert "MOTO_DISABLE_GLOBAL_CORS=true" in result.stderr
