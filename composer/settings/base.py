"""Settings read from the environment in one place, with safe defaults for the embedded mode.

Embedded default: SQLite and logs under ``var/``; Redis from ``REDIS_URL`` (``composer up``
starts a bundled one and sets it when unset). ``DEBUG`` is off unless the environment turns it on
(``make run``, the test settings and the browser tests' server do); with it off the default secret
is refused.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("COMPOSER_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEFAULT_SECRET_KEY = "composer-insecure-development-key-change-me"
SECRET_KEY = os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY)
DEBUG = env_bool("DEBUG", False)
if not DEBUG and SECRET_KEY == DEFAULT_SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (production refuses the default secret); "
                               "for development set DEBUG=true, as `make run` does")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "http://localhost:8000,http://127.0.0.1:8000")

# --- HTTPS (``manage.py check --deploy``) -----------------------------------------------------
# COMPOSER_HTTPS=true says the site is served over HTTPS only (TLS at daphne or at a proxy): it
# turns on the redirect, secure cookies and HSTS; each has its own variable to override it.
HTTPS = env_bool("COMPOSER_HTTPS", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # health checks probe plain HTTP from inside the host
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", HTTPS)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if HTTPS else 0))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", HTTPS)
# Behind a proxy that terminates TLS, the proxy's X-Forwarded-Proto says whether the request was
# HTTPS; trust it only when that proxy sets it (and strips a client's own).
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "composer.core",
    "composer.accounts",
    "composer.graphs",
    "composer.runs",
    "composer.cards",
    "composer.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "composer.urls"
ASGI_APPLICATION = "composer.asgi.application"

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

# --- database -------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'composer.sqlite3'}"),
        conn_max_age=0,
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Several processes (web, worker) write to one file: wait for the lock instead of failing.
    # IMMEDIATE: a transaction that reads then writes (claiming a run, counting then creating)
    # takes the write lock at BEGIN; with SQLite's default DEFERRED the upgrade fails at once
    # with "database is locked" whenever another process writes, ignoring the timeout.
    DATABASES["default"].setdefault("OPTIONS", {}).update(timeout=30, transaction_mode="IMMEDIATE")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- redis, celery, channels -----------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
# The Celery app (composer.celery_app) reads every CELERY_* setting here and nowhere else.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "gpu"
# One task per worker at a time: with concurrency 1, prefetch 1 and late acks, the run being
# trained is the worker's only unacknowledged message, so an idle worker never waits behind a busy
# one that reserved the next message.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Keep retrying a lost broker forever: a Redis restart must not end the worker.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# A pool child warms torch before it reports up; on a loaded machine that takes far longer than
# Celery's 4 s default, and the child would be killed and restarted over and over.
CELERY_WORKER_PROC_ALIVE_TIMEOUT = 120

# Shared by every process: throttle counters and rendered diagrams.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "composer-cache",
        "TIMEOUT": 3600,
        # Fail fast when Redis is down or unreachable: the API answers 503 naming it.
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 5},
    }
}

CHANNEL_LAYERS = {
    "default": {
        # Pub/sub pushes each message to subscribed servers: p99 13 ms vs 2.5 s for the list-based
        # core layer (one Redis round trip per delivered message) at 1000 msg/s (bench/stream_fanout.py).
        # It keeps nothing for absent subscribers, which is fine: the database is the record and
        # the runs consumer fills any seq gap from it. COMPOSER_CHANNEL_LAYER selects another backend.
        "BACKEND": os.environ.get("COMPOSER_CHANNEL_LAYER", "channels_redis.pubsub.RedisPubSubChannelLayer"),
        # redis-py 8 reads with a 5 s socket timeout by default, the same as channels-redis's
        # 5 s blocking pop: an idle websocket consumer then dies with TimeoutError. Read longer.
        "CONFIG": {
            "hosts": [{"address": REDIS_URL, "socket_timeout": 30, "socket_connect_timeout": 5}],
            "capacity": 5000,
            "expiry": 60,
        },
    }
}

# --- compute ---------------------------------------------------------------------------
COMPOSER_DEVICE = os.environ.get("COMPOSER_DEVICE", "auto")  # auto | cpu | cuda
COMPOSER_RUNS_DIR = Path(os.environ.get("COMPOSER_RUNS_DIR", VAR_DIR / "runs"))
# Runs (composer.runs.services): a training run beats every HEARTBEAT seconds; each worker's
# housekeeping thread, every SWEEP_INTERVAL, fails a run silent for STALE_AFTER ("worker lost") and
# sends the queue a message again for runs queued longer than REQUEUE_GRACE whose message the
# broker lost. COMPOSER_RUN_LIMITS (JSON) overrides composer.runs.limits.RunLimits fields.
COMPOSER_RUN_HEARTBEAT_SECONDS = float(os.environ.get("COMPOSER_RUN_HEARTBEAT_SECONDS", 5))
COMPOSER_RUN_STALE_AFTER_SECONDS = float(os.environ.get("COMPOSER_RUN_STALE_AFTER_SECONDS", 30))
COMPOSER_RUN_SWEEP_INTERVAL_SECONDS = float(os.environ.get("COMPOSER_RUN_SWEEP_INTERVAL_SECONDS", 10))
COMPOSER_RUN_REQUEUE_GRACE_SECONDS = float(os.environ.get("COMPOSER_RUN_REQUEUE_GRACE_SECONDS", 30))
COMPOSER_RUN_LIMITS = json.loads(os.environ.get("COMPOSER_RUN_LIMITS") or "{}")

# --- auth, api -------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
]
# Failed logins per account (composer.accounts.throttling): this many are free, then each locks the
# account's logins for a window that doubles from the base up to the max; failures are forgotten
# after the memory (and on a successful login).
COMPOSER_LOGIN_FREE_ATTEMPTS = int(os.environ.get("COMPOSER_LOGIN_FREE_ATTEMPTS", 5))
COMPOSER_LOGIN_LOCKOUT_BASE_SECONDS = float(os.environ.get("COMPOSER_LOGIN_LOCKOUT_BASE_SECONDS", 1))
COMPOSER_LOGIN_LOCKOUT_MAX_SECONDS = float(os.environ.get("COMPOSER_LOGIN_LOCKOUT_MAX_SECONDS", 900))
COMPOSER_LOGIN_FAILURE_MEMORY_SECONDS = int(os.environ.get("COMPOSER_LOGIN_FAILURE_MEMORY_SECONDS", 24 * 3600))
LOGIN_URL = "/login"
CSRF_FAILURE_VIEW = "composer.core.errors.csrf_failure"  # JSON for the API

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "composer.core.errors.exception_handler",
    # Our JSON parser answers absurdly nested bodies with a 400 instead of a RecursionError.
    "DEFAULT_PARSER_CLASSES": [
        "composer.core.parsers.JsonParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_THROTTLE_RATES": {"writes": "120/min", "signup": os.environ.get("COMPOSER_SIGNUP_RATE", "10/hour"),
                               "runs": "30/min", "validate": "120/min"},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Composer API",
    "DESCRIPTION": "Design sequence-model architectures, validate them, train them and compare runs.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI assets ship in a wheel: no CDN, the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Two models have a status field: each choice set gets its own name in the schema.
    "ENUM_NAME_OVERRIDES": {"RunStatusEnum": "composer.runs.models.RunStatus",
                            "ReportCardStatusEnum": "composer.cards.models.CardStatus"},
}

# Request bodies larger than this are refused (413) before parsing: specs are small.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("COMPOSER_MAX_BODY_BYTES", 2 * 1024 * 1024))

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
FRONTEND_DIST = BASE_DIR / "frontend" / "dist"  # `npm run build` output, served by whitenoise
STATICFILES_DIRS = [FRONTEND_DIST] if FRONTEND_DIST.is_dir() else []
WHITENOISE_USE_FINDERS = True
# The build writes .gz and .br files next to each asset (the Makefile runs whitenoise.compress after
# `npm run build`); whitenoise picks the one the client accepts. Everything Vite puts under assets/
# has a content hash in its name, so browsers may keep it forever; other files (index.html) are
# revalidated.
FRONTEND_ASSETS_URL = f"{STATIC_URL}assets/"  # Vite's build.assetsDir under its base


def WHITENOISE_IMMUTABLE_FILE_TEST(path: str, url: str) -> bool:  # noqa: N802 - a setting
    return url.startswith(FRONTEND_ASSETS_URL)


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
