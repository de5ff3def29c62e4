"""Settings for the CRM example: uploads go to R2 when USE_R2 is true, to MEDIA_ROOT otherwise.

Everything secret or machine-specific comes from the environment (or a .env
file, for the R2_* variables); the defaults are for a local try-out only.
"""

from __future__ import annotations

import os
from pathlib import Path

from r2store import R2Config, r2_enabled
from r2store.config import parse_bool
from r2store.django import storages_from_env

BASE_DIR = Path(__file__).resolve().parent.parent
# The SQLite database and (without R2) the uploads live here.
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
    "django.contrib.staticfiles",
    # System checks that catch an unrouted media proxy or a wrong MEDIA_URL.
    "r2store.django",
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
# rather than quietly saving uploads to a disk the next deploy wipes).
STORAGES = storages_from_env()
USE_R2 = r2_enabled()
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "/media/"
if USE_R2:
    _r2 = R2Config.from_env()
    if _r2.media_proxy:
        # Photo URLs point at the app, which streams them from the bucket.
        MEDIA_URL = _r2.proxy_path
