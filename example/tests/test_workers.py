import os

from gunicorn.config import Config

from app.logs import GunicornLogger, shutdown_logging
from app.workers import Worker


def test_worker_turns_off_uvicorns_access_log_and_keeps_auto_loop() -> None:
    cfg = Config()
    cfg.set("max_requests", 123)
    worker = Worker(0, os.getppid(), [], None, 30, cfg, GunicornLogger(cfg))
    try:
        assert worker.config.access_log is False
        assert worker.config.loop == "auto"
        assert worker.config.http == "auto"
        # gunicorn's settings still reach uvicorn through the base class.
        assert worker.config.limit_max_requests == 123
    finally:
        worker.tmp.close()  # the heartbeat file gunicorn opens for every worker
        shutdown_logging()
