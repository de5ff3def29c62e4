"""Static files on R2: real Django collectstatic into the moto bucket."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import threading
from pathlib import Path
from typing import Any

import attrs
import django
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import call_command
from django.template import Context, Template

from r2store import R2Config, R2Store
from r2store.django import R2ManifestStaticStorage, R2StaticStorage, storages_from_env
from r2store.django.checks import check_r2store_static
from r2store.static import IMMUTABLE_CACHE_CONTROL, SHORT_CACHE_CONTROL

from .. import faults
from ..conftest import RequestLog, s3_client
from ..faults import ALWAYS, Relay
from .conftest import r2_options

PUBLIC = "https://static.example.com"

# The fault relay's fixtures, used here by name.
relay = faults.relay
relay_bucket = faults.relay_bucket


@pytest.fixture
def assets(tmp_path: Path) -> Path:
    """A STATICFILES_DIRS folder: a stylesheet that refers to an image, and a script."""
    root = tmp_path / "assets"
    (root / "img").mkdir(parents=True)
    (root / "img" / "logo.png").write_bytes(b"\x89PNG fake image")
    (root / "site.css").write_text('body { background: url("img/logo.png"); }\n')
    (root / "app.js").write_text("console.log('hi');\n")
    return root


#: A stylesheet long enough to be worth compressing.
LONG_CSS = "body { margin: 0; }\n" + "p { color: #222; }\n" * 60


@pytest.fixture
def text_assets(assets: Path) -> Path:
    """The assets, with site.css long enough to compress and a gzip file of its own."""
    (assets / "site.css").write_text(LONG_CSS)
    (assets / "data.json.gz").write_bytes(gzip.compress(b'{"a": 1}', mtime=0))
    return assets


def use_static(
    settings: Any,
    config: R2Config,
    assets: Path,
    backend: str,
    *,
    command: str = "r2store",
    **options: Any,
) -> Any:
    """STORAGES['staticfiles'] is *backend* on the test bucket with a public URL and
    *options*; returns it.

    *command* is whose collectstatic runs: r2store's (``r2store.django`` before
    ``django.contrib.staticfiles`` in INSTALLED_APPS, as the guide says) or Django's.
    """
    order = ["r2store.django", "django.contrib.staticfiles"]
    apps = [app for app in settings.INSTALLED_APPS if app not in order]
    settings.INSTALLED_APPS = [*apps, *(order if command == "r2store" else reversed(order))]
    settings.STATICFILES_DIRS = [str(assets)]
    settings.STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]
    settings.STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
        "staticfiles": {
            "BACKEND": f"r2store.django.{backend}",
            "OPTIONS": r2_options(config, public_url=PUBLIC, **options),
        },
    }
    if django.VERSION < (5, 0):
        storages._backends = dict(settings.STORAGES)  # type: ignore[attr-defined]
    return storages["staticfiles"]


def collectstatic(*args: str) -> None:
    """Run Django's collectstatic, quietly."""
    call_command("collectstatic", *args, interactive=False, verbosity=0)


def put_keys(log: RequestLog) -> list[str]:
    """The keys PUT while *log* recorded."""
    return sorted(p["Key"] for p in log.params if "Key" in p and "Body" in p)


def bucket_keys(config: R2Config) -> dict[str, dict[str, Any]]:
    """Every object in the bucket, key -> its HeadObject answer."""
    client = s3_client(config.endpoint)
    try:
        listed = client.list_objects_v2(Bucket=config.bucket).get("Contents", [])
        return {o["Key"]: client.head_object(Bucket=config.bucket, Key=o["Key"]) for o in listed}
    finally:
        client.close()


@pytest.mark.parametrize("command", ["r2store", "django"])
def test_collectstatic_uploads_under_static(
    settings: Any, config: R2Config, assets: Path, command: str
) -> None:
    """collectstatic, r2store's or Django's own, puts each file under static/ with its
    type and a short Cache-Control."""
    use_static(settings, config, assets, "R2StaticStorage", command=command)
    collectstatic()
    objects = bucket_keys(config)
    assert sorted(objects) == ["static/app.js", "static/img/logo.png", "static/site.css"]
    assert objects["static/site.css"]["ContentType"] == "text/css; charset=utf-8"
    assert objects["static/img/logo.png"]["ContentType"] == "image/png"
    assert objects["static/app.js"]["CacheControl"] == SHORT_CACHE_CONTROL


def test_rerun_uploads_nothing(settings: Any, config: R2Config, assets: Path) -> None:
    """A second collectstatic with the manifest storage writes nothing and lists once."""
    storage = use_static(settings, config, assets, "R2ManifestStaticStorage")
    collectstatic()
    storage.index.clear()  # as a new process would start
    log = RequestLog(storage.store)
    collectstatic()
    assert put_keys(log) == []
    assert "DeleteObject" not in log.operations
    assert "DeleteObjects" not in log.operations
    assert log.operations.count("ListObjectsV2") == 1
    assert "HeadObject" not in log.operations


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("backend", ["R2StaticStorage", "R2ManifestStaticStorage"])
def test_rerun_after_a_fresh_checkout_uploads_nothing(
    settings: Any, config: R2Config, text_assets: Path, backend: str, compress: bool
) -> None:
    """When every source file is newer than its object (a new checkout, a Docker build),
    collectstatic still sends no PUT and no delete for content the bucket holds, also
    compressed (the same text compresses to the same bytes)."""
    storage = use_static(settings, config, text_assets, backend, compress=compress)
    collectstatic()
    for path in text_assets.rglob("*"):
        os.utime(path, (4_000_000_000, 4_000_000_000))
    storage.index.clear()
    log = RequestLog(storage.store)
    collectstatic()
    assert put_keys(log) == []
    assert "DeleteObject" not in log.operations
    assert "DeleteObjects" not in log.operations


def test_a_delete_alone_is_sent_at_the_next_call(config: R2Config) -> None:
    """A delete not followed by a save of the same name reaches the bucket by the
    storage's next call: exists() already says the file is gone."""
    storage = R2StaticStorage(**r2_options(config, public_url=PUBLIC))
    storage.save("gone.txt", ContentFile(b"x"))
    storage.delete("gone.txt")
    assert not storage.exists("gone.txt")
    assert not R2Store(config).exists("static/gone.txt")


def test_changed_file_uploads_one_object(settings: Any, config: R2Config, assets: Path) -> None:
    """After one file changes, collectstatic uploads that one object and nothing else."""
    storage = use_static(settings, config, assets, "R2StaticStorage")
    collectstatic()
    (assets / "app.js").write_text("console.log('changed');\n")
    os.utime(assets / "app.js", (4_000_000_000, 4_000_000_000))
    storage.index.clear()
    log = RequestLog(storage.store)
    collectstatic()
    assert put_keys(log) == ["static/app.js"]
    assert R2Store(config).read("static/app.js") == b"console.log('changed');\n"


def test_hashed_names_are_immutable(settings: Any, config: R2Config, assets: Path) -> None:
    """Hashed names are cached for a year; the unhashed copies briefly."""
    storage = use_static(settings, config, assets, "R2ManifestStaticStorage")
    collectstatic()
    hashed = storage.stored_name("site.css")
    assert hashed != "site.css"
    objects = bucket_keys(config)
    assert objects[f"static/{hashed}"]["CacheControl"] == IMMUTABLE_CACHE_CONTROL
    assert objects["static/site.css"]["CacheControl"] == SHORT_CACHE_CONTROL
    assert "static/staticfiles.json" in objects


def test_template_static_resolves_to_public_url(
    settings: Any, config: R2Config, assets: Path
) -> None:
    """{% static %} gives the hashed name under the public URL."""
    storage = use_static(settings, config, assets, "R2ManifestStaticStorage")
    collectstatic()
    rendered = Template("{% load static %}{% static 'site.css' %}").render(Context())
    assert rendered == f"{PUBLIC}/static/{storage.stored_name('site.css')}"


@pytest.mark.parametrize("debug", [True, False])
def test_template_static_renders_with_debug_on_and_off(
    settings: Any, config: R2Config, assets: Path, debug: bool
) -> None:
    """{% static %} renders a URL with DEBUG on, where Django's manifest storage passes
    the template's literal (a SafeString) through unhashed, and off."""
    use_static(settings, config, assets, "R2ManifestStaticStorage")
    collectstatic()
    settings.DEBUG = debug
    rendered = Template("{% load static %}{% static 'site.css' %}").render(Context())
    assert rendered.startswith(f"{PUBLIC}/static/site.")


def test_manifest_strict_refuses_unknown_names(
    settings: Any, config: R2Config, assets: Path
) -> None:
    """With manifest_strict, a name missing from the manifest read from R2 is a ValueError."""
    use_static(settings, config, assets, "R2ManifestStaticStorage")
    collectstatic()
    fresh = R2ManifestStaticStorage(**r2_options(config, public_url=PUBLIC))
    assert fresh.url("app.js").startswith(f"{PUBLIC}/static/app.")
    with pytest.raises(ValueError, match="Missing staticfiles manifest entry"):
        fresh.url("missing.js")


def test_clear_removes_stale_files(settings: Any, config: R2Config, assets: Path) -> None:
    """collectstatic --clear removes files no longer in the source folders, in
    subfolders too, and keeps the rest."""
    storage = use_static(settings, config, assets, "R2ManifestStaticStorage")
    (assets / "img" / "icon.png").write_bytes(b"\x89PNG another")
    collectstatic()
    (assets / "app.js").unlink()
    (assets / "img" / "icon.png").unlink()
    R2Store(config).save("static/img/old/stale.css", b"left by an old deploy")
    storage.index.clear()  # as a new process would start
    collectstatic("--clear")
    objects = bucket_keys(config)
    assert not [key for key in objects if key.startswith(("static/app.", "static/img/icon"))]
    assert "static/img/old/stale.css" not in objects
    assert {"static/site.css", "static/img/logo.png"} <= set(objects)


def test_storages_from_env_static(env: dict[str, str]) -> None:
    """R2_STATIC=true with USE_R2 puts static files on R2, R2_STATIC_COMPRESS=true
    compressed; local mode keeps Django's default."""
    env = {**env, "R2_STATIC": "true", "R2_PUBLIC_URL": PUBLIC}
    on = storages_from_env(env)
    assert on["staticfiles"]["BACKEND"] == "r2store.django.R2ManifestStaticStorage"
    assert "OPTIONS" not in on["staticfiles"]
    packed = storages_from_env({**env, "R2_STATIC_COMPRESS": "true"})
    assert packed["staticfiles"]["OPTIONS"] == {"compress": True}
    local = storages_from_env({"R2_STATIC": "true"})
    assert local["staticfiles"]["BACKEND"].startswith("django.contrib.staticfiles")


def test_static_files_need_a_public_url(config: R2Config, env: dict[str, str]) -> None:
    """Without a public URL, a static storage and storages_from_env(R2_STATIC=true) are
    ImproperlyConfigured, naming the variable to set: the media proxy cannot serve them."""
    with pytest.raises(ImproperlyConfigured, match="R2_PUBLIC_DOMAIN"):
        R2StaticStorage(**r2_options(config))
    with pytest.raises(ImproperlyConfigured, match=r"R2_STATIC is on.*R2_PUBLIC_DOMAIN"):
        storages_from_env({**env, "R2_STATIC": "true"})


def test_storages_from_env_checks_r2_static_compress(env: dict[str, str]) -> None:
    """A bad R2_STATIC_COMPRESS is ImproperlyConfigured at startup, naming it."""
    env = {**env, "R2_STATIC": "true", "R2_PUBLIC_URL": PUBLIC, "R2_STATIC_COMPRESS": "maybe"}
    with pytest.raises(ImproperlyConfigured, match="R2_STATIC_COMPRESS"):
        storages_from_env(env)


def test_static_storage_defaults_to_static_location(config: R2Config) -> None:
    """The static storage writes under static/ and answers URLs without the proxy."""
    storage = R2StaticStorage(**r2_options(config, public_url=PUBLIC))
    assert storage.store.config.location == "static"
    assert storage.url("a b.css") == f"{PUBLIC}/static/a%20b.css"


def test_storages_from_env_rejects_a_bad_r2_static(env: dict[str, str]) -> None:
    """An R2_STATIC that is not a boolean is ImproperlyConfigured naming it."""
    with pytest.raises(ImproperlyConfigured, match="R2_STATIC"):
        storages_from_env({**env, "R2_STATIC": "sometimes"})


def test_storages_from_env_keeps_media_options_off_static(env: dict[str, str]) -> None:
    """The static storage gets the R2 options, not media's location or overwrite rule."""
    options = {"location": "media", "allow_overwrite": True, "public_url": PUBLIC}
    static = storages_from_env({**env, "R2_STATIC": "true"}, options=options)["staticfiles"]
    assert static["OPTIONS"] == {"public_url": PUBLIC}


def test_static_storage_pickles(config: R2Config) -> None:
    """A static storage survives pickling, its listing made again by the copy."""
    storage = R2StaticStorage(**r2_options(config, public_url=PUBLIC))
    storage.save("a.css", ContentFile(b"a {}"))
    copy = pickle.loads(pickle.dumps(storage))
    assert copy.exists("a.css")


def test_post_processing_uploads_in_parallel(settings: Any, config: R2Config, assets: Path) -> None:
    """Hashed files go up from worker threads; the manifest after all of them."""
    storage = use_static(settings, config, assets, "R2ManifestStaticStorage")
    threads: list[str] = []
    storage.store.request_hooks.append(
        lambda method, url: (
            threads.append(threading.current_thread().name) if method == "PUT" else None
        )
    )
    log = RequestLog(storage.store)
    collectstatic()
    keys = [p["Key"] for p in log.params if "Body" in p]
    assert keys[-1] == "static/staticfiles.json"
    assert any(name.startswith("r2store-static") for name in threads)


@pytest.mark.parametrize("backend", ["R2StaticStorage", "R2ManifestStaticStorage"])
def test_copy_step_uploads_in_parallel(
    settings: Any, config: R2Config, assets: Path, backend: str
) -> None:
    """With r2store's collectstatic, every file goes up from worker threads, and all
    are in the bucket when the command returns."""
    storage = use_static(settings, config, assets, backend)
    threads: list[str] = []
    storage.store.request_hooks.append(
        lambda method, url: (
            threads.append(threading.current_thread().name) if method == "PUT" else None
        )
    )
    collectstatic()
    assert {"static/app.js", "static/img/logo.png", "static/site.css"} <= set(bucket_keys(config))
    assert len(threads) >= 3
    assert all(name.startswith("r2store-static") for name in threads)


def test_djangos_own_collectstatic_uploads_from_its_thread(
    settings: Any, config: R2Config, assets: Path
) -> None:
    """Django's collectstatic (r2store.django after staticfiles) has no end to wait at,
    so the storage uploads each file before its save returns, from the calling thread."""
    storage = use_static(settings, config, assets, "R2StaticStorage", command="django")
    threads: list[str] = []
    storage.store.request_hooks.append(
        lambda method, url: (
            threads.append(threading.current_thread().name) if method == "PUT" else None
        )
    )
    collectstatic()
    assert threads == [threading.current_thread().name] * 3


@pytest.fixture
def relayed(relay: Relay, relay_bucket: str, config: R2Config) -> R2Config:
    """The test bucket's settings, through the fault relay."""
    relay.forget()
    return attrs.evolve(config, endpoint_url=relay.endpoint, bucket=relay_bucket)


def test_a_failed_upload_fails_collectstatic_and_deletes_nothing(
    settings: Any, relay: Relay, relayed: R2Config, assets: Path
) -> None:
    """When the bucket refuses one upload, collectstatic fails naming the refusal, and
    the deletes --clear put off are not sent: the live site keeps its files. The next
    run uploads what the failed one did not."""
    use_static(settings, relayed, assets, "R2ManifestStaticStorage")
    collectstatic()
    (assets / "app.js").write_text("console.log('changed');\n")
    os.utime(assets / "app.js", (4_000_000_000, 4_000_000_000))
    relay.fail(403, "AccessDenied", method="PUT", path="/static/app.", times=ALWAYS)
    with pytest.raises(PermissionError, match="AccessDenied"):
        collectstatic("--clear")
    assert relay.count("DELETE") == 0
    assert relay.count("POST", "?delete") == 0
    objects = bucket_keys(relayed)
    assert "static/staticfiles.json" in objects
    assert "static/app.js" in objects
    relay.clear()
    collectstatic()  # the same storage, in the same process, once the bucket takes it
    assert R2Store(relayed).read("static/app.js") == b"console.log('changed');\n"


@pytest.mark.parametrize("command", ["r2store", "django"])
def test_check_says_which_collectstatic_runs(
    settings: Any, config: R2Config, assets: Path, command: str
) -> None:
    """r2store.W006 says when Django's collectstatic would upload one file at a time,
    and is quiet when r2store's runs."""
    use_static(settings, config, assets, "R2ManifestStaticStorage", command=command)
    ids = [message.id for message in check_r2store_static()]
    assert ids == (["r2store.W006"] if command == "django" else [])


def test_compress_stores_text_gzipped(settings: Any, config: R2Config, text_assets: Path) -> None:
    """With compress on, text is stored gzip-compressed with Content-Encoding: gzip and
    its own type; images, files too small to gain, and .gz files are stored as they are."""
    storage = use_static(settings, config, text_assets, "R2ManifestStaticStorage", compress=True)
    collectstatic()
    objects = bucket_keys(config)
    store = R2Store(config)
    for key in ("static/site.css", f"static/{storage.stored_name('site.css')}"):
        assert objects[key]["ContentEncoding"] == "gzip"
        assert objects[key]["ContentType"] == "text/css; charset=utf-8"
    assert gzip.decompress(store.read("static/site.css")) == LONG_CSS.encode()
    hashed = storage.stored_name("site.css")
    assert objects[f"static/{hashed}"]["CacheControl"] == IMMUTABLE_CACHE_CONTROL
    for key in ("static/img/logo.png", "static/app.js", "static/data.json.gz"):
        assert "ContentEncoding" not in objects[key]
    assert objects["static/data.json.gz"]["ContentType"] == "application/gzip"
    assert gzip.decompress(store.read("static/data.json.gz")) == b'{"a": 1}'


def test_compressed_files_read_back_as_their_own_bytes(
    settings: Any, config: R2Config, text_assets: Path
) -> None:
    """With compress on, the storage reads a file back uncompressed: a new process loads
    the (compressed) manifest and resolves hashed names, and open() gives the text."""
    use_static(settings, config, text_assets, "R2ManifestStaticStorage", compress=True)
    collectstatic()
    fresh = R2ManifestStaticStorage(**r2_options(config, public_url=PUBLIC, compress=True))
    assert fresh.url("site.css").startswith(f"{PUBLIC}/static/site.")
    with fresh.open("site.css") as file:
        assert file.read() == LONG_CSS.encode()


def test_compress_is_read_from_the_environment(
    config: R2Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """R2_STATIC_COMPRESS turns compression on; a value that is not a boolean is
    ImproperlyConfigured naming it."""
    monkeypatch.setenv("R2_STATIC_COMPRESS", "true")
    assert R2StaticStorage(**r2_options(config, public_url=PUBLIC)).compress is True
    monkeypatch.setenv("R2_STATIC_COMPRESS", "sometimes")
    with pytest.raises(ImproperlyConfigured, match="R2_STATIC_COMPRESS"):
        R2StaticStorage(**r2_options(config, public_url=PUBLIC))
    with pytest.raises(ImproperlyConfigured, match="compress"):
        R2StaticStorage(**r2_options(config, public_url=PUBLIC, compress="yes"))


def test_check_reports_invalid_static_settings(
    settings: Any, config: R2Config, assets: Path
) -> None:
    """r2store.E003 reports a static storage that cannot start (here: no public URL)."""
    use_static(settings, config, assets, "R2ManifestStaticStorage")
    settings.STORAGES["staticfiles"]["OPTIONS"].pop("public_url")
    settings.STORAGES = dict(settings.STORAGES)  # so that Django makes the storages again
    if django.VERSION < (5, 0):
        storages._backends = dict(settings.STORAGES)  # type: ignore[attr-defined]
    [error] = check_r2store_static()
    assert error.id == "r2store.E003"
    assert "R2_PUBLIC_DOMAIN" in error.msg


def test_a_change_that_keeps_size_and_time_is_uploaded(
    settings: Any, config: R2Config, assets: Path
) -> None:
    """r2store's collectstatic compares content, not modification times: a file
    changed without a new size or time (a build with pinned times) still goes up."""
    use_static(settings, config, assets, "R2StaticStorage")
    for path in assets.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    collectstatic()
    (assets / "app.js").write_text("console.log('HI');\n")  # the same length
    os.utime(assets / "app.js", (1_000_000_000, 1_000_000_000))
    collectstatic()
    assert R2Store(config).read("static/app.js") == b"console.log('HI');\n"


def test_summary_counts_what_was_sent(settings: Any, config: R2Config, assets: Path) -> None:
    """After a fresh checkout (every file newer), the summary says nothing was copied:
    files whose bytes the bucket holds count as unmodified."""
    storage = use_static(settings, config, assets, "R2StaticStorage")
    collectstatic()
    for path in assets.rglob("*"):
        os.utime(path, (4_000_000_000, 4_000_000_000))
    storage.index.clear()
    out = io.StringIO()
    call_command("collectstatic", interactive=False, verbosity=1, stdout=out)
    assert "0 static files copied" in out.getvalue()
    assert "3 unmodified" in out.getvalue()


def test_dry_run_says_what_would_go_up_and_sends_nothing(
    settings: Any, config: R2Config, assets: Path
) -> None:
    """collectstatic --dry-run names the changed file and sends no PUT."""
    storage = use_static(settings, config, assets, "R2StaticStorage")
    collectstatic()
    (assets / "app.js").write_text("console.log('changed');\n")
    storage.index.clear()
    log = RequestLog(storage.store)
    out = io.StringIO()
    call_command("collectstatic", "--dry-run", interactive=False, verbosity=1, stdout=out)
    assert put_keys(log) == []
    assert "Pretending to copy" in out.getvalue()
    assert "app.js" in out.getvalue()
    assert "1 static file copied" in out.getvalue()


def test_clear_writes_changed_headers(settings: Any, config: R2Config, assets: Path) -> None:
    """A changed cache_control reaches objects whose bytes did not change only with
    --clear, which sends every file again."""
    use_static(settings, config, assets, "R2StaticStorage")
    collectstatic()
    use_static(settings, config, assets, "R2StaticStorage", cache_control="public, max-age=60")
    collectstatic()
    assert bucket_keys(config)["static/app.js"]["CacheControl"] == SHORT_CACHE_CONTROL
    collectstatic("--clear")
    assert bucket_keys(config)["static/app.js"]["CacheControl"] == "public, max-age=60"


def test_post_processing_reads_back_a_file_still_going_up(
    settings: Any, relay: Relay, relayed: R2Config, assets: Path
) -> None:
    """A stylesheet deeper than the image it names makes Django read the image back
    from the storage while post-processing; that read waits for the image's upload
    (held up here for a moment). Had it found nothing, Django would keep the image's
    plain name for a pass and upload a second, intermediate copy of the stylesheet."""
    (assets / "css" / "deep").mkdir(parents=True)
    (assets / "css" / "deep" / "a.css").write_text('p { background: url("../../top.png"); }\n')
    (assets / "top.png").write_bytes(b"\x89PNG top")
    storage = use_static(settings, relayed, assets, "R2ManifestStaticStorage")
    relay.stall(0.3, method="PUT", path="/static/top.png", times=1)
    collectstatic()
    hashed = storage.stored_name("css/deep/a.css")
    assert b"top.png" not in R2Store(relayed).read(f"static/{hashed}")
    hashed_puts = {
        seen.target
        for seen in relay.seen
        if seen.method == "PUT" and "/deep/a." in seen.target and "/deep/a.css" not in seen.target
    }
    assert len(hashed_puts) == 1  # one hashed copy, final from the first pass


def media_and_static_at_root(settings: Any, config: R2Config, assets: Path, tmp_path: Path) -> None:
    """Media at the bucket's root (no R2_LOCATION) and static files under static/ in
    the same bucket, with r2store.django installed."""
    use_static(settings, config, assets, "R2StaticStorage")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "r2store.django.R2Storage", "OPTIONS": r2_options(config)},
    }
    if django.VERSION < (5, 0):
        storages._backends = dict(settings.STORAGES)  # type: ignore[attr-defined]
    settings.MEDIA_ROOT = str(tmp_path / "media")
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "photo.jpg").write_bytes(b"a photo")


def test_media_sync_delete_keeps_static_files(
    settings: Any, config: R2Config, assets: Path, tmp_path: Path
) -> None:
    """r2store_sync --delete of media kept at the bucket's root deletes media the folder
    lacks, and none of the static files beside it."""
    media_and_static_at_root(settings, config, assets, tmp_path)
    collectstatic()
    R2Store(config).save("stale.jpg", b"gone from the folder")
    out = io.StringIO()
    call_command("r2store_sync", "--delete", stdout=out)
    assert "Keeping static files" in out.getvalue()
    objects = bucket_keys(config)
    assert "stale.jpg" not in objects
    assert {"photo.jpg", "static/app.js", "static/img/logo.png"} <= set(objects)


def test_check_warns_when_static_files_share_the_media_namespace(
    settings: Any, config: R2Config, assets: Path, tmp_path: Path
) -> None:
    """r2store.W007 warns when static files lie inside the media's part of the bucket,
    and is quiet when media has a location of its own."""
    media_and_static_at_root(settings, config, assets, tmp_path)
    assert [m.id for m in check_r2store_static()] == ["r2store.W007"]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "r2store.django.R2Storage",
            "OPTIONS": r2_options(config, location="media"),
        },
    }
    if django.VERSION < (5, 0):
        storages._backends = dict(settings.STORAGES)  # type: ignore[attr-defined]
    assert check_r2store_static() == []
