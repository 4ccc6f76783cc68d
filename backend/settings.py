"""Django settings for the writeup backend.

This is the only module of the backend that reads the environment. Defaults
work on a laptop (SQLite in var/, Redis on localhost, DEBUG on); production
sets DJANGO_DEBUG=0 and DJANGO_SECRET_KEY and passes `manage.py check --deploy`.
"""
import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=True)

# This key is public (it is in the repository): anything signed with it
# (sessions, reset links) can be forged, so production refuses it.
_DEV_SECRET = "dev-only-insecure-key-do-not-use-in-production-0123456789abcdefghij"
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=_DEV_SECRET if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG=0")
if not DEBUG and (SECRET_KEY == _DEV_SECRET or SECRET_KEY.startswith("dev-only") or len(SECRET_KEY) < 32):
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is the public development key (or shorter than 32 characters); with DJANGO_DEBUG=0 "
        "set a long random key of this install's own, e.g. python -c 'import secrets; print(secrets.token_urlsafe(50))'."
    )
# Passwords that ship in examples and tutorials; production must not run on them.
_DEFAULT_PASSWORDS = {"password", "postgres", "writeup", "changeme", "secret", "admin", "redis", "root", "example"}


def _refuse_default_password(name: str, password: str | None) -> None:
    if not DEBUG and password and password.lower() in _DEFAULT_PASSWORDS:
        raise ImproperlyConfigured(f"{name} uses the default password {password!r}; with DJANGO_DEBUG=0 set a real one.")


ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
# The Vite dev server (port 5173) proxies /api and /ws here during frontend work.
CSRF_TRUSTED_ORIGINS = env.list(
    "DJANGO_CSRF_TRUSTED_ORIGINS",
    default=["http://localhost:5173", "http://127.0.0.1:5173"] if DEBUG else [],
)


def _origin(url: str, setting: str) -> str:
    """scheme://host[:port] of a URL, refused if it is anything else."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") \
            or parts.query or parts.fragment or parts.username or parts.password:
        raise ImproperlyConfigured(f"{setting} must be an origin like https://writeup.example, not {url!r}")
    return f"{parts.scheme}://{parts.netloc.lower()}"


# The one address of this site: every absolute URL the app writes (og:url,
# canonical links, share_url, the password reset link) starts with it, never
# with the request's Host or X-Forwarded-Proto, which a client chooses.
SITE_URL = _origin(
    env.str("WRITEUP_SITE_URL", default="http://127.0.0.1:8000" if DEBUG else f"https://{ALLOWED_HOSTS[0]}"),
    "WRITEUP_SITE_URL",
)
# Origins a compose socket may come from, compared as scheme + host + port:
# the site itself, the trusted origins above, and the page's own origin
# (same scheme, host and port as the socket, for a host in ALLOWED_HOSTS).
WS_ALLOWED_ORIGINS = [
    _origin(o, "DJANGO_WS_ALLOWED_ORIGINS")
    for o in env.list("DJANGO_WS_ALLOWED_ORIGINS", default=[SITE_URL, *CSRF_TRUSTED_ORIGINS])
]

# Reverse proxies whose X-Forwarded-For is believed (addresses or networks,
# comma-separated; the one-machine stack names its HAProxy). Default none:
# then the TCP peer is the client and X-Forwarded-For is ignored, so a client
# cannot choose the address its throttles and lockouts are counted against.
try:
    TRUSTED_PROXIES = [ipaddress.ip_network(p, strict=False) for p in env.list("WRITEUP_TRUSTED_PROXIES", default=[])]
except ValueError as e:
    raise ImproperlyConfigured(f"WRITEUP_TRUSTED_PROXIES: {e}") from None

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
    "drf_spectacular_sidecar",
    "channels",
    "axes",
    "django_prometheus",
    "backend.accounts",
    "backend.catalog",
    "backend.documents",
    "backend.gallery",
    "backend.compose",
]

MIDDLEWARE = [
    # Before the address is rewritten: /metrics answers only a trusted TCP peer (backend/metrics.py).
    "backend.metrics.MetricsMiddleware",
    # HTTP latency and responses by view (django-prometheus): times everything below.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # Then everything after it (throttles, lockouts, logs) sees the real client address.
    "backend.client_address.RealClientAddressMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "backend.content_security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "backend.throttling.AdminLoginThrottleMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Last: turns a lockout found during authenticate() into a 429.
    "axes.middleware.AxesMiddleware",
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
_refuse_default_password("DATABASE_URL", DATABASES["default"].get("PASSWORD"))
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
_refuse_default_password("REDIS_URL", urlsplit(REDIS_URL).password)

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
# Two weeks: a stolen cookie stops working, a writer who comes back weekly stays signed in.
SESSION_COOKIE_AGE = env.int("DJANGO_SESSION_COOKIE_AGE", default=14 * 24 * 3600)
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
_refuse_default_password("DJANGO_EMAIL_HOST_PASSWORD", EMAIL_HOST_PASSWORD)
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
# Scripts, styles, fonts, sockets and API calls only from this origin; no
# inline script, no plugins, no framing. Inline style *attributes* stay
# allowed: the editor (Slate) positions its ghost text and placeholder with
# them, and a style cannot run code. See SECURITY.md.
CONTENT_SECURITY_POLICY = env.str(
    "WRITEUP_CSP",
    default="default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'",
)

# --- sign-in lockout (django-axes) -------------------------------------------

# Failed sign-ins are counted per account (the username, whatever address
# they come from). From the AXES_FAILURE_LIMIT-th failure on, the account is
# locked for LOCKOUT_BASE_SECONDS, doubling with every further failure up to
# LOCKOUT_MAX_SECONDS; a successful sign-in resets the count, and failures
# are forgotten after a day without one. Admin sign-ins count the same way.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("WRITEUP_SIGNIN_FAILURES", default=5)
LOCKOUT_BASE_SECONDS = env.int("WRITEUP_LOCKOUT_SECONDS", default=60)
LOCKOUT_MAX_SECONDS = env.int("WRITEUP_LOCKOUT_MAX_SECONDS", default=24 * 3600)
AXES_COOLOFF_TIME = LOCKOUT_MAX_SECONDS / 3600  # hours: how long failures are remembered
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
# Attempts during a lockout neither count nor extend it (see lockout.py).
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_HANDLER = "backend.accounts.lockout.BackoffHandler"
AXES_LOCKOUT_CALLABLE = "backend.accounts.lockout.locked_out_response"
AXES_CLIENT_IP_CALLABLE = "backend.client_address.axes_client_address"
AXES_VERBOSE = False
# axes warns that locking by username alone lets a guesser rotate cookies;
# here each address is throttled besides (AUTH_THROTTLE_RATE), and locking
# whole addresses would lock out everyone behind one NAT.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
# Never record what was typed into a failed sign-in form.
AXES_SENSITIVE_PARAMETERS = ["password", "login", "username"]

# --- REST API ---------------------------------------------------------------

WRITE_THROTTLE_RATE = env.str("WRITEUP_WRITE_THROTTLE", default="240/min")
# Sign-in, sign-up, password reset and account deletion, per client address:
# enough for a person who mistypes, far too few for guessing passwords.
AUTH_THROTTLE_RATE = env.str("WRITEUP_AUTH_THROTTLE", default="20/min")
# New accounts per client address: a person needs one, a vote ring needs many.
SIGNUP_THROTTLE_RATE = env.str("WRITEUP_SIGNUP_THROTTLE", default="5/hour")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["backend.accounts.authentication.CsrfSessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "backend.errors.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {"writes": WRITE_THROTTLE_RATE, "auth": AUTH_THROTTLE_RATE, "signup": SIGNUP_THROTTLE_RATE},
    # RealClientAddressMiddleware has already put the real address in
    # REMOTE_ADDR; 0 makes DRF use it and never read X-Forwarded-For itself.
    "NUM_PROXIES": 0,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "writeup API",
    "DESCRIPTION": "Models, drafts and shared pieces of the writeup writing app. "
    "The compose WebSocket (/ws/compose/) is described in docs/protocol.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from our own static files (drf-spectacular-sidecar), not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
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
# As the microservice's own limit (protocol.MAX_MESSAGE_BYTES): a full-length
# prompt (200,000 characters) fits unless it is mostly multi-byte characters.
COMPOSE_MAX_MESSAGE_BYTES = env.int("WRITEUP_WS_MAX_MESSAGE_BYTES", default=1_000_000)
COMPOSE_MAX_WATCHED = env.int("WRITEUP_WS_MAX_WATCHED", default=16)
COMPOSE_UPSTREAM_CONNECT_TIMEOUT = env.float("WRITEUP_UPSTREAM_CONNECT_TIMEOUT", default=3.0)
# Silence from upstream on a request for this long ends it with `timeout`;
# a cold prefill of a long draft on CPU takes several seconds, so be generous.
COMPOSE_UPSTREAM_IDLE_TIMEOUT = env.float("WRITEUP_UPSTREAM_IDLE_TIMEOUT", default=30.0)

# Fair share of the model tier, per writer (a user, or an anonymous session)
# across all their sockets and backend processes, kept in Redis: alternatives
# in flight (each `generate` counts `n`) and tokens reserved (n * max_tokens
# until the request ends). Past either: `over_quota`. Anonymous writers get
# less: a new session costs nothing. Sized so one writer holds at most a
# quarter of a default 32-sequence batch.
COMPOSE_BUDGET_USER_SEQUENCES = env.int("WRITEUP_BUDGET_USER_SEQUENCES", default=8)
COMPOSE_BUDGET_USER_TOKENS = env.int("WRITEUP_BUDGET_USER_TOKENS", default=1600)
COMPOSE_BUDGET_ANON_SEQUENCES = env.int("WRITEUP_BUDGET_ANON_SEQUENCES", default=4)
COMPOSE_BUDGET_ANON_TOKENS = env.int("WRITEUP_BUDGET_ANON_TOKENS", default=800)
# A lease a crashed backend never released expires after this long; live ones
# are renewed while their stream runs. Keep it above the upstream idle timeout.
COMPOSE_BUDGET_LEASE_SECONDS = env.float("WRITEUP_BUDGET_LEASE_SECONDS", default=120.0)
# Where the budgets live; without Redis, budgets are not enforced (logged).
COMPOSE_BUDGET_REDIS_URL = env.str("WRITEUP_BUDGET_REDIS_URL", default=REDIS_URL)

# Gallery votes that are stored but do not count toward a piece's score:
# from accounts younger than this (hours), or past this many counted votes
# on one piece from one client address. Slows down sock-puppet voting.
VOTE_MIN_ACCOUNT_AGE_HOURS = env.float("WRITEUP_VOTE_MIN_ACCOUNT_AGE_HOURS", default=24.0)
VOTE_MAX_PER_ADDRESS = env.int("WRITEUP_VOTE_MAX_PER_ADDRESS", default=2)

DOCUMENT_MAX_BODY_CHARS = env.int("WRITEUP_DOCUMENT_MAX_CHARS", default=1_000_000)
# Browsers POST the whole draft on autosave; leave room for it in JSON.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(2_621_440, DOCUMENT_MAX_BODY_CHARS * 6 + 65536)

# --- metrics and logs ----------------------------------------------------------

# TCP peers that may read /metrics (addresses or networks, comma-separated);
# a request that came through a proxy (X-Forwarded-For) never may. SECURITY.md.
try:
    METRICS_ALLOWED_NETWORKS = [
        ipaddress.ip_network(n, strict=False) for n in env.list("WRITEUP_METRICS_ALLOWED", default=["127.0.0.1", "::1"])
    ]
except ValueError as e:
    raise ImproperlyConfigured(f"WRITEUP_METRICS_ALLOWED: {e}") from None
# Migrations are not metrics worth a database query at every start.
PROMETHEUS_EXPORT_MIGRATIONS = False

# json: one JSON object a line, extra fields (request ids) as keys, so one
# suggestion can be grepped across the tiers (docs/operations.md); plain: for a terminal.
LOG_FORMAT = env.str("WRITEUP_LOG_FORMAT", default="json")
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured(f"WRITEUP_LOG_FORMAT must be json or plain, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"main": {"()": "contract.logs.formatter", "name": LOG_FORMAT}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "main"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    # axes logs every sign-in at INFO; failures and lockouts are WARNINGs.
    "loggers": {"axes": {"level": "WARNING"}},
}
