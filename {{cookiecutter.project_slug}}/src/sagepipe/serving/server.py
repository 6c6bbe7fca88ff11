"""Run the inference app under gunicorn: pre-forked workers, one request at a time each.

Each worker reads connections on an event loop and runs the app only on whole requests
(:mod:`sagepipe.serving.worker`), so slow clients get 408 instead of holding it. Running
the app in the worker's main thread keeps the per-request timeout exact (SIGALRM) and one
slow request from delaying others in the same process; SageMaker's scikit-learn container
serves with gunicorn too. ``SIGHUP`` to the master re-reads the spec and
replaces the workers gracefully, which is how a redeploy switches models without
closing the listening socket.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from .app import build_app
from .spec import DEFAULT_TIMEOUT_SECONDS, EndpointSpec

DEFAULT_PORT = 8080
DEFAULT_HOST = "127.0.0.1"


@dataclass
class ServerOptions:
    """Where and how the server listens."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    workers: int = 0  # 0: one per core
    pidfile: str | None = None
    log_file: str | None = None
    access_log: bool = False

    def resolved_workers(self) -> int:
        """The worker count: explicit, else SAGEMAKER_MODEL_SERVER_WORKERS, else the cores."""
        if self.workers > 0:
            return self.workers
        return env_int("SAGEMAKER_MODEL_SERVER_WORKERS", os.cpu_count() or 1)


def env_int(name: str, default: int) -> int:
    """An integer environment variable, with a one-line error when it is not one."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(
            f"error: {name}={raw!r} is not an integer; set it to a whole number"
        ) from None
    if value <= 0:
        raise SystemExit(f"error: {name}={value} must be positive")
    return value


def default_port() -> int:
    """``SAGEMAKER_BIND_TO_PORT`` or 8080."""
    return env_int("SAGEMAKER_BIND_TO_PORT", DEFAULT_PORT)


def default_timeout() -> float:
    """Per-request timeout in seconds: ``SAGEMAKER_MODEL_SERVER_TIMEOUT`` or 60."""
    return float(env_int("SAGEMAKER_MODEL_SERVER_TIMEOUT", int(DEFAULT_TIMEOUT_SECONDS)))


class ModelServer(BaseApplication):
    """A gunicorn application whose workers build the app from the spec file when they start."""

    def __init__(self, spec_path: Path, options: ServerOptions) -> None:
        self.spec_path = Path(spec_path)
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        spec = EndpointSpec.read(self.spec_path)
        workers = self.options.resolved_workers()
        override = self.spec_path.parent / "workers"  # a redeploy may change it (SIGHUP)
        if override.is_file():
            with contextlib.suppress(ValueError):
                workers = max(1, int(override.read_text().strip()))
        settings: dict[str, Any] = {
            "bind": f"{self.options.host}:{self.options.port}",
            "workers": workers,
            # Whole requests are buffered on an event loop before the app runs, so slow
            # or lying clients cannot hold a worker (see worker.py; "sync" is the old
            # design, kept selectable for side-by-side benchmarks).
            "worker_class": os.environ.get(
                "SAGEPIPE_WORKER_CLASS", "sagepipe.serving.worker.BufferingWorker"
            ),
            # gunicorn's own watchdog is a backstop behind our per-request 504.
            "timeout": int(spec.timeout_seconds) + 30,
            "graceful_timeout": int(spec.timeout_seconds) + 5,
            "backlog": 2048,
            "proc_name": f"sagepipe-endpoint-{spec.endpoint_name}",
            "accesslog": "-" if self.options.access_log else None,
            "errorlog": self.options.log_file or "-",
            "pidfile": self.options.pidfile,
        }
        if "control_socket_disable" in self.cfg.settings:
            # gunicorn >= 24 opens one shared control socket per user; endpoints must not collide.
            settings["control_socket_disable"] = True
        for key, value in settings.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        app = build_app(EndpointSpec.read(self.spec_path))
        app.own_alarm()  # a worker process: SIGALRM is the per-request timeout's alone
        limit_native_threads()
        return app


def limit_native_threads() -> None:
    """One native thread per worker unless OMP_NUM_THREADS says otherwise.

    The workers already use every core; OpenMP/BLAS pools inside each worker would
    oversubscribe them (a 2-core machine measured 4x slower single-row predictions).
    """
    try:
        from threadpoolctl import threadpool_limits  # a scikit-learn dependency
    except ImportError:  # pragma: no cover
        return
    threadpool_limits(int(os.environ.get("OMP_NUM_THREADS") or 1))


def run(spec_path: Path, options: ServerOptions) -> None:
    """Serve in the foreground until SIGTERM/SIGINT."""
    ModelServer(spec_path, options).run()
