"""The Celery app (queue ``gpu``), worker self-registration in Redis, and the worker command line.

Pool choice (``worker_argv``): prefork with concurrency 1. The training runs in a child process,
so the Celery time limits (soft/hard, from each run's budget) work, a crash in torch kills only
the child (the task then ends as ``failed``, never stuck), and the main process keeps its broker
connection and its Redis registration alive while a run trains. One worker per GPU; each child
warms ``import torch`` at start (``worker_process_init``) so the first run does not pay for it.

Registration: every worker writes ``composer:workers:<hostname>`` = JSON ``{hostname, device,
device_name, pid, queues, ts}`` with a 30 s TTL, refreshed every 10 s by a thread in the main
process; ``live_workers()`` lists them (used by ``/healthz``). A SIGKILLed worker disappears
within 30 s. The same thread also runs the stale-run sweeper (see ``composer.runs.services``).
"""
from __future__ import annotations

import json
import logging
import os
import platform
import socket
import subprocess
import sys
import threading
import time

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "composer.settings.base")

logger = logging.getLogger(__name__)

QUEUE = "gpu"
WORKER_KEY_PREFIX = "composer:workers:"
WORKER_TTL_SECONDS = 30
WORKER_REFRESH_SECONDS = 10

app = Celery("composer")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_default_queue=QUEUE,
    task_serializer="json",
    accept_content=["json"],
    result_backend=None,
    task_ignore_result=True,
    # One task per worker at a time: with concurrency 1, prefetch 1 and late acks, the task being
    # trained is the worker's only unacknowledged message, so an idle worker never waits behind a
    # busy one that reserved the next run (a report card's runs spread over every worker).
    worker_prefetch_multiplier=1,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    # Priorities on the Redis broker: one list per step, and workers pop the lists in this order
    # (0 first). Single runs go at 0, report-card runs at 9 (composer.runs.services.CARD_RUN_PRIORITY).
    broker_transport_options={"priority_steps": [0, 3, 6, 9]},
    broker_connection_retry_on_startup=True,
    # Keep retrying a lost broker forever: a Redis restart must not end the worker.
    broker_connection_max_retries=None,
    worker_cancel_long_running_tasks_on_connection_loss=False,
    # A pool child warms torch before it reports up; on a loaded machine that takes far longer
    # than Celery's 4 s default, and the child would be killed and restarted over and over.
    worker_proc_alive_timeout=120,
    beat_schedule={
        "composer-runs-sweep-stale": {"task": "composer.runs.sweep_stale", "schedule": 10.0, "options": {"queue": QUEUE}},
    },
)
app.autodiscover_tasks(["workers"], related_name="jobs", force=True)


def worker_argv(concurrency: int = 1, *, hostname: str | None = None, loglevel: str = "INFO") -> list[str]:
    """The exact command line that starts a training worker (``composer up`` and tests use it)."""
    argv = [
        sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker",
        "-Q", QUEUE, "-c", str(concurrency), "-P", "prefork", "--prefetch-multiplier", "1",
        "--without-gossip", "--without-mingle", "-l", loglevel,
    ]
    if hostname:
        argv += ["-n", hostname]
    return argv


def _redis():
    import redis
    from django.conf import settings

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5)


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def detect_device() -> tuple[str, str]:
    """("cuda", GPU name) or ("cpu", processor name), honouring COMPOSER_DEVICE. Asks nvidia-smi
    rather than torch: the main process must never initialise CUDA (its pool children fork)."""
    from django.conf import settings

    if getattr(settings, "COMPOSER_DEVICE", "auto") in ("auto", "cuda"):
        try:
            names = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                                   capture_output=True, text=True, timeout=5).stdout.splitlines()
            if names and names[0].strip():
                return "cuda", names[0].strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return "cpu", cpu_name()


_DEVICE_CACHE: dict[str, tuple[str, str]] = {}


def worker_record(hostname: str, queues: list[str]) -> dict:
    if "device" not in _DEVICE_CACHE:
        _DEVICE_CACHE["device"] = detect_device()
    device, device_name = _DEVICE_CACHE["device"]
    return {"hostname": hostname, "device": device, "device_name": device_name, "pid": os.getpid(),
            "queues": queues, "ts": time.time()}


def register_worker(hostname: str, queues: list[str]) -> None:
    _redis().set(WORKER_KEY_PREFIX + hostname, json.dumps(worker_record(hostname, queues)), ex=WORKER_TTL_SECONDS)


def unregister_worker(hostname: str) -> None:
    _redis().delete(WORKER_KEY_PREFIX + hostname)


def live_workers() -> list[dict]:
    """Workers that refreshed their registration within the TTL, sorted by hostname."""
    client = _redis()
    keys = sorted(client.scan_iter(match=WORKER_KEY_PREFIX + "*", count=100))
    values = client.mget(keys) if keys else []
    return [json.loads(value) for value in values if value]


class _WorkerHousekeeping(threading.Thread):
    """Main-process thread: refresh the registration every 10 s and sweep stale runs.
    Errors (Redis restarting, database busy) are logged and retried at the next tick."""

    def __init__(self, hostname: str, queues: list[str]):
        super().__init__(name="composer-worker-housekeeping", daemon=True)
        self.hostname, self.queues = hostname, queues
        self.stopped = threading.Event()

    def run(self) -> None:
        from composer.runs.services import SWEEP_INTERVAL_SECONDS

        last_sweep = 0.0
        while not self.stopped.is_set():
            try:
                register_worker(self.hostname, self.queues)
            except Exception:
                logger.warning("worker registration failed; retrying", exc_info=True)
            if time.monotonic() - last_sweep >= SWEEP_INTERVAL_SECONDS:
                last_sweep = time.monotonic()
                try:
                    from composer.runs.services import runs_sweep_stale

                    runs_sweep_stale()
                except Exception:
                    logger.warning("stale-run sweep failed; retrying", exc_info=True)
                finally:
                    from django.db import connection

                    connection.close()
            self.stopped.wait(min(WORKER_REFRESH_SECONDS, SWEEP_INTERVAL_SECONDS))


_housekeeping: _WorkerHousekeeping | None = None


@signals.worker_ready.connect
def _on_worker_ready(sender=None, **kwargs):
    global _housekeeping
    import django

    django.setup()
    hostname = sender.hostname if sender is not None else socket.gethostname()
    queues = sorted(q.name for q in sender.app.amqp.queues.consume_from.values()) if sender is not None else [QUEUE]
    _housekeeping = _WorkerHousekeeping(hostname, queues)
    _housekeeping.start()


@signals.worker_shutdown.connect
def _on_worker_shutdown(sender=None, **kwargs):
    if _housekeeping is not None:
        _housekeeping.stopped.set()
        try:
            unregister_worker(_housekeeping.hostname)
        except Exception:
            logger.warning("could not remove the worker registration", exc_info=True)


@signals.worker_process_init.connect
def _warm_child(**kwargs):
    """Import torch (and Django) in each pool child before its first task: ~2.5 s saved on run 1."""
    import faulthandler
    import signal

    import django

    # `kill -USR2 <child pid>` prints every thread's stack to the worker log: how to see where a
    # stuck training is without stopping it.
    faulthandler.register(signal.SIGUSR2, file=sys.__stderr__, all_threads=True)
    django.setup()
    import torch  # noqa: F401

    try:
        import workers.trainer  # noqa: F401
    except ImportError:  # the run itself will report it; a worker must still start
        logger.exception("workers.trainer failed to import")
