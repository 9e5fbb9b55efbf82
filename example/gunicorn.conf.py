"""gunicorn settings for the service, read from the same validated settings as the app (see .env.example).

`gunicorn --config /path/to/gunicorn.conf.py` from any directory (the image's CMD runs it from /app); the
service's own .env is read wherever it starts (see app/settings.py). Options given on the command line win.
"""

import sys
from pathlib import Path

# `gunicorn` (the console script) does not put the working directory on sys.path before reading this file.
_PROJECT_DIR = str(Path(__file__).resolve().parent)
if _PROJECT_DIR not in sys.path:
    sys.path.insert(0, _PROJECT_DIR)

from gunicorn.arbiter import Arbiter  # noqa: E402

from app.logs import GunicornLogger, configure_logging, shutdown_logging  # noqa: E402
from app.settings import load_settings_or_exit  # noqa: E402

_settings = load_settings_or_exit()
# The master owns the only log writer; workers forked below inherit it (see app/logs.py).
configure_logging(_settings, relay=True)

wsgi_app = "app.main:app"
bind = [f"{_settings.host}:{_settings.port}"]
workers = _settings.workers
worker_class = "app.workers.Worker"
logger_class = GunicornLogger
# Recycle workers now and then (bounded memory growth), not all at once.
max_requests = _settings.max_requests
max_requests_jitter = _settings.max_requests // 10
graceful_timeout = _settings.graceful_timeout
timeout = max(60, _settings.graceful_timeout)
keepalive = 5
# gunicorn >= 25.1 opens a control socket in the working directory by default: a non-root container with a
# read-only file system cannot, and the service does not use it.
control_socket_disable = True
# The worker heartbeat file on tmpfs: a disk-backed /tmp can stall heartbeats and get workers killed.
worker_tmp_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None  # noqa: S108  # nosec B108 - tmpfs, by design
# The app writes its own access line, with the request id.
accesslog = None
proc_name = _settings.service_name
# forwarded_allow_ips is left to gunicorn: X-Forwarded-* is trusted only from the FORWARDED_ALLOW_IPS
# environment variable's addresses (default 127.0.0.1,::1).


def on_exit(_server: Arbiter) -> None:
    """Drain the workers' log queue and close the files before the master exits."""
    shutdown_logging()
