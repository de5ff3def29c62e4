"""Tests for R2Config, from_env() and r2_enabled(): parsing, validation and secrecy."""

from __future__ import annotations

import string
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from r2store import ConfigError, R2Config, r2_enabled
from r2store.config import ENV_VARS, JURISDICTIONS, MiB, _endpoint_host_valid, parse_bool

ACCOUNT_ID = "0123456789abcdef0123456789abcdef"
SECRET = "s3cr3t-Value-that-must-never-leak"
SIGNING_KEY = "signing-key-that-must-never-leak-0123456789"

#: The smallest environment that configures r2store.
MINIMAL_ENV = {
    "R2_ACCOUNT_ID": ACCOUNT_ID,
    "R2_BUCKET_NAME": "media",
    "R2_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "R2_SECRET_ACCESS_KEY": SECRET,
}

#: The same configuration, given as R2Config fields.
MINIMAL_FIELDS: dict[str, Any] = {
    "account_id": ACCOUNT_ID,
    "bucket": "media",
    "access_key_id": "AKIDEXAMPLE",
    "secret_access_key": SECRET,
}

#: Every variable from_env() reads.
ALL_VARS = sorted({var for var, _ in ENV_VARS.values()} | {"R2_PUBLIC_DOMAIN", "R2_PUBLIC_URL"})


def from_env(**extra: str) -> R2Config:
    """R2Config.from_env() on the minimal environment updated with *extra*."""
    return R2Config.from_env({**MINIMAL_ENV, **extra})


def env_error(**extra: str) -> ConfigError:
    """The ConfigError from_env() raises for the minimal environment updated with *extra*."""
    with pytest.raises(ConfigError) as info:
        from_env(**extra)
    return info.value


def field_error(**fields: Any) -> ConfigError:
    """The ConfigError R2Config() raises for the minimal fields updated with *fields*."""
    with pytest.raises(ConfigError) as info:
        R2Config(**{**MINIMAL_FIELDS, **fields})
    return info.value


def names(error: ConfigError) -> list[str]:
    """The setting names of *error*'s problems, in order."""
    return [problem.name for problem in error.problems]


def without(name: str) -> dict[str, str]:
    """The minimal environment without *name*."""
    return {k: v for k, v in MINIMAL_ENV.items() if k != name}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current directory, with no R2 variables in the real environment."""
    monkeypatch.chdir(tmp_path)
    for var in [*ALL_VARS, "USE_R2"]:
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def write_env_file(path: Path, values: dict[str, str]) -> None:
    """Write *values* as a .env file at *path*."""
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")


# -- the minimal configuration and defaults -------------------------------------------------


def test_minimal_env_builds_config() -> None:
    """The four required variables are enough to build a configuration."""
    config = from_env()

    assert (config.account_id, config.bucket, config.access_key_id) == (
        ACCOUNT_ID,
        "media",
        "AKIDEXAMPLE",
    )
    assert config.secret_access_key == SECRET


@pytest.mark.parametrize(
    ("field", "default"),
    [
        ("public_url", None),
        ("endpoint_url", None),
        ("region", "auto"),
        ("media_proxy", True),
        ("jurisdiction", None),
        ("location", ""),
        ("proxy_path", "/media-proxy/"),
        ("proxy_signing_key", None),
        ("cache_control", None),
        ("url_expires_in", 3600),
        ("connect_timeout", 5.0),
        ("read_timeout", 60.0),
        ("max_pool_connections", 32),
        ("multipart_threshold", 16 * MiB),
        ("multipart_chunksize", 8 * MiB),
        ("max_concurrency", 4),
        ("client_config", None),
    ],
)
def test_unset_variable_gives_default(field: str, default: object) -> None:
    """A variable left unset gives the field's documented default."""
    assert getattr(from_env(), field) == default


def test_from_env_and_constructor_agree() -> None:
    """from_env() and R2Config() build equal configurations from the same values."""
    assert from_env() == R2Config(**MINIMAL_FIELDS)


def test_empty_variable_counts_as_unset() -> None:
    """A variable set to only whitespace is treated as unset, not as an empty value."""
    assert from_env(R2_REGION_NAME="  ", R2_URL_EXPIRES_IN="") == from_env()


def test_env_vars_cover_every_field_but_public_url_and_client_config() -> None:
    """ENV_VARS maps every field except public_url (two variables) and client_config."""
    fields = {field.name for field in attrs.fields(R2Config)}

    assert set(ENV_VARS) == fields - {"public_url", "client_config"}


def test_overrides_take_precedence_over_environment() -> None:
    """Keyword overrides to from_env() win over the environment."""
    config = R2Config.from_env({**MINIMAL_ENV, "R2_BUCKET_NAME": "from-env"}, bucket="override")

    assert config.bucket == "override"


# -- each variable's parsing ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("var", "raw", "field", "expected"),
    [
        ("R2_ACCOUNT_ID", f"  {ACCOUNT_ID.upper()}  ", "account_id", ACCOUNT_ID.upper()),
        ("R2_BUCKET_NAME", " my-bucket-01 ", "bucket", "my-bucket-01"),
        ("R2_ACCESS_KEY_ID", " AKIDOTHER ", "access_key_id", "AKIDOTHER"),
        ("R2_SECRET_ACCESS_KEY", " other-secret ", "secret_access_key", "other-secret"),
        ("R2_ENDPOINT_URL", "http://127.0.0.1:9000/", "endpoint_url", "http://127.0.0.1:9000"),
        ("R2_REGION_NAME", "wnam", "region", "wnam"),
        ("USE_R2_MEDIA_PROXY", "off", "media_proxy", False),
        ("USE_R2_MEDIA_PROXY", "YES", "media_proxy", True),
        ("R2_JURISDICTION", "EU", "jurisdiction", "eu"),
        ("R2_LOCATION", "/uploads/2024/", "location", "uploads/2024"),
        ("R2_MEDIA_PROXY_PATH", "files", "proxy_path", "/files/"),
        ("R2_MEDIA_PROXY_PATH", "/a/b", "proxy_path", "/a/b/"),
        ("R2_MEDIA_PROXY_PATH", "/", "proxy_path", "/"),
        ("R2_PROXY_SIGNING_KEY", SIGNING_KEY, "proxy_signing_key", SIGNING_KEY),
        ("R2_CACHE_CONTROL", " public, max-age=60 ", "cache_control", "public, max-age=60"),
        ("R2_URL_EXPIRES_IN", "604800", "url_expires_in", 604800),
        ("R2_CONNECT_TIMEOUT", "2.5", "connect_timeout", 2.5),
        ("R2_READ_TIMEOUT", "120", "read_timeout", 120.0),
        ("R2_MAX_POOL_CONNECTIONS", "1", "max_pool_connections", 1),
        ("R2_MULTIPART_THRESHOLD", str(100 * MiB), "multipart_threshold", 100 * MiB),
        ("R2_MULTIPART_CHUNKSIZE", str(5 * MiB), "multipart_chunksize", 5 * MiB),
        ("R2_MAX_CONCURRENCY", "10", "max_concurrency", 10),
    ],
)
def test_variable_sets_field(var: str, raw: str, field: str, expected: object) -> None:
    """Each variable is parsed (and normalised) into its field."""
    assert getattr(from_env(**{var: raw}), field) == expected


@pytest.mark.parametrize(
    ("var", "raw", "message"),
    [
        ("R2_ACCOUNT_ID", "abc123", "32 hexadecimal characters (got 6 characters)"),
        ("R2_ACCOUNT_ID", "g" * 32, "32 hexadecimal characters"),
        ("R2_ACCOUNT_ID", "0123456789abcdef0123456789abcdeg", "'g' at position 32 is not"),
        ("R2_ACCOUNT_ID", "0123456789abcdef 123456789abcdef", "' ' at position 17 is not"),
        ("R2_BUCKET_NAME", "My_Bucket", "'My_Bucket' is not a valid R2 bucket name"),
        ("R2_BUCKET_NAME", "ab", "is not a valid R2 bucket name"),
        ("R2_BUCKET_NAME", "a" * 64, "is not a valid R2 bucket name"),
        ("R2_BUCKET_NAME", "-media", "is not a valid R2 bucket name"),
        ("R2_BUCKET_NAME", "media-", "is not a valid R2 bucket name"),
        ("R2_ACCESS_KEY_ID", "AKID WITH SPACE", "contains spaces"),
        ("R2_ENDPOINT_URL", "ftp://example.com", "must be an http(s) URL with a host"),
        ("R2_ENDPOINT_URL", "https://", "must be an http(s) URL with a host"),
        ("R2_ENDPOINT_URL", "https://example.com:port", "is not a valid URL"),
        ("R2_ENDPOINT_URL", "https://example.com?x=1", "must not carry a query"),
        ("R2_ENDPOINT_URL", "https://user:pw@example.com", "must not carry"),
        ("R2_REGION_NAME", "Auto Region", "must be like 'auto'"),
        ("USE_R2_MEDIA_PROXY", "maybe", "expected true/false, 1/0, yes/no or on/off"),
        ("R2_JURISDICTION", "asia", "must be one of eu, fedramp, us, got 'asia'"),
        ("R2_LOCATION", "a/../b", "segment"),
        ("R2_LOCATION", "a\\b", "backslash"),
        ("R2_MEDIA_PROXY_PATH", "/media proxy/", "must be a URL path like /media-proxy/"),
        ("R2_MEDIA_PROXY_PATH", "/a//b/", "must be a URL path like /media-proxy/"),
        ("R2_URL_EXPIRES_IN", "1h", "must be a whole number, got '1h'"),
        ("R2_URL_EXPIRES_IN", "0", "must be from 1 to 604800 seconds"),
        ("R2_URL_EXPIRES_IN", "604801", "must be from 1 to 604800 seconds"),
        ("R2_CONNECT_TIMEOUT", "fast", "must be a number, got 'fast'"),
        ("R2_CONNECT_TIMEOUT", "0", "must be a positive number"),
        ("R2_CONNECT_TIMEOUT", "nan", "must be a positive number"),
        ("R2_CONNECT_TIMEOUT", "inf", "must be a positive number"),
        ("R2_READ_TIMEOUT", "-1", "must be a positive number"),
        ("R2_READ_TIMEOUT", "1e999", "must be a positive number"),
        ("R2_MAX_POOL_CONNECTIONS", "0", "must be at least 1"),
        ("R2_MAX_POOL_CONNECTIONS", "2.5", "must be a whole number"),
        ("R2_MULTIPART_THRESHOLD", str(5 * MiB - 1), "R2's single upload limit"),
        ("R2_MULTIPART_THRESHOLD", str(5 * 1024 * MiB + 1), "R2's single upload limit"),
        ("R2_MULTIPART_CHUNKSIZE", str(4 * MiB), "R2's part size limits"),
        ("R2_MAX_CONCURRENCY", "0", "must be at least 1"),
        ("R2_MAX_CONCURRENCY", "many", "must be a whole number"),
    ],
)
def test_invalid_variable_is_named_with_reason(var: str, raw: str, message: str) -> None:
    """An invalid value is one problem, named by its variable, saying what is wrong."""
    error = env_error(**{var: raw})

    assert names(error) == [var]
    assert message in error.problems[0].message
    assert f"{var}: " in str(error)


@pytest.mark.parametrize("var", ["R2_BUCKET_NAME", "R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY"])
def test_missing_required_variable_is_named(var: str) -> None:
    """A missing required variable is reported as missing, by name."""
    with pytest.raises(ConfigError) as info:
        R2Config.from_env(without(var))

    assert [(p.name, p.message) for p in info.value.problems] == [(var, "missing")]


def test_missing_account_id_is_named() -> None:
    """A missing account id is reported with why it is needed."""
    with pytest.raises(ConfigError) as info:
        R2Config.from_env(without("R2_ACCOUNT_ID"))

    assert names(info.value) == ["R2_ACCOUNT_ID"]
    assert "needed to build the R2 endpoint" in str(info.value)


def test_empty_environment_names_every_required_variable() -> None:
    """An empty environment lists all four required variables."""
    with pytest.raises(ConfigError) as info:
        R2Config.from_env({})

    assert sorted(names(info.value)) == sorted(MINIMAL_ENV)


def test_secret_with_space_is_invalid() -> None:
    """A secret access key with a space in it is refused."""
    error = env_error(R2_SECRET_ACCESS_KEY="two words")

    assert [(p.name, p.message) for p in error.problems] == [
        ("R2_SECRET_ACCESS_KEY", "contains spaces, control or non-ASCII characters")
    ]


def test_short_signing_key_is_invalid() -> None:
    """A proxy signing key shorter than 32 characters is refused."""
    error = env_error(R2_PROXY_SIGNING_KEY="too-short")

    assert names(error) == ["R2_PROXY_SIGNING_KEY"]
    assert "at least 32 characters" in str(error)


def test_jurisdiction_is_one_of_documented_set() -> None:
    """JURISDICTIONS is exactly the set Cloudflare documents for R2."""
    assert frozenset({"eu", "fedramp", "us"}) == JURISDICTIONS


# -- the endpoint ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("jurisdiction", "endpoint"),
    [
        (None, f"https://{ACCOUNT_ID}.r2.cloudflarestorage.com"),
        ("eu", f"https://{ACCOUNT_ID}.eu.r2.cloudflarestorage.com"),
        ("fedramp", f"https://{ACCOUNT_ID}.fedramp.r2.cloudflarestorage.com"),
        ("us", f"https://{ACCOUNT_ID}.us.r2.cloudflarestorage.com"),
    ],
)
def test_endpoint_is_built_from_account_and_jurisdiction(
    jurisdiction: str | None, endpoint: str
) -> None:
    """The endpoint is built from the account id, with the jurisdiction as a subdomain."""
    extra = {"R2_JURISDICTION": jurisdiction} if jurisdiction else {}

    assert from_env(**extra).endpoint == endpoint


def test_endpoint_url_overrides_built_endpoint() -> None:
    """R2_ENDPOINT_URL replaces the endpoint built from the account and jurisdiction."""
    config = from_env(R2_ENDPOINT_URL="http://127.0.0.1:9000", R2_JURISDICTION="eu")

    assert config.endpoint == "http://127.0.0.1:9000"


def test_endpoint_url_makes_account_id_optional() -> None:
    """With R2_ENDPOINT_URL set the account id may be omitted."""
    env = {**without("R2_ACCOUNT_ID"), "R2_ENDPOINT_URL": "https://r2.example.com"}

    config = R2Config.from_env(env)

    assert (config.account_id, config.endpoint) == (None, "https://r2.example.com")


@pytest.mark.parametrize(
    "url",
    [
        f"https://{ACCOUNT_ID}.r2.cloudflarestorage.com/media",
        f"https://{ACCOUNT_ID}.r2.cloudflarestorage.com/media/",
        "http://127.0.0.1:9000/a/b",
    ],
)
def test_endpoint_url_with_path_is_invalid(url: str) -> None:
    """An endpoint URL with a path (a pasted bucket URL) is refused with a hint."""
    error = env_error(R2_ENDPOINT_URL=url)

    assert names(error) == ["R2_ENDPOINT_URL"]
    assert "must not contain a path" in str(error)
    assert "the bucket goes in R2_BUCKET_NAME" in str(error)


@pytest.mark.parametrize(
    "url",
    [
        "http://moto_host:9100",
        "https://-r2.example.com",
        "https://r2-.example.com",
        "https://r2..example.com",
        f"https://{'a' * 64}.example.com",
        "https://r2.exämple.com",
    ],
)
def test_endpoint_host_botocore_refuses_is_invalid(url: str) -> None:
    """An endpoint host botocore would refuse at the first request is refused at once."""
    error = env_error(R2_ENDPOINT_URL=url)

    assert names(error) == ["R2_ENDPOINT_URL"]
    assert "is not a host name botocore accepts" in str(error)


@pytest.mark.parametrize(
    "url",
    [
        f"https://{ACCOUNT_ID}.eu.r2.cloudflarestorage.com",
        "http://127.0.0.1:9000",
        "http://localhost:9000",
        "http://moto-host:9100",
        "https://R2.Example.COM.",
        "http://[::1]:9000",
        "http://[fe80::1%25eth0]:9000",
        "http://[::ffff:10.0.0.1]",
    ],
)
def test_endpoint_hosts_botocore_accepts_are_valid(url: str) -> None:
    """Host names, IPv4 and bracketed IPv6 addresses that botocore accepts pass."""
    assert from_env(R2_ENDPOINT_URL=url).endpoint == url.rstrip("/")


def _botocore_accepts(url: str) -> bool:
    """botocore's own verdict on an endpoint URL, as its Endpoint class reaches it."""
    from botocore.utils import is_valid_endpoint_url, is_valid_ipv6_endpoint_url

    try:
        return bool(is_valid_endpoint_url(url) or is_valid_ipv6_endpoint_url(url))
    except ValueError:  # urlsplit() refuses it: botocore cannot use it either
        return False


#: Endpoint URLs at the edges of botocore's rules.
ENDPOINT_CORPUS = [
    "http://a",
    "http://a.",
    "http://a..",
    "http://.a",
    "http://a_b",
    "http://a-b",
    "http://-a",
    "http://a-",
    "http://1.2.3.4",
    "http://999.999.999.999",
    "http://1.2.3",
    f"http://{'a' * 63}",
    f"http://{'a' * 64}",
    f"http://{'a.' * 127}a",
    f"http://{'a.' * 128}a",
    f"http://{'a' * 63}.{'b' * 63}.{'c' * 63}.{'d' * 63}",
    "http://\u017f.example.com",
    "http://\u0131.example.com",
    "http://\u212a.example.com",
    "http://\u0660.example.com",
    "http://\u00e9.example.com",
    "http://[::1]",
    "http://[::]",
    "http://[1::2::3]",
    "http://[::1%25lo]",
    "http://[::1%lo]",
    "http://[::1%25%41]",
    "http://[::1%25]",
    "http://[fe80::1%25eth0]:80",
    "http://[1:2:3:4:5:6:7:8]",
    "http://[1:2:3:4:5:6:7:8:9]",
    "http://[::ffff:1.2.3.4]",
    "http://[::ffff:1.2.3]",
    "http://[v1.fe]",
    "http://[12345::1]",
    "http://[a:b]",
    "http://example.com:80",
    "http://example.com:",
    "http://example.com\t",
    "http://exam\nple.com",
    "http://",
    "http://:80",
    "http://user@example.com",
    "http://a b",
    "http://a%20b",
    "http://a/b",
]


@pytest.mark.parametrize("url", ENDPOINT_CORPUS)
def test_endpoint_host_check_agrees_with_botocore(url: str) -> None:
    """r2store's endpoint host check gives botocore's verdict on each edge case."""
    assert _endpoint_host_valid(url) is _botocore_accepts(url)


_HOST_CHARS = st.sampled_from(
    [*"abcXYZ019-._:[]%@/ ", "\u017f", "\u0131", "\u212a", "\u0660", "\u00e9", "\t", "25"]
)


@given(
    host=st.lists(_HOST_CHARS, max_size=20).map("".join)
    | st.lists(st.sampled_from(["a", "ab-c", "0", "1a", "-", "x" * 63, ""]), max_size=6).map(
        ".".join
    )
    | st.ip_addresses(v=6).map(lambda ip: f"[{ip}]")
    | st.ip_addresses(v=4).map(str),
    port=st.sampled_from(["", ":80", ":", ":x"]),
)
def test_endpoint_host_check_agrees_with_botocore_everywhere(host: str, port: str) -> None:
    """On generated hosts, r2store's check accepts exactly the endpoints botocore accepts."""
    url = f"https://{host}{port}"
    assert _endpoint_host_valid(url) is _botocore_accepts(url)


def test_endpoint_url_error_without_path_has_no_bucket_hint() -> None:
    """The bucket hint is given only when the endpoint URL has a path."""
    error = env_error(R2_ENDPOINT_URL="localhost:9000")

    assert "must be an http(s) URL with a host" in str(error)
    assert "R2_BUCKET_NAME" not in str(error)


# -- the public URL -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "public_url"),
    [
        ({"R2_PUBLIC_DOMAIN": "pub-xxxx.r2.dev"}, "https://pub-xxxx.r2.dev"),
        ({"R2_PUBLIC_DOMAIN": " pub-xxxx.r2.dev/ "}, "https://pub-xxxx.r2.dev"),
        ({"R2_PUBLIC_DOMAIN": "https://pub-xxxx.r2.dev"}, "https://pub-xxxx.r2.dev"),
        ({"R2_PUBLIC_DOMAIN": "http://localhost:8000"}, "http://localhost:8000"),
        ({"R2_PUBLIC_URL": "https://cdn.example.com/"}, "https://cdn.example.com"),
        ({"R2_PUBLIC_URL": "https://cdn.example.com/media//"}, "https://cdn.example.com/media"),
        (
            {"R2_PUBLIC_DOMAIN": "cdn.example.com", "R2_PUBLIC_URL": "https://CDN.example.com/"},
            "https://CDN.example.com",
        ),
    ],
)
def test_public_url_is_normalised(env: dict[str, str], public_url: str) -> None:
    """R2_PUBLIC_DOMAIN and R2_PUBLIC_URL become one base URL without a trailing slash."""
    assert from_env(**env).public_url == public_url


def test_public_domain_and_url_that_disagree_are_invalid() -> None:
    """R2_PUBLIC_DOMAIN and R2_PUBLIC_URL naming different places is one problem naming both."""
    error = env_error(R2_PUBLIC_DOMAIN="pub-xxxx.r2.dev", R2_PUBLIC_URL="https://cdn.example.com")

    assert names(error) == ["R2_PUBLIC_DOMAIN / R2_PUBLIC_URL"]
    assert "disagree" in str(error)


def test_public_domain_and_url_with_path_disagree() -> None:
    """A public URL with a path prefix disagrees with a bare public domain."""
    error = env_error(R2_PUBLIC_DOMAIN="cdn.example.com", R2_PUBLIC_URL="https://cdn.example.com/m")

    assert "disagree" in str(error)


@pytest.mark.parametrize(
    "domain", ["pub-xxxx.r2.dev/media", "https://pub-xxxx.r2.dev/media/", "host?x=1", "https://"]
)
def test_public_domain_with_path_is_invalid(domain: str) -> None:
    """A public domain with a path (or no host) is refused, pointing at R2_PUBLIC_URL."""
    error = env_error(R2_PUBLIC_DOMAIN=domain)

    assert names(error) == ["R2_PUBLIC_DOMAIN"]
    assert "without a path" in str(error)
    assert "use R2_PUBLIC_URL" in str(error)


@pytest.mark.parametrize(
    "domain", ["pub.r2.dev:notaport", "user@pub.r2.dev", "pub r2.dev", "pub\tr2.dev"]
)
def test_invalid_public_domain_is_named_as_domain(domain: str) -> None:
    """A public domain that makes an invalid URL is reported as R2_PUBLIC_DOMAIN."""
    assert names(env_error(R2_PUBLIC_DOMAIN=domain)) == ["R2_PUBLIC_DOMAIN"]


@pytest.mark.parametrize(
    "url",
    [
        "cdn.example.com",
        "ftp://cdn.example.com",
        "https://cdn.example.com/?v=1",
        "https://cdn.example.com/#top",
        "https://cdn example.com",
        "https://cdn.example.com/a b",
        "https://cdn.example.com/a\tb",
    ],
)
def test_invalid_public_url_is_named(url: str) -> None:
    """An R2_PUBLIC_URL that is not a clean http(s) base URL is refused."""
    assert names(env_error(R2_PUBLIC_URL=url)) == ["R2_PUBLIC_URL"]


# -- every problem at once ------------------------------------------------------------------


BROKEN_ENV = {
    "R2_ACCOUNT_ID": "not-hex",
    "R2_BUCKET_NAME": "Bad_Bucket",
    "R2_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "R2_SECRET_ACCESS_KEY": SECRET,
    "R2_PUBLIC_DOMAIN": "pub-xxxx.r2.dev/media",
    "USE_R2_MEDIA_PROXY": "sometimes",
    "R2_JURISDICTION": "mars",
    "R2_URL_EXPIRES_IN": "a while",
    "R2_MAX_CONCURRENCY": "0",
}
BROKEN_VARS = [
    "R2_ACCOUNT_ID",
    "R2_BUCKET_NAME",
    "R2_PUBLIC_DOMAIN",
    "USE_R2_MEDIA_PROXY",
    "R2_JURISDICTION",
    "R2_URL_EXPIRES_IN",
    "R2_MAX_CONCURRENCY",
]


def test_every_problem_is_in_one_error() -> None:
    """A broken environment yields one ConfigError whose problems name each bad variable once."""
    with pytest.raises(ConfigError) as info:
        R2Config.from_env(BROKEN_ENV)

    assert sorted(names(info.value)) == sorted(BROKEN_VARS)


def test_every_problem_is_in_the_message() -> None:
    """The message of that one ConfigError names each bad variable and counts the problems."""
    with pytest.raises(ConfigError) as info:
        R2Config.from_env(BROKEN_ENV)

    message = str(info.value)
    assert f"({len(BROKEN_VARS)} problem(s))" in message
    for var in BROKEN_VARS:
        assert f"  - {var}: " in message


def test_config_error_is_a_value_error() -> None:
    """ConfigError can be caught as ValueError."""
    with pytest.raises(ValueError, match="R2_BUCKET_NAME"):
        from_env(R2_BUCKET_NAME="x")


# -- constructed directly: problems named by field -------------------------------------------


def test_direct_construction_names_fields() -> None:
    """R2Config() names its problems by field, not by environment variable."""
    error = field_error(
        account_id="nope",
        bucket="UPPER",
        access_key_id="",
        jurisdiction="mars",
        proxy_path="/a b/",
        url_expires_in=0,
        connect_timeout=-1.0,
        multipart_chunksize=1,
    )

    assert sorted(names(error)) == [
        "access_key_id",
        "account_id",
        "bucket",
        "connect_timeout",
        "jurisdiction",
        "multipart_chunksize",
        "proxy_path",
        "url_expires_in",
    ]
    assert "R2_" not in "".join(names(error))


def test_direct_construction_without_account_or_endpoint_is_invalid() -> None:
    """Without an account id or an endpoint URL there is no endpoint, which is a problem."""
    assert names(field_error(account_id=None)) == ["account_id"]


def test_direct_construction_names_public_url_field() -> None:
    """An invalid public_url is named by field when constructed directly."""
    assert names(field_error(public_url="cdn.example.com")) == ["public_url"]


# -- r2_enabled -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "enabled"),
    [
        *[(word, True) for word in ("true", "TRUE", "True", "1", "yes", "Yes", "on", "ON")],
        *[(word, False) for word in ("false", "FALSE", "False", "0", "no", "NO", "off", "Off")],
        (" true ", True),
        ("", False),
        ("  ", False),
    ],
)
def test_r2_enabled_reads_use_r2(raw: str, enabled: bool) -> None:
    """USE_R2 accepts true/false, 1/0, yes/no, on/off in any case; empty means off."""
    assert r2_enabled({"USE_R2": raw}) is enabled


def test_r2_enabled_is_false_when_unset() -> None:
    """An unset USE_R2 means R2 is off."""
    assert r2_enabled({}) is False


@pytest.mark.parametrize("raw", ["maybe", "2", "y", "enabled", "tru"])
def test_r2_enabled_refuses_other_values(raw: str) -> None:
    """Any other USE_R2 value is a ConfigError naming USE_R2, never a silent no."""
    with pytest.raises(ConfigError) as info:
        r2_enabled({"USE_R2": raw})

    assert names(info.value) == ["USE_R2"]
    assert repr(raw) in str(info.value)


@pytest.mark.parametrize("raw", ["yes", "Off", "1"])
def test_parse_bool_agrees_with_r2_enabled(raw: str) -> None:
    """parse_bool() and r2_enabled() read booleans the same way."""
    assert parse_bool(raw) is r2_enabled({"USE_R2": raw})


def test_r2_enabled_reads_os_environ(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no mapping given, r2_enabled() reads the real environment."""
    monkeypatch.setenv("USE_R2", "on")

    assert r2_enabled() is True


# -- the .env file --------------------------------------------------------------------------


def test_env_file_is_read(workdir: Path) -> None:
    """With no mapping given, from_env() reads a .env file in the current directory."""
    write_env_file(workdir / ".env", MINIMAL_ENV)

    assert R2Config.from_env() == from_env()


def test_real_environment_wins_over_env_file(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A variable in the real environment wins over the same variable in .env."""
    write_env_file(workdir / ".env", MINIMAL_ENV)
    monkeypatch.setenv("R2_BUCKET_NAME", "from-environment")

    assert R2Config.from_env().bucket == "from-environment"


def test_env_file_can_be_named(workdir: Path) -> None:
    """env_file names another file to read."""
    write_env_file(workdir / "r2.env", MINIMAL_ENV)

    assert R2Config.from_env(env_file="r2.env").bucket == "media"


def test_env_file_none_disables_reading(workdir: Path) -> None:
    """env_file=None reads only the real environment."""
    write_env_file(workdir / ".env", MINIMAL_ENV)

    with pytest.raises(ConfigError) as info:
        R2Config.from_env(env_file=None)

    assert sorted(names(info.value)) == sorted(MINIMAL_ENV)


def test_env_file_is_ignored_when_mapping_given(workdir: Path) -> None:
    """An explicit mapping is read alone, without the .env file."""
    write_env_file(workdir / ".env", {**MINIMAL_ENV, "R2_REGION_NAME": "wnam"})

    assert R2Config.from_env(MINIMAL_ENV).region == "auto"


def test_r2_enabled_reads_env_file(workdir: Path) -> None:
    """r2_enabled() also reads USE_R2 from the .env file."""
    write_env_file(workdir / ".env", {"USE_R2": "yes"})

    assert r2_enabled() is True


def test_missing_dotenv_gives_hint(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without python-dotenv, an error says the .env file was not read and how to fix it."""
    # A None entry in sys.modules makes `import dotenv` fail: this simulates the
    # package being absent.
    monkeypatch.setitem(sys.modules, "dotenv", None)
    write_env_file(workdir / ".env", MINIMAL_ENV)

    with pytest.raises(ConfigError) as info:
        R2Config.from_env()

    assert "'.env' was not read because python-dotenv is not installed" in str(info.value)
    assert "pip install 'r2store[dotenv]'" in str(info.value)


def test_missing_dotenv_still_reads_real_environment(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without python-dotenv (simulated as absent), the real environment is still read."""
    monkeypatch.setitem(sys.modules, "dotenv", None)
    write_env_file(workdir / ".env", {"R2_BUCKET_NAME": "from-file"})
    for var, value in MINIMAL_ENV.items():
        monkeypatch.setenv(var, value)

    assert R2Config.from_env().bucket == "media"


def test_no_hint_without_env_file(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a .env file there is nothing to hint about, even without python-dotenv."""
    monkeypatch.setitem(sys.modules, "dotenv", None)  # simulates python-dotenv being absent

    with pytest.raises(ConfigError) as info:
        R2Config.from_env()

    assert "python-dotenv" not in str(info.value)


def test_r2_enabled_error_carries_dotenv_hint(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """r2_enabled() also hints at the unread .env file (python-dotenv simulated as absent)."""
    monkeypatch.setitem(sys.modules, "dotenv", None)
    write_env_file(workdir / ".env", {"USE_R2": "true"})
    monkeypatch.setenv("USE_R2", "perhaps")

    with pytest.raises(ConfigError, match="python-dotenv is not installed"):
        r2_enabled()


# -- secrets --------------------------------------------------------------------------------


def test_repr_and_str_hide_secrets() -> None:
    """repr() and str() show neither the secret access key nor the signing key."""
    config = from_env(R2_PROXY_SIGNING_KEY=SIGNING_KEY)

    for text in (repr(config), str(config)):
        assert SECRET not in text
        assert SIGNING_KEY not in text
        assert "secret_access_key" not in text
        assert "proxy_signing_key" not in text


def test_repr_masks_access_key_id() -> None:
    """repr() shows only the start of the access key id."""
    config = from_env(R2_ACCESS_KEY_ID="AKIDLONGERVALUE")

    assert "AKIDLONGERVALUE" not in repr(config)
    assert "'AKID…'" in repr(config)


@pytest.mark.parametrize("secret", ["Xq7vLm2 Pz9Kd4w", "Tb8nQf\tRw3Yk6", "Cv5Jhd\x07Mn2Lp"])
def test_invalid_secret_is_not_echoed(secret: str) -> None:
    """An invalid secret access key is reported without its value, from env or fields."""
    env_message = str(env_error(R2_SECRET_ACCESS_KEY=secret))
    field_message = str(field_error(secret_access_key=secret))

    for message in (env_message, field_message):
        assert secret not in message
        for part in secret.replace("\x07", " ").split():
            assert part not in message


@pytest.mark.parametrize("key", ["short-signing-key", "short signing key"])
def test_invalid_signing_key_is_not_echoed(key: str) -> None:
    """An invalid proxy signing key is reported without its value, from env or fields."""
    env_message = str(env_error(R2_PROXY_SIGNING_KEY=key))
    field_message = str(field_error(proxy_signing_key=key))

    for message in (env_message, field_message):
        assert key not in message
        assert "short" not in message


def test_secret_is_not_in_any_problem_of_a_broken_env() -> None:
    """With many problems at once, no message carries the secret or the signing key."""
    with pytest.raises(ConfigError) as info:
        R2Config.from_env({**BROKEN_ENV, "R2_PROXY_SIGNING_KEY": "weak key"})

    assert SECRET not in str(info.value)
    assert "weak key" not in str(info.value)
    assert all(SECRET not in problem.message for problem in info.value.problems)


# -- evolve and immutability ----------------------------------------------------------------


def test_evolve_changes_a_field() -> None:
    """attrs.evolve() makes a changed copy, converting the new value like the constructor."""
    config = from_env()

    changed = attrs.evolve(config, location="/photos/", jurisdiction="EU")

    assert (changed.location, changed.jurisdiction) == ("photos", "eu")
    assert changed.endpoint == f"https://{ACCOUNT_ID}.eu.r2.cloudflarestorage.com"
    assert config.location == ""


def test_evolve_keeps_normalised_values() -> None:
    """attrs.evolve() with no changes gives an equal configuration."""
    config = from_env(R2_MEDIA_PROXY_PATH="files", R2_PUBLIC_URL="https://cdn.example.com/m/")

    assert attrs.evolve(config) == config


def test_evolve_revalidates() -> None:
    """attrs.evolve() checks the new values and names the bad fields."""
    config = from_env()

    with pytest.raises(ConfigError) as info:
        attrs.evolve(config, bucket="Bad_Bucket", url_expires_in=0)

    assert sorted(names(info.value)) == ["bucket", "url_expires_in"]


@pytest.mark.parametrize(("field", "value"), [("bucket", "other"), ("media_proxy", False)])
def test_config_is_frozen(field: str, value: object) -> None:
    """Assigning to a field raises FrozenInstanceError."""
    config = from_env()

    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(config, field, value)


def test_constructor_is_keyword_only() -> None:
    """R2Config takes keyword arguments only."""
    with pytest.raises(TypeError):
        R2Config(ACCOUNT_ID, "media", "AKIDEXAMPLE", SECRET)  # type: ignore[call-arg]


# -- url_mode -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("media_proxy", "public_url", "mode"),
    [
        (True, None, "proxy"),
        (True, "https://cdn.example.com", "proxy"),
        (False, "https://cdn.example.com", "public"),
        (False, None, "presigned"),
    ],
)
def test_url_mode(media_proxy: bool, public_url: str | None, mode: str) -> None:
    """url_mode is proxy if the media proxy is on, else public with a public URL, else presigned."""
    config = R2Config(**MINIMAL_FIELDS, media_proxy=media_proxy, public_url=public_url)

    assert config.url_mode == mode


# -- property: from_env() fails only with ConfigError, and never leaks the secret -----------


_VALUE = st.text(max_size=40) | st.sampled_from(
    ["", " ", "0", "1", "true", "eu", "-1", "inf", "nan", "https://x", "a/../b", ACCOUNT_ID]
)
_OTHER_VARS = [var for var in ALL_VARS if var not in ("R2_SECRET_ACCESS_KEY",)]


@given(
    other=st.dictionaries(st.sampled_from(_OTHER_VARS), _VALUE),
    secret=st.text(alphabet=string.ascii_letters, min_size=12),
    secret_vars=st.sets(st.sampled_from(["R2_SECRET_ACCESS_KEY", "R2_PROXY_SIGNING_KEY"])),
)
def test_from_env_only_raises_config_error(
    other: dict[str, str], secret: str, secret_vars: set[str]
) -> None:
    """from_env() on any values returns a config or raises ConfigError without the secret."""
    env = {**other, **dict.fromkeys(secret_vars, secret)}
    assume(all(secret not in env[var] for var in env if var not in secret_vars))

    error: ConfigError | None = None
    try:
        config = R2Config.from_env(env)
    except ConfigError as exc:
        error = exc
    else:
        assert secret not in repr(config)
    if error is not None:
        assert secret not in str(error)
        assert all(secret not in problem.message for problem in error.problems)


def test_user_info_in_a_url_is_not_echoed() -> None:
    """A password embedded in an endpoint URL never appears in the error."""
    error = env_error(R2_ENDPOINT_URL="https://user:hunter2-password@example.com")
    assert "hunter2-password" not in str(error)
    assert [p.name for p in error.problems] == ["R2_ENDPOINT_URL"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("media_proxy", "false"),
        ("url_expires_in", "3600"),
        ("max_concurrency", 2.5),
        ("read_timeout", "30"),
    ],
)
def test_direct_construction_checks_types(field: str, value: Any) -> None:
    """A value of the wrong type is a ConfigError naming the field, not a silent truthy str."""
    with pytest.raises(ConfigError) as info:
        R2Config(**{**MINIMAL_FIELDS, field: value})
    assert [p.name for p in info.value.problems] == [field]


# -- user info in a URL is never echoed -----------------------------------------------------

#: One malformed URL per check that echoes its value: (variable, URL with {u} for user info,
#: other variables).
URL_BRANCHES: dict[str, tuple[str, str, dict[str, str]]] = {
    "endpoint_bad_port": ("R2_ENDPOINT_URL", "https://{u}example.com:99999", {}),
    "endpoint_port_not_a_number": ("R2_ENDPOINT_URL", "https://{u}example.com:port", {}),
    "endpoint_space": ("R2_ENDPOINT_URL", "https://{u}example .com", {}),
    "endpoint_control_character": ("R2_ENDPOINT_URL", "https://{u}exam\tple.com", {}),
    "endpoint_wrong_scheme": ("R2_ENDPOINT_URL", "ftp://{u}example.com", {}),
    "endpoint_no_scheme": ("R2_ENDPOINT_URL", "{u}example.com", {}),
    "endpoint_no_host": ("R2_ENDPOINT_URL", "https://{u}", {}),
    "endpoint_query": ("R2_ENDPOINT_URL", "https://{u}example.com?a=1", {}),
    "endpoint_fragment": ("R2_ENDPOINT_URL", "https://{u}example.com#top", {}),
    "endpoint_path": ("R2_ENDPOINT_URL", "https://{u}example.com/bucket", {}),
    "endpoint_user_info": ("R2_ENDPOINT_URL", "https://{u}example.com", {}),
    "public_url_bad_port": ("R2_PUBLIC_URL", "https://{u}cdn.example.com:0x50", {}),
    "public_url_space": ("R2_PUBLIC_URL", "https://{u}cdn.example.com/a b", {}),
    "public_url_wrong_scheme": ("R2_PUBLIC_URL", "ftp://{u}cdn.example.com", {}),
    "public_url_query": ("R2_PUBLIC_URL", "https://{u}cdn.example.com/?v=1", {}),
    "public_url_user_info": ("R2_PUBLIC_URL", "https://{u}cdn.example.com/media", {}),
    "public_url_disagrees": (
        "R2_PUBLIC_URL",
        "https://{u}b.example.com",
        {"R2_PUBLIC_DOMAIN": "a.example.com"},
    ),
    "public_domain_path": ("R2_PUBLIC_DOMAIN", "{u}cdn.example.com/media", {}),
    "public_domain_scheme_and_path": ("R2_PUBLIC_DOMAIN", "https://{u}cdn.example.com/m", {}),
    "public_domain_query": ("R2_PUBLIC_DOMAIN", "{u}cdn.example.com?x", {}),
    "public_domain_bad_port": ("R2_PUBLIC_DOMAIN", "{u}cdn.example.com:99999", {}),
    "public_domain_space": ("R2_PUBLIC_DOMAIN", "{u}cdn example.com", {}),
    "public_domain_user_info": ("R2_PUBLIC_DOMAIN", "{u}cdn.example.com", {}),
    "public_domain_disagrees": (
        "R2_PUBLIC_DOMAIN",
        "{u}a.example.com",
        {"R2_PUBLIC_URL": "https://b.example.com"},
    ),
}

#: The R2Config field each URL variable sets, for direct construction.
_URL_FIELDS = {"R2_ENDPOINT_URL": "endpoint_url", "R2_PUBLIC_URL": "public_url"}

_PASSWORD = st.text(
    alphabet=string.ascii_letters + string.digits + "-._~!$&'()*+,;=%:", min_size=8, max_size=30
)


def _url_errors(branch: str, userinfo: str) -> list[ConfigError]:
    """The ConfigErrors for *branch* with *userinfo*: from the environment and, for the
    variables that are fields, from direct construction."""
    var, template, others = URL_BRANCHES[branch]
    url = template.format(u=userinfo)
    errors = [env_error(**{var: url}, **others)]
    if var in _URL_FIELDS and not others:
        errors.append(field_error(**{_URL_FIELDS[var]: url}))
    return errors


@pytest.mark.parametrize("branch", list(URL_BRANCHES))
@given(password=_PASSWORD)
def test_url_checks_never_echo_a_password(branch: str, password: str) -> None:
    """Every check of a URL setting reports it without the password of its user info."""
    # A password that the message holds anyway (a word of it, "ConfigEr" of the repr)
    # says nothing about echoing.
    plain = "".join(f"{error}{error!r}" for error in _url_errors(branch, "user:x@"))
    assume(password not in plain)
    for error in _url_errors(branch, f"user:{password}@"):
        assert [problem.name for problem in error.problems] != []
        assert password not in str(error)
        assert password not in repr(error)
        assert all(password not in problem.message for problem in error.problems)


@pytest.mark.parametrize("branch", list(URL_BRANCHES))
@pytest.mark.parametrize("password", ["pa/ss-word", "p@ss@word", "pass word", "pa#ss?word"])
def test_url_checks_never_echo_an_awkward_password(branch: str, password: str) -> None:
    """A password holding '/', '@', a space, '#' or '?' is not echoed either."""
    for error in _url_errors(branch, f"user:{password}@"):
        assert password not in str(error)
        assert password not in repr(error)
