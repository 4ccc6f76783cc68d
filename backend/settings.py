"""Django settings for the writeup backend.

This is the only module of the backend that reads the environment. Defaults
work on a laptop (SQLite in var/, Redis on localhost, DEBUG on); production
sets DJANGO_DEBUG=0 and DJANGO_SECRET_KEY and passes `manage.py check --deploy`.
"""
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=True)

_DEV_SECRET = "dev-only-insecure-key-do-not-use-in-production-0123456789abcdefghij"
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=_DEV_SECRET if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG=0")

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
# The Vite dev server (port 5173) proxies /api and /ws here during frontend work.
CSRF_TRUSTED_ORIGINS = env.list(
    "DJANGO_CSRF_TRUSTED_ORIGINS",
    default=["http://localhost:5173", "http://127.0.0.1:5173"] if DEBUG else [],
)
# Origins a compose socket may come from: the app's own hosts plus the trusted
# origins above. Anything else is refused at the handshake.
WS_ALLOWED_ORIGINS = env.list("DJANGO_WS_ALLOWED_ORIGINS", default=ALLOWED_HOSTS + CSRF_TRUSTED_ORIGINS)

INSTALLED_APPS = [
    # daphne first: its runserver replaces Django's, so `manage.py runserver` speaks ASGI.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "channels",
    "backend.accounts",
    "backend.catalog",
    "backend.documents",
    "backend.gallery",
    "backend.compose",
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

ROOT_URLCONF = "backend.urls"
ASGI_APPLICATION = "backend.asgi.application"
WSGI_APPLICATION = "backend.wsgi.application"

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

# --- data -------------------------------------------------------------------

DATABASE_URL = env.str("DATABASE_URL", default="sqlite:///var/db.sqlite3")
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
if DATABASES["default"]["ENGINE"].endswith("sqlite3") and DATABASES["default"]["NAME"] != ":memory:":
    # Relative SQLite paths are relative to the repository, not to the cwd.
    _sqlite = Path(DATABASES["default"]["NAME"])
    if not _sqlite.is_absolute():
        _sqlite = BASE_DIR / _sqlite
    _sqlite.parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["NAME"] = str(_sqlite)
    # Autosaves from several tabs write at once: take the write lock when the
    # transaction starts and wait for it, instead of failing with "locked";
    # WAL lets readers carry on while one writer saves.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")

# Pub/sub layer: document-sync notices are ephemeral, and redis-py re-subscribes
# by itself after a Redis restart, so open sockets recover without a reconnect.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL]},
    }
}

_cache_url = env.str("DJANGO_CACHE_URL", default="")
if _cache_url:
    CACHES = {"default": env.cache_url_config(_cache_url)}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "writeup",
            # A dead Redis must cost a request milliseconds, not the OS connect timeout.
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1.0},
        }
    }

# Sessions live in the database: an anonymous writer's drafts hang off the session key.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = env.int("DJANGO_SESSION_COOKIE_AGE", default=365 * 24 * 3600)
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- e-mail (password resets) ------------------------------------------------

# console: printed in the backend's log (the laptop default); file: one file
# per message in DJANGO_EMAIL_FILE_PATH; smtp: a real mail server.
_EMAIL_BACKENDS = {
    "console": "django.core.mail.backends.console.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
}
_email = env.str("DJANGO_EMAIL_BACKEND", default="console")
if _email not in _EMAIL_BACKENDS:
    raise ImproperlyConfigured(f"DJANGO_EMAIL_BACKEND must be one of {', '.join(_EMAIL_BACKENDS)}, not {_email!r}")
EMAIL_BACKEND = _EMAIL_BACKENDS[_email]
EMAIL_FILE_PATH = Path(env.str("DJANGO_EMAIL_FILE_PATH", default=str(VAR_DIR / "mail")))
if not EMAIL_FILE_PATH.is_absolute():
    EMAIL_FILE_PATH = BASE_DIR / EMAIL_FILE_PATH
EMAIL_HOST = env.str("DJANGO_EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("DJANGO_EMAIL_PORT", default=587)
EMAIL_HOST_USER = env.str("DJANGO_EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("DJANGO_EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("DJANGO_EMAIL_USE_TLS", default=EMAIL_PORT == 587)
EMAIL_USE_SSL = env.bool("DJANGO_EMAIL_USE_SSL", default=EMAIL_PORT == 465)
EMAIL_TIMEOUT = env.int("DJANGO_EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DJANGO_DEFAULT_FROM_EMAIL", default="writeup <noreply@localhost>")
# How long a reset link works.
PASSWORD_RESET_TIMEOUT = env.int("DJANGO_PASSWORD_RESET_TIMEOUT", default=24 * 3600)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- static files and the built frontend ------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Serve app static files (admin, API docs) straight from their packages, so a
# deployment needs no collectstatic step.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
FRONTEND_DIST = env.path("WRITEUP_FRONTEND_DIST", default=BASE_DIR / "frontend" / "dist")
# WhiteNoise serves the Vite build at the site root; the SPA fallback view
# answers every other non-API path with its index.html.
# In DEBUG WhiteNoise looks the files up per request, so a later `npm run build` shows up.
WHITENOISE_ROOT = FRONTEND_DIST if DEBUG or Path(FRONTEND_DIST).is_dir() else None
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- security (production) --------------------------------------------------

# Behind a TLS-terminating proxy set DJANGO_HTTPS=1 (the default when DEBUG is
# off) and keep X-Forwarded-Proto trustworthy; plain-http one-machine setups
# with DEBUG off set DJANGO_HTTPS=0.
HTTPS = env.bool("DJANGO_HTTPS", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = HTTPS
SECURE_REDIRECT_EXEMPT = [r"^api/health/$"]  # load balancer health checks speak plain http
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- REST API ---------------------------------------------------------------

WRITE_THROTTLE_RATE = env.str("WRITEUP_WRITE_THROTTLE", default="240/min")
# Sign-in, sign-up, password reset and account deletion, per client address:
# enough for a person who mistypes, far too few for guessing passwords.
AUTH_THROTTLE_RATE = env.str("WRITEUP_AUTH_THROTTLE", default="20/min")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["backend.accounts.authentication.CsrfSessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "backend.errors.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {"writes": WRITE_THROTTLE_RATE, "auth": AUTH_THROTTLE_RATE},
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "writeup API",
    "DESCRIPTION": "Models, drafts and shared pieces of the writeup writing app. "
    "The compose WebSocket (/ws/compose/) is described in docs/protocol.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # A draft's visibility has three values, a published piece's two: name both.
    "ENUM_NAME_OVERRIDES": {
        "VisibilityEnum": "backend.documents.models.Visibility",
        "PublishedVisibilityEnum": "backend.documents.models.PUBLISHED_VISIBILITIES",
    },
}

# --- writeup: models, relay limits, documents --------------------------------

WRITEUP_REGISTRY = env.path("WRITEUP_REGISTRY", default=BASE_DIR / "config" / "models.yaml")
if not Path(WRITEUP_REGISTRY).is_absolute():
    WRITEUP_REGISTRY = BASE_DIR / WRITEUP_REGISTRY
# Base URL of the load balancer; empty = connect straight to the registry's instances.
WRITEUP_UPSTREAM = env.str("WRITEUP_UPSTREAM", default="").rstrip("/")
# HAProxy's stats page (e.g. http://127.0.0.1:8404/stats): when set, the models
# list reads each route's state from the load balancer's own health checks.
WRITEUP_LB_STATS_URL = env.str("WRITEUP_LB_STATS_URL", default="")
# How long /api/models/ trusts a health check.
WRITEUP_MODELS_CACHE_SECONDS = env.float("WRITEUP_MODELS_CACHE_SECONDS", default=5.0)
WRITEUP_HEALTH_TIMEOUT = env.float("WRITEUP_HEALTH_TIMEOUT", default=1.0)

# Per compose socket. A writer's editor sends a generate per pause in typing
# and a cancel when typing resumes, a few messages a second at most.
COMPOSE_MESSAGES_PER_SECOND = env.float("WRITEUP_WS_MESSAGES_PER_SECOND", default=20.0)
COMPOSE_BURST = env.int("WRITEUP_WS_BURST", default=40)
COMPOSE_MAX_CONCURRENT = env.int("WRITEUP_WS_MAX_CONCURRENT", default=8)
# A full-length prompt (40,000 characters, up to 4 bytes each) must fit.
COMPOSE_MAX_MESSAGE_BYTES = env.int("WRITEUP_WS_MAX_MESSAGE_BYTES", default=256 * 1024)
COMPOSE_MAX_WATCHED = env.int("WRITEUP_WS_MAX_WATCHED", default=16)
COMPOSE_UPSTREAM_CONNECT_TIMEOUT = env.float("WRITEUP_UPSTREAM_CONNECT_TIMEOUT", default=3.0)
# Silence from upstream on a request for this long ends it with `timeout`;
# a cold prefill of a long draft on CPU takes several seconds, so be generous.
COMPOSE_UPSTREAM_IDLE_TIMEOUT = env.float("WRITEUP_UPSTREAM_IDLE_TIMEOUT", default=30.0)

DOCUMENT_MAX_BODY_CHARS = env.int("WRITEUP_DOCUMENT_MAX_CHARS", default=1_000_000)
# Browsers POST the whole draft on autosave; leave room for it in JSON.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(2_621_440, DOCUMENT_MAX_BODY_CHARS * 6 + 65536)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
}
