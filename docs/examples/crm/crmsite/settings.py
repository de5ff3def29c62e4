"""Settings for the CRM example: uploads go to R2 when USE_R2 is true, to MEDIA_ROOT otherwise
(local mode), served through the media proxy either way.

Everything secret or machine-specific comes from the environment (or a .env
file, for the R2_* variables); the defaults are for a local try-out only.
"""

from __future__ import annotations

import os
from pathlib import Path

from r2store.config import parse_bool
from r2store.django import storages_from_env

BASE_DIR = Path(__file__).resolve().parent.parent
# The SQLite database and, in local mode, the uploads (in media/) live here.
DATA_DIR = Path(os.environ.get("CRM_DATA_DIR") or BASE_DIR)
DATA_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "crm-example-dev-only-not-secret")
DEBUG = parse_bool(os.environ.get("DJANGO_DEBUG", "true"))
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # System checks that catch an unrouted media proxy or a wrong MEDIA_URL; before
    # staticfiles, so that its collectstatic (parallel uploads) is the one that runs.
    "r2store.django",
    "django.contrib.staticfiles",
    "contacts",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "crmsite.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
WSGI_APPLICATION = "crmsite.wsgi.application"
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": DATA_DIR / "db.sqlite3"},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"

# R2 when USE_R2 is true (a bad R2 setting stops startup with ImproperlyConfigured,
# rather than quietly saving uploads to a disk the next deploy wipes); otherwise local
# mode, a folder: MEDIA_ROOT. Either way photo URLs point at the app's media proxy.
# Local mode's direct uploads (the attachment) PUT to the media proxy on URLs it signs,
# so local mode gets a development signing key unless R2_PROXY_SIGNING_KEY is set. With
# it, photo URLs are signed too.
_LOCAL_SIGNING = (
    {}
    if os.environ.get("USE_R2", "").strip().lower() not in ("", "false", "0", "no", "off")
    or os.environ.get("R2_PROXY_SIGNING_KEY")
    else {"proxy_signing_key": "crm-example-dev-only-signing-key-not-secret"}
)
STORAGES = storages_from_env(options=_LOCAL_SIGNING or None)
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "/media-proxy/"
# Set by run.py: "memory-s3" when the bucket is its in-memory S3 endpoint (--s3).
CRM_STORAGE = os.environ.get("CRM_STORAGE", "")
