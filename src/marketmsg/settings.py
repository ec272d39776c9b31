"""Django settings for marketmsg.

Every knob is an environment variable with the ``MARKETMSG_`` prefix (see the table in README.md).
This is the only module that reads the environment.
"""

from __future__ import annotations

import importlib.util
import os
import re
import secrets
from pathlib import Path
from typing import Any

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent


def _env(name: str, default: str = "") -> str:
    return os.environ.get(f"MARKETMSG_{name}", default)


def _env_bool(name: str, default: bool = False) -> bool:
    value = _env(name)
    if not value:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str, default: str) -> list[str]:
    return [item.strip().lower() for item in _env(name, default).split(",") if item.strip()]


def _duration(text: str) -> int:
    """Seconds in '90', '90s', '5m', '2h' or '3d'."""
    text = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(float(text))


def parse_host_port(text: str, default_port: int) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host:
        return text, default_port
    return host.strip("[]"), int(port)


DATA_DIR = Path(_env("DATA_DIR", str(Path.cwd() / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = _env_bool("DEBUG")


def _secret_key() -> str:
    """The configured key, else one generated once and kept in the data directory."""
    configured = _env("SECRET_KEY")
    if configured:
        return configured
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
SECRET_KEY_CONFIGURED = bool(_env("SECRET_KEY"))  # else a file in this machine's data directory
ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = _env_list("CSRF_TRUSTED_ORIGINS", "") or []

# --- mail relay -------------------------------------------------------------------------------
RELAY_DOMAIN = _env("RELAY_DOMAIN", "marketplace.example").lower()
MOBILE_RELAY_DOMAIN = _env("MOBILE_RELAY_DOMAIN", f"m.{RELAY_DOMAIN}").lower()
MOBILE_CARRIER_DOMAINS = _env_list(
    "MOBILE_CARRIER_DOMAINS",
    "docomo.ne.jp,ezweb.ne.jp,au.com,softbank.ne.jp,i.softbank.jp,ymobile.ne.jp,"
    "disney.ne.jp,y-mobile.ne.jp,emobile.ne.jp,willcom.com,pdx.ne.jp,uqmobile.jp,rakuten.jp",
)
SMARTHOST = parse_host_port(_env("SMARTHOST", "127.0.0.1:25"), 25)
GATEWAY_LISTEN = parse_host_port(_env("GATEWAY_LISTEN", "127.0.0.1:2525"), 2525)
WEB_LISTEN = parse_host_port(_env("WEB_LISTEN", "127.0.0.1:8000"), 8000)
MAX_MESSAGE_BYTES = int(_env("MAX_MESSAGE_BYTES", str(20 * 1024 * 1024)))
MAX_RECIPIENTS = int(_env("MAX_RECIPIENTS", "20"))
GATEWAY_PROCESSES = int(_env("GATEWAY_PROCESSES", "0"))  # 0: one per CPU
# PostgreSQL only: each gateway process runs its database steps on this many threads, each with
# its own connection, so that waiting on the network does not stop the process (ADR 13). On
# SQLite the steps run on the event loop's thread: one writer at a time, and threads contending
# for Python's lock cost more than they save (ADR 5).
GATEWAY_DATABASE_THREADS = int(_env("GATEWAY_DATABASE_THREADS", "4"))
# Abuse limits of the SMTP gateway (gateway.limits), counted in each gateway process. Rates are
# "N/period" (s, m, h, d) or "off". The exempt networks (the MTA in front) skip the per-IP limits.
# A client that sends nothing for this long is disconnected (a slow or stuck client holds a session).
GATEWAY_TIMEOUT_SECONDS = float(_env("GATEWAY_TIMEOUT_SECONDS", "120"))
LIMIT_CONNECTIONS_PER_IP = int(_env("LIMIT_CONNECTIONS_PER_IP", "20"))
LIMIT_SESSIONS = int(_env("LIMIT_SESSIONS", "1000"))  # open SMTP sessions per gateway process
LIMIT_PER_IP = _env("LIMIT_PER_IP", "1200/1h")
LIMIT_PER_SENDER = _env("LIMIT_PER_SENDER", "300/1h")
LIMIT_PER_RELAY_ADDRESS = _env("LIMIT_PER_RELAY_ADDRESS", "60/1h")
LIMIT_EXEMPT_NETWORKS = _env_list("LIMIT_EXEMPT_NETWORKS", "127.0.0.0/8,::1/128")
# Growing back-off for temporary delivery failures; after the last step the delivery gives up
# and the sender is notified. The default spans about five days.
RETRY_SCHEDULE = [
    _duration(step)
    for step in _env("RETRY_SCHEDULE", "1m,5m,15m,30m,1h,2h,4h,8h,12h,24h,24h,24h").split(",")
    if step.strip()
]
WORKER_POLL_SECONDS = float(_env("WORKER_POLL_SECONDS", "1"))
WORKER_LEASE_SECONDS = _duration(_env("WORKER_LEASE_SECONDS", "5m"))
SMTP_TIMEOUT_SECONDS = float(_env("SMTP_TIMEOUT_SECONDS", "60"))
# Where people reach the web interface; links in relayed mail (e.g. "no reply needed") start with it.
PUBLIC_URL = _env("PUBLIC_URL", f"http://{WEB_LISTEN[0]}:{WEB_LISTEN[1]}").rstrip("/")
NO_REPLY_LINK_MAX_AGE = _duration(_env("NO_REPLY_LINK_MAX_AGE", "30d"))
# A buyer message still unanswered this close to its 24-hour deadline is listed as at risk (SPEC F6).
AT_RISK_HOURS = float(_env("AT_RISK_HOURS", "6"))
# API requests per token and minute (SPEC F12); over it the API answers 429 with Retry-After.
API_RATE_LIMIT = int(_env("API_RATE_LIMIT", "120"))
# Requests a minute per operator credential (the marketplace's machine-to-machine API).
OPERATOR_RATE_LIMIT = int(_env("OPERATOR_RATE_LIMIT", "600"))
# SQLite page cache (MB) of `marketmsg import` while it runs: large imports stay fast as tables grow.
IMPORT_SQLITE_CACHE_MB = int(_env("IMPORT_SQLITE_CACHE_MB", "256"))
# What the marketplace's order and product IDs look like (regular expressions, no capturing
# groups): Amazon's 3-7-7 order numbers and ASINs unless the operator says otherwise.


def _id_pattern(name: str, default: str) -> str:
    """A pattern that compiles and has no capturing groups (they would change what findall gives)."""
    pattern = _env(name, default)
    try:
        groups = re.compile(pattern).groups
    except re.error as error:
        raise ValueError(f"MARKETMSG_{name} is not a regular expression: {error}") from None
    if groups:
        raise ValueError(f"MARKETMSG_{name}: write (?:…) instead of a capturing group (…)")
    return pattern


ORDER_ID_PATTERN = _id_pattern("ORDER_ID_PATTERN", r"\d{3}-\d{7}-\d{7}")  # orders.identifiers
PRODUCT_ID_PATTERN = _id_pattern("PRODUCT_ID_PATTERN", r"[A-Z0-9]{10}")
# Webhooks (marketmsg → marketplace): how long a subscription may fail before it is disabled, the
# back-off between attempts, and how long one attempt may take.
WEBHOOK_DISABLE_AFTER = _duration(_env("WEBHOOK_DISABLE_AFTER", "3d"))
WEBHOOK_RETRY_SCHEDULE = [
    _duration(step.strip())
    for step in _env("WEBHOOK_RETRY_SCHEDULE", "5s,30s,2m,10m,30m,1h").split(",")
    if step.strip()
]
WEBHOOK_TIMEOUT_SECONDS = float(_env("WEBHOOK_TIMEOUT_SECONDS", "10"))
WEBHOOK_POLL_SECONDS = float(_env("WEBHOOK_POLL_SECONDS", "1"))
# A delivery being sent is leased this long; a sender killed mid-send leaves it to another after.
WEBHOOK_LEASE_SECONDS = _duration(_env("WEBHOOK_LEASE_SECONDS", "2m"))
# The communication guidelines (SPEC F10): an operator's own rules file replaces the built-in one.
GUIDELINES_FILE = _env("GUIDELINES_FILE")
# Sender authentication (SPEC F1). Inbound mail is checked for SPF, DKIM and DMARC over DNS
# (DNS_SERVER: one resolver "host[:port]" instead of the system's), or, when an MTA in front has
# done it, its Authentication-Results header with this authserv-id is read instead.
DNS_SERVER = _env("DNS_SERVER")
DNS_TIMEOUT = float(_env("DNS_TIMEOUT", "3"))
TRUSTED_AUTHSERV_ID = _env("TRUSTED_AUTHSERV_ID")
# Outbound DKIM signing for the relay domain (`marketmsg dkim-keygen` writes a key).
DKIM_SELECTOR = _env("DKIM_SELECTOR", "mm1")
DKIM_KEY_FILE = _env("DKIM_KEY_FILE")
DKIM_DOMAIN = _env("DKIM_DOMAIN") or RELAY_DOMAIN
# Prometheus metrics (/metrics): every process of this machine (gateway, worker, web) counts into
# files in this directory, and the web adds them up (prometheus_client's multiprocess mode).
METRICS_DIR = Path(_env("METRICS_DIR") or DATA_DIR / "metrics")
METRICS_DIR.mkdir(parents=True, exist_ok=True)
METRICS_TOKEN = _env("METRICS_TOKEN")  # when set, /metrics wants "Authorization: Bearer <token>"
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(METRICS_DIR))
# Directory of the development mail catcher; the web shows its messages only when this is set.
MAILCATCHER_DIR = _env("MAILCATCHER_DIR")

# --- Django ----------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "marketmsg.accounts",
    "marketmsg.orders",
    "marketmsg.addresses",
    "marketmsg.conversations",
    "marketmsg.delivery",
    "marketmsg.relay",
    "marketmsg.metrics",
    "marketmsg.gateway",
    "marketmsg.demo",
    "marketmsg.console",
    "marketmsg.ops",
    "marketmsg.limits",
    "marketmsg.web",
    "marketmsg.api",
    "marketmsg.integration",
    "marketmsg.webhooks",
    "marketmsg.sso",
    "marketmsg.blobs",
    "marketmsg.retention",
    "django_otp",
    "django_otp.plugins.otp_totp",
]
# The API docs' Swagger UI comes with django-ninja. Its templates and static files are added by
# path instead of as an app: as an app, every process (gateway, worker) would import it and
# pydantic, 13 MB each, for pages only the web serves.
_NINJA = Path(importlib.util.find_spec("ninja").origin or "").parent  # type: ignore[union-attr]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "marketmsg.web.security.SecurityHeadersMiddleware",
    "marketmsg.web.icons.HideIconEmojiMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "marketmsg.web.middleware.UserTimeZoneMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "marketmsg.urls"
WSGI_APPLICATION = "marketmsg.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [_NINJA / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "marketmsg.web.context.pending_senders",
            ]
        },
    }
]


# How SQLite makes a commit durable (PRAGMA synchronous). With FULL every commit syncs the
# write-ahead log, the gateway's included (ADR 24).
SQLITE_SYNCHRONOUS = _env("SQLITE_SYNCHRONOUS", "FULL").upper()
if SQLITE_SYNCHRONOUS not in {"FULL", "NORMAL", "EXTRA"}:
    raise ValueError("MARKETMSG_SQLITE_SYNCHRONOUS must be FULL, EXTRA or NORMAL")


def _database() -> dict[str, Any]:
    url = _env("DATABASE_URL", f"sqlite:///{DATA_DIR / 'marketmsg.sqlite3'}")
    # Long-lived processes (gateway, worker) keep their connections; a broken one is replaced.
    config: dict[str, Any] = dict(
        dj_database_url.parse(url, conn_max_age=int(_env("DB_CONN_MAX_AGE", "600")), conn_health_checks=True)
    )
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets readers run beside the one writer; synchronous=FULL makes every commit durable
        # (even against power loss) before the gateway answers 250; NORMAL is durable against process
        # crashes only. IMMEDIATE takes the write lock at BEGIN so concurrent writers queue on the
        # busy timeout instead of failing on a lock upgrade.
        synchronous = SQLITE_SYNCHRONOUS
        config["OPTIONS"] = {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": (
                f"PRAGMA journal_mode=WAL; PRAGMA synchronous={synchronous}; PRAGMA foreign_keys=ON;"
            ),
        }
        name = Path(str(config["NAME"]))
        config["TEST"] = {"NAME": str(name.with_name(f"test_{name.name}"))}
    else:
        config.setdefault("OPTIONS", {})
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", "日本語"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# The language switch stores its choice in this cookie; Accept-Language decides until then.
LANGUAGE_COOKIE_NAME = "marketmsg_language"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [_NINJA / "static"]
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_ROOT = DATA_DIR / "media"

# --- blob store: raw MIME and attachment files (ADR 21) ----------------------------------------
# "file": this machine's MEDIA_ROOT (one machine only). "s3": an S3 bucket (AWS or any
# S3-compatible server), which is what several machines share instead of a disk.
BLOB_STORE = _env("BLOB_STORE", "file").strip().lower()
if BLOB_STORE not in {"file", "s3"}:
    raise ValueError(f"MARKETMSG_BLOB_STORE must be file or s3, not {BLOB_STORE!r}")
S3_BUCKET = _env("S3_BUCKET")
if BLOB_STORE == "s3" and not S3_BUCKET:
    raise ValueError("MARKETMSG_BLOB_STORE=s3 needs MARKETMSG_S3_BUCKET")
_BLOBS: dict[str, Any] = (
    {
        "BACKEND": "marketmsg.blobs.s3.BlobS3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "location": _env("S3_PREFIX").strip("/"),
            # Unset: boto3's own chain (environment, instance profile, ~/.aws).
            "access_key": _env("S3_ACCESS_KEY_ID") or None,
            "secret_key": _env("S3_SECRET_ACCESS_KEY") or None,
            "endpoint_url": _env("S3_ENDPOINT_URL") or None,
            "region_name": _env("S3_REGION") or None,
            "file_overwrite": True,  # content-addressed: the same name is the same bytes
            "default_acl": None,
            "querystring_auth": True,
        },
    }
    if BLOB_STORE == "s3"
    else {
        "BACKEND": "marketmsg.blobs.filesystem.BlobFileStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT)},
    }
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "blobs": _BLOBS,
}
# A blob written by a mail or upload whose transaction then failed is removed after this long.
BLOB_SWEEP_GRACE = _duration(_env("BLOB_SWEEP_GRACE", "1d"))


# --- retention (marketmsg purge, daily) -------------------------------------------------------
# How long after a message arrived its raw MIME, its files and its text are kept; "forever" (or
# empty) keeps them. A conversation whose order has an open claim keeps everything.
def _days(name: str, default: str) -> int | None:
    text = _env(name, default).strip().lower()
    return None if text in {"", "forever", "0"} else _duration(text if text[-1].isalpha() else text + "d")


KEEP_RAW_MIME = _days("KEEP_RAW_MIME", "730d")
KEEP_ATTACHMENTS = _days("KEEP_ATTACHMENTS", "730d")
KEEP_MESSAGE_TEXT = _days("KEEP_MESSAGE_TEXT", "forever")

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = _env_bool("SECURE_COOKIES")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
CSRF_FAILURE_VIEW = "marketmsg.web.errors.csrf_failure"
# Behind a TLS proxy that sets X-Forwarded-Proto on every request (and drops the client's own):
# requests that came in over HTTPS count as secure, which turns on HSTS for them.
BEHIND_TLS_PROXY = _env_bool("BEHIND_TLS_PROXY")  # also: the client's IP is X-Forwarded-For's last entry
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Sign-in throttle (accounts.throttle): failures per account and per client IP within the window.
SIGNIN_FAILURES_PER_ACCOUNT = int(_env("SIGNIN_FAILURES_PER_ACCOUNT", "5"))
SIGNIN_FAILURES_PER_CLIENT = int(_env("SIGNIN_FAILURES_PER_CLIENT", "20"))
SIGNIN_WINDOW_SECONDS = _duration(_env("SIGNIN_WINDOW", "15m"))
SECURE_HSTS_SECONDS = int(_env("HSTS_SECONDS", str(365 * 24 * 3600)))  # sent on HTTPS responses only

# Sign-in through OpenID Connect providers (marketmsg.sso). The marketplace's provider signs in
# sellers and buyers the operator API knows (its subject claim is their external_id); the
# operator's own provider signs in staff (its role claim says "staff" or "supervisor"). An empty
# issuer turns that provider off.
OIDC_ISSUER = _env("OIDC_ISSUER").rstrip("/")
OIDC_CLIENT_ID = _env("OIDC_CLIENT_ID")
OIDC_CLIENT_SECRET = _env("OIDC_CLIENT_SECRET")
OIDC_SCOPES = _env("OIDC_SCOPES", "openid email profile")
OIDC_SUBJECT_CLAIM = _env("OIDC_SUBJECT_CLAIM", "sub")
OIDC_SIGN_ALGO = _env("OIDC_SIGN_ALGO", "RS256")
STAFF_OIDC_ISSUER = _env("STAFF_OIDC_ISSUER").rstrip("/")
STAFF_OIDC_CLIENT_ID = _env("STAFF_OIDC_CLIENT_ID")
STAFF_OIDC_CLIENT_SECRET = _env("STAFF_OIDC_CLIENT_SECRET")
STAFF_OIDC_SCOPES = _env("STAFF_OIDC_SCOPES", "openid email profile marketmsg")
STAFF_OIDC_ROLE_CLAIM = _env("STAFF_OIDC_ROLE_CLAIM", "marketmsg_role")
# How long a session begun through a provider lasts before the provider is asked again.
SSO_SESSION_SECONDS = _duration(_env("SSO_SESSION", "8h"))
# Account mail (password links, invitations) is queued (accounts.mail) and sent by the worker
# (relay.account_mail).
ACCOUNT_MAIL_FROM = _env("ACCOUNT_MAIL_FROM", f"no-reply@{RELAY_DOMAIN}")
DEFAULT_FROM_EMAIL = ACCOUNT_MAIL_FROM
EMAIL_BACKEND = "marketmsg.accounts.mail.OutboxBackend"
PASSWORD_RESET_TIMEOUT = _duration(_env("PASSWORD_LINK_MAX_AGE", "1h"))
INVITATION_MAX_AGE = _duration(_env("INVITATION_MAX_AGE", "7d"))
# Passwords of marketmsg's own (the embedded default). Off: people sign in only through a provider.
PASSWORDS = _env_bool("PASSWORDS", True)
if not PASSWORDS and not (OIDC_ISSUER or STAFF_OIDC_ISSUER):
    raise ValueError("MARKETMSG_PASSWORDS=off needs MARKETMSG_OIDC_ISSUER or MARKETMSG_STAFF_OIDC_ISSUER")
AUTHENTICATION_BACKENDS = ["marketmsg.sso.backend.ProviderBackend"]
if PASSWORDS:
    AUTHENTICATION_BACKENDS.insert(0, "django.contrib.auth.backends.ModelBackend")
# Origins of the marketplace's seller portal allowed to show the message center in a frame
# (Content-Security-Policy frame-ancestors); empty: no framing at all.
FRAME_ANCESTORS = _env("FRAME_ANCESTORS").replace(",", " ").split()

LOG_LEVEL = _env("LOG_LEVEL", "INFO").upper()
# "plain" lines for people, or "json": one object per line with message_id / delivery_id fields.
LOG_FORMAT = _env("LOG_FORMAT", "plain").lower()
if LOG_FORMAT not in ("plain", "json"):
    raise ValueError("MARKETMSG_LOG_FORMAT must be plain or json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "marketmsg.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"mail.log": {"level": "WARNING"}},
}
