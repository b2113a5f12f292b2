"""Console settings, read from environment variables and checked at start-up.

Every variable has a default that suits `make up` on one host; a value that
cannot be parsed stops the process with a message naming the variable (see
console/lib/env.py). Runtime files — the SQLite database, the generated secret
key, the first admin password, collected static files, Redis's socket — live in
BERTH_VAR_DIR (default: var/ in the repository, git-ignored).

Variables: SECRET_KEY, DEBUG, ALLOWED_HOSTS, CSRF_TRUSTED_ORIGINS, DATABASE_URL,
REDIS_URL, BERTH_ENGINE_HOST, BERTH_VAR_DIR, LOG_LEVEL.
Multi-user (console/accounts): BERTH_SESSION_HOURS (session lifetime, default 12), BERTH_HTTPS=1 (secure
cookies, HSTS, X-Forwarded-Proto trusted), BERTH_SSL_REDIRECT=1 (with BERTH_HTTPS: redirect http to https).
Observability (console/observe): BERTH_LOG_FORMAT (text | json), BERTH_METRICS_TOKEN,
BERTH_DRIFT_INTERVAL, and BERTH_OTEL=1 or OTEL_EXPORTER_OTLP_ENDPOINT for traces.
E-mail for notifications: EMAIL_BACKEND, EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD,
EMAIL_USE_TLS / EMAIL_USE_SSL, EMAIL_TIMEOUT, DEFAULT_FROM_EMAIL (console/notifications/config.py).
Volume exports: BERTH_EXPORT_RETENTION_HOURS (default 24).
"""

from __future__ import annotations

import secrets
from pathlib import Path

from console.lib.env import (
    env_bool,
    env_list,
    env_parsed,
    parse_absolute_path,
    parse_log_level,
    parse_secret_key,
)
from console.lib.files import read_or_create_secret
from console.observe.config import parse_drift_interval, parse_log_format, parse_metrics_token
from console.observe.logs import logging_config
from console.lib.urls import (
    celery_broker_url,
    check_engine_url,
    check_redis_url,
    parse_database_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = env_parsed("BERTH_VAR_DIR", str(BASE_DIR / "var"), parse_absolute_path)

# Unset: generated once into var/secret-key (0600) and reused, so sessions survive restarts.
SECRET_KEY = env_parsed("SECRET_KEY", "", parse_secret_key) or read_or_create_secret(
    VAR_DIR / "secret-key", lambda: secrets.token_urlsafe(50)
)
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

DATABASES = {
    "default": env_parsed("DATABASE_URL", f"sqlite:///{VAR_DIR}/console.sqlite3", lambda v: parse_database_url(v, BASE_DIR)),
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis is the Celery broker and the Channels layer. `make up` runs one on a
# unix socket in var/ and nothing listens on TCP.
REDIS_URL = env_parsed("REDIS_URL", f"unix://{VAR_DIR}/redis.sock", check_redis_url)

# The local Berth engine, registered as the endpoint "local" after every migrate.
BERTH_ENGINE_HOST = env_parsed("BERTH_ENGINE_HOST", "unix:///run/berth/engine.sock", check_engine_url)

# `manage.py ensure_admin` writes the first admin's password here (mode 0600).
ADMIN_PASSWORD_FILE = VAR_DIR / "admin-password"

INSTALLED_APPS = [
    "daphne",  # first, so `manage.py runserver` serves ASGI (websockets too)
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
    "console.accounts",
    "console.audit",
    "console.endpoints",
    "console.containers",
    "console.metrics",
    "console.api",
    # Background jobs, images and registry credentials (issue 9)
    "console.jobs",
    "console.images",
    "console.registries",
    # Networks, volumes, the events page and notifications (issue 9)
    "console.networks",
    "console.volumes",
    "console.events",
    "console.notifications",
    # Probes, /metrics, traces, request ids in logs, snowflake marks (issue 12)
    "console.observe",
    # Compose stacks and app templates (issue 10)
    "console.stacks",
]

MIDDLEWARE = [
    "console.observe.middleware.RequestObserver",  # first: request id, span and metrics around everything
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "console.accounts.middleware.TwoFactorEnforcement",  # users an administrator requires 2FA of set it up first
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "console.urls"
ASGI_APPLICATION = "console.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "console.endpoints.context.endpoints",
                "console.accounts.context.access",  # `may.container_remove`, `is_berth_admin`
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Channels: websocket consumers talk through Redis (the same server as Celery's broker).
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": None}]},  # channels_redis blocks 5 s on reads; redis-py 8 would time out at 5 s
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "console.accounts.tokens.ApiTokenAuthentication",  # hashed, expiring, revocable (multi-user issue)
    ],
    "DEFAULT_PERMISSION_CLASSES": ["console.accounts.access.PolicyPermission"],  # a view's required_action; none: admins only
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "console.api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Berth console API",
    "DESCRIPTION": "Everything the console's pages do: endpoints, containers, images, networks, volumes.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
}

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]

CELERY_BROKER_URL = celery_broker_url(REDIS_URL)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Jobs (console/jobs): job tasks are acks_late; a worker reserves one message per process at a time,
# so a worker that dies holds back as few queued jobs as possible (a starting worker re-sends those).
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

# Logs (console/observe/logs.py): stderr, which `make up` sends to var/log/; one JSON object a line with
# BERTH_LOG_FORMAT=json. Each line carries the request id of the request (or Celery task) it belongs to.
BERTH_LOG_FORMAT = env_parsed("BERTH_LOG_FORMAT", "text", parse_log_format)
LOGGING = logging_config(BERTH_LOG_FORMAT, env_parsed("LOG_LEVEL", "INFO", parse_log_level))

# GET /metrics: administrators, or a Prometheus scraper sending "Authorization: Bearer <this>" (unset: admins only).
BERTH_METRICS_TOKEN = env_parsed("BERTH_METRICS_TOKEN", "", parse_metrics_token)
# Seconds between two countings of the running containers' filesystem changes (the list's snowflake marks).
BERTH_DRIFT_INTERVAL = env_parsed("BERTH_DRIFT_INTERVAL", "30", parse_drift_interval)

# Multi-user (console/accounts): session expiry, login throttling, HTTPS hardening.
# BERTH_SESSION_HOURS: a session ends this long after sign-in (default 12). BERTH_HTTPS=1 when the console is
# served over HTTPS (directly or behind a proxy that sets X-Forwarded-Proto): secure cookies and HSTS.
from console.accounts.config import parse_session_hours  # noqa: E402

SESSION_COOKIE_AGE = env_parsed("BERTH_SESSION_HOURS", "12", parse_session_hours) * 3600
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
BERTH_HTTPS = env_bool("BERTH_HTTPS", False)
if BERTH_HTTPS:
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("BERTH_SSL_REDIRECT", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Notifications by e-mail (console/notifications/config.py says what each variable takes; unset, Django's SMTP
# backend sends to localhost:25). EMAIL_HOST_PASSWORD is never logged.
from console.notifications.config import email_settings  # noqa: E402

_email = email_settings()
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email["EMAIL_HOST"]
EMAIL_PORT = _email["EMAIL_PORT"]
EMAIL_HOST_USER = _email["EMAIL_HOST_USER"]
EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"]
EMAIL_USE_TLS = _email["EMAIL_USE_TLS"]
EMAIL_USE_SSL = _email["EMAIL_USE_SSL"]
EMAIL_TIMEOUT = _email["EMAIL_TIMEOUT"]
DEFAULT_FROM_EMAIL = SERVER_EMAIL = _email["DEFAULT_FROM_EMAIL"]

# Volume exports (console/volumes/exports.py): hours a finished export's tar is kept for its requester.
from console.volumes.config import parse_retention_hours  # noqa: E402

BERTH_EXPORT_RETENTION_HOURS = env_parsed("BERTH_EXPORT_RETENTION_HOURS", "24", parse_retention_hours)
