"""Settings shared by every mode.

With no environment set this is the embedded default: SQLite and Celery's filesystem
transport under var/. DATABASE_URL and REDIS_URL switch to PostgreSQL and Redis.
"""

from datetime import timedelta
from importlib.util import find_spec
from pathlib import Path

import environ

from config.settings.local_secrets import load_or_create

BASE_DIR = Path(__file__).resolve().parents[2]
env = environ.Env()
if (BASE_DIR / ".env").exists():
    env.read_env(str(BASE_DIR / ".env"))

VAR_DIR = Path(env("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

_local = {} if env("SECRET_KEY", default="") and env("FIELD_ENCRYPTION_KEYS", default="") else load_or_create(VAR_DIR)
SECRET_KEY = env("SECRET_KEY", default=_local.get("SECRET_KEY", ""))
# Comma-separated Fernet keys: the first encrypts, every one decrypts (see rotate_encryption).
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[_local.get("FIELD_ENCRYPTION_KEYS", "")])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "ninja",
    "core",
    "connections",
    "syncs",
    "webhooks",
    "dashboard",
]
# The bench_* commands: a checkout has them, an installed wheel has no benchmarks package.
if find_spec("benchmarks") is not None:
    INSTALLED_APPS.append("benchmarks")

MIDDLEWARE = [
    "core.request_ids.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.security_headers.SecurityHeadersMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Django's SQLite with the database files readable by their owner only (core/sqlite3/base.py).
    DATABASES["default"]["ENGINE"] = "core.sqlite3"
    # WAL lets readers run beside the one writer; IMMEDIATE transactions take the write lock
    # up front, so web, worker and beat wait (busy timeout) instead of failing "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int("DB_CONNECT_TIMEOUT", default=5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:overview"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- Celery (docs/architecture.md, "Sync semantics") ---------------------------------------
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://localhost/")
# Chosen by the broker URL, not by REDIS_URL: a filesystem broker given the Redis options would
# fall back to kombu's defaults, folders relative to the working directory (./control, ./data_in).
_filesystem_broker = CELERY_BROKER_URL.startswith("filesystem:")
if _filesystem_broker:
    for _sub in ("queue", "processed", "control"):
        (BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # The exchange table (which queue each routing key reaches).
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        # How often an idle worker looks for a message (kombu's default is 1 s): at 1 s a backlog of
        # small runs drained at 2 a second whatever the pool size (bench_scheduling); a listing of
        # one folder ten times a second costs an idle worker next to nothing.
        "polling_interval": 0.1,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Longer than the hard time limit, so an unacknowledged long sync is not redelivered
        # while it is still running; a killed worker's run is caught sooner by the reaper.
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=7200),
        "socket_connect_timeout": 3,
        "socket_timeout": 10,
    }
# Remote control needs a fanout exchange the filesystem transport does not offer.
CELERY_WORKER_ENABLE_REMOTE_CONTROL = not _filesystem_broker
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# The worker keeps LOGGING's handler, so its lines carry the request and run ids like the web's.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=1800)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=1900)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "celery"
# Long syncs get their own queue so deliveries and the scheduler never wait behind them.
CELERY_TASK_ROUTES = {"syncs.tasks.sync_run_execute_task": {"queue": "syncs"},
                      "webhooks.tasks.*": {"queue": "webhooks"}}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {"task": "syncs.tasks.worker_heartbeat_task", "schedule": timedelta(seconds=10)},
    "sync-schedule": {"task": "syncs.tasks.sync_schedule_task", "schedule": timedelta(seconds=30)},
    "sync-reap": {"task": "syncs.tasks.sync_reap_task", "schedule": timedelta(seconds=60)},
}

# --- Sync engine tunables ------------------------------------------------------------------
SYNC_STALL_SECONDS = env.int("SYNC_STALL_SECONDS", default=600)
SYNC_QUEUED_RESEND_SECONDS = env.int("SYNC_QUEUED_RESEND_SECONDS", default=300)
SYNC_OVERLAP_SECONDS = env.int("SYNC_OVERLAP_SECONDS", default=120)
SYNC_PAGE_RETRIES = env.int("SYNC_PAGE_RETRIES", default=4)
SYNC_RETRY_BASE_SECONDS = env.float("SYNC_RETRY_BASE_SECONDS", default=1.0)
SYNC_RETRY_MAX_SECONDS = env.float("SYNC_RETRY_MAX_SECONDS", default=120.0)
SYNC_DELETION_GUARD_FRACTION = env.float("SYNC_DELETION_GUARD_FRACTION", default=0.5)
# A wait the upstream asks for (Retry-After) longer than this gives the worker back: the run is
# requeued from its checkpoint to start again when the wait is over.
SYNC_MAX_SLEEP_SECONDS = env.float("SYNC_MAX_SLEEP_SECONDS", default=60.0)
# A run failing with a retryable error is retried from its checkpoint this many times, after
# BASE, 2 x BASE, 4 x BASE ... seconds; then it stays failed, with its incident.
SYNC_AUTO_RETRIES = env.int("SYNC_AUTO_RETRIES", default=5)
SYNC_AUTO_RETRY_BASE_SECONDS = env.float("SYNC_AUTO_RETRY_BASE_SECONDS", default=30.0)
# Priority and fair shares (docs/architecture.md, "Priority and fair shares"): at most this many
# runs of one connection at once, so one customer cannot take every worker nor its ERP see more
# parallel readers than this.
SYNC_MAX_RUNS_PER_CONNECTION = env.int("SYNC_MAX_RUNS_PER_CONNECTION", default=2)
# A queued run of higher priority that no free worker took within this many seconds makes a
# lower-priority run give its worker back after its current page.
SYNC_YIELD_AFTER_SECONDS = env.float("SYNC_YIELD_AFTER_SECONDS", default=2.0)
# A run that has held its worker this long gives it back between pages to a waiting run of
# another connection (same priority or higher), and goes on later from its checkpoint.
SYNC_FAIR_SLICE_SECONDS = env.float("SYNC_FAIR_SLICE_SECONDS", default=60.0)
# The oldest queued run older than this turns the overview's queue red and fails /healthz.
SYNC_QUEUE_ALERT_SECONDS = env.int("SYNC_QUEUE_ALERT_SECONDS", default=300)
HEALTH_WORKER_MAX_AGE_SECONDS = env.int("HEALTH_WORKER_MAX_AGE_SECONDS", default=60)
# Shows /healthz's details (which check failed and why) to a monitor that sends it; empty: staff only.
HEALTH_TOKEN = env("HEALTH_TOKEN", default="")

# --- Upstream systems (docs/architecture.md, "The upstream toolkit") -----------------------
# Connect, read and write timeout of every request a connector sends.
UPSTREAM_TIMEOUT_SECONDS = env.float("UPSTREAM_TIMEOUT_SECONDS", default=30.0)
# Outbound policy: private networks are allowed (customers' systems often sit on one);
# link-local and cloud metadata addresses are refused unless inside UPSTREAM_ALLOWED_NETWORKS;
# UPSTREAM_BLOCKED_NETWORKS refuses more. Both are lists of CIDRs.
UPSTREAM_ALLOWED_NETWORKS = env.list("UPSTREAM_ALLOWED_NETWORKS", default=[])
UPSTREAM_BLOCKED_NETWORKS = env.list("UPSTREAM_BLOCKED_NETWORKS", default=[])

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Each line carries the request id and the sync run id it was written for ("-" when none).
    "filters": {"log_context": {"()": "core.logcontext.LogContextFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(run_id)s] %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["log_context"]}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # httpx logs every request's full URL at INFO, query secrets included; the upstream client
    # logs its own redacted lines (connections/connectors/http.py).
    "loggers": {"django.db.backends": {"level": "WARNING"}, "httpx": {"level": "WARNING"}},
}

# --- Webhooks (docs/webhooks.md) -----------------------------------------------------------
# Seconds to wait after each failed attempt; the delivery fails for good after the last one.
WEBHOOK_RETRY_SCHEDULE = [int(s) for s in env.list("WEBHOOK_RETRY_SCHEDULE", default=[
    "30", "120", "600", "1800", "3600", "7200", "14400", "28800", "28800"])]
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# CIDRs exempt from the private-address rules (and allowed plain http); empty in production.
WEBHOOK_ALLOWED_NETWORKS = env.list("WEBHOOK_ALLOWED_NETWORKS", default=[])
# An extra CA file trusted for webhook HTTPS, for development and tests.
WEBHOOK_CA_BUNDLE = env("WEBHOOK_CA_BUNDLE", default="")
WEBHOOK_DISABLE_AFTER_DAYS = env.int("WEBHOOK_DISABLE_AFTER_DAYS", default=3)
WEBHOOK_SECRET_ROLLOVER_HOURS = env.int("WEBHOOK_SECRET_ROLLOVER_HOURS", default=24)
# A pending delivery this far past due (its Celery message presumably lost) is re-enqueued by the sweeper.
WEBHOOK_SWEEP_GRACE_SECONDS = env.int("WEBHOOK_SWEEP_GRACE_SECONDS", default=120)
CELERY_BEAT_SCHEDULE["webhook-sweep"] = {"task": "webhooks.tasks.webhook_sweep_task", "schedule": timedelta(seconds=30)}

# --- API v1 (docs/api.md) -------------------------------------------------------------------
# Bearer token prefixes the API framework (core/api_auth.py) hands to a domain app; "sk_" admin
# keys are core's own.
API_TOKEN_RESOLVERS = {"ctk_": "connections.api_auth.connection_principal"}
# Requests per minute allowed per token (connection token or admin key); 0 turns limiting off.
API_RATE_LIMIT = env.int("API_RATE_LIMIT", default=600)
# Retry-After, in seconds, of 503 SERVICE_UNAVAILABLE (database or broker down).
API_RETRY_AFTER_SECONDS = env.int("API_RETRY_AFTER_SECONDS", default=5)
# Every response under /api/ in the error envelope, plus rate-limit headers; it needs the request id.
MIDDLEWARE.insert(MIDDLEWARE.index("core.request_ids.RequestIdMiddleware") + 1, "core.api_errors.ApiMiddleware")

# --- Login throttling (issue 11, item 3) ------------------------------------------------------
# django-axes counts failed logins in the database (works on SQLite and PostgreSQL, shared by every
# gunicorn worker) and refuses the login form, /login/ and /admin/login/ alike, once an account or
# a client address has failed LOGIN_FAILURE_LIMIT times, until LOGIN_LOCKOUT_MINUTES have passed.
INSTALLED_APPS.append("axes")
# Last, as axes asks: it turns a refused login into the lockout page.
MIDDLEWARE.append("axes.middleware.AxesMiddleware")
# The standalone backend only refuses locked-out logins; ModelBackend still checks the password.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
# Either one locks: a password sprayed over many accounts from one address, or one account from many.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# Records the lockout in the audit log and the `security` logger (dashboard/login_throttle.py).
AXES_HANDLER = "dashboard.login_throttle.AuditedDatabaseHandler"
# One answer, 429 with a plain page, whether or not the account exists.
AXES_LOCKOUT_CALLABLE = "dashboard.login_throttle.lockout_response"
# Behind a reverse proxy REMOTE_ADDR is the proxy's: the client is then read from X-Forwarded-For,
# counting this many trusted proxies from the right (0: no proxy, the header is not trusted).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "dashboard.login_throttle.client_ip"
# axes' own admin pages offer an action that needs no permission and fails from the admin; an
# account is unlocked with `manage.py axes_reset_username NAME` (or axes_reset_ip) instead.
AXES_ENABLE_ADMIN = False
# The audit log records lockouts; a row per successful login kept forever is not needed.
AXES_DISABLE_ACCESS_LOG = True

# --- Retention (docs/architecture.md#retention) ----------------------------------------------
# History older than these many days is pruned hourly, except what a rule keeps (the latest run
# of each entity, an unresolved incident's run, active runs, pending deliveries and their events).
RETENTION_RUN_DAYS = env.int("RETENTION_RUN_DAYS", default=90)
RETENTION_WEBHOOK_DAYS = env.int("RETENTION_WEBHOOK_DAYS", default=30)  # deliveries and their attempts
RETENTION_EVENT_DAYS = env.int("RETENTION_EVENT_DAYS", default=30)
RETENTION_AUDIT_DAYS = env.int("RETENTION_AUDIT_DAYS", default=365)
# Rows deleted per short transaction, and how long one prune (or one endpoint's purge) goes on
# before it leaves the rest to the next (keep it under the tasks' 600 s soft time limit).
RETENTION_BATCH_SIZE = env.int("RETENTION_BATCH_SIZE", default=2000)
RETENTION_PRUNE_SECONDS = env.float("RETENTION_PRUNE_SECONDS", default=300.0)
CELERY_BEAT_SCHEDULE["history-prune"] = {"task": "syncs.tasks.history_prune_task", "schedule": timedelta(hours=1)}
# A purge may take minutes: on the default queue, so deliveries never wait behind it.
CELERY_TASK_ROUTES["webhooks.tasks.webhook_endpoint_purge_task"] = {"queue": "celery"}

# --- Connect links (docs/connect-links.md) ---------------------------------------------------
# The company's name on the page a customer opens from a connect link.
PLANTSYNC_COMPANY_NAME = env("PLANTSYNC_COMPANY_NAME", default="PlantSync")
# Origins that may show the page in a frame (CSP frame-ancestors), e.g. "https://app.example.com";
# empty: no one (X-Frame-Options: DENY). Embedding also needs the CSRF cookie sent cross-site.
CONNECT_LINK_FRAME_ANCESTORS = env.list("CONNECT_LINK_FRAME_ANCESTORS", default=[])
# Per minute: "Test connection" clicks per link, and wrong or spent tokens per client address.
CONNECT_LINK_TEST_LIMIT = env.int("CONNECT_LINK_TEST_LIMIT", default=10)
CONNECT_LINK_FAILED_TOKEN_LIMIT = env.int("CONNECT_LINK_FAILED_TOKEN_LIMIT", default=20)
