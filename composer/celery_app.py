"""The Celery app (queue ``gpu``), the worker command line, worker registration and housekeeping.

Configuration: every ``CELERY_*`` setting in ``composer.settings``; the tasks are the runs app's
(``composer.runs.tasks``). Pool choice (``worker_argv``): prefork with concurrency 1. The training
runs in a child process, so the time limits work, a crash in torch kills only the child (its run
is then failed by the sweeper, never stuck), and the main process keeps its broker connection and
its Redis registration alive while a run trains. One worker per GPU; each child warms
``import torch`` at start (``worker_process_init``) so the first run does not pay for it.

Registration: every worker writes ``composer:workers:<hostname>`` = JSON ``{hostname, device,
device_name, pid, queues, ts}`` with a 30 s TTL, refreshed every 10 s by a thread in the main
process; ``live_workers()`` lists them (used by ``/healthz``). A SIGKILLed worker disappears
within 30 s.

Housekeeping, the one sweeper: the same main-process thread runs ``composer.runs.services.
runs_housekeeping`` at start and every ``COMPOSER_RUN_SWEEP_INTERVAL_SECONDS``: it fails runs whose
worker went silent ("worker lost") and sends the queue a message again for queued runs whose
message the broker lost. It lives in the worker because that is the one process every deployment
runs wherever runs train (``composer up``, docker-compose, a worker on another machine); several
workers sweeping at once are harmless (each change is a conditional update, and a spare queue
message starts nothing). While no worker is alive nothing sweeps, and nothing could train a
recovered run either: the first worker to start sweeps at once.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
import time

from celery import Celery, signals

# Django's documented bootstrap for a Celery app: the settings module unless the environment names one.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "composer.settings.base")

logger = logging.getLogger(__name__)

WORKER_KEY_PREFIX = "composer:workers:"
WORKER_TTL_SECONDS = 30
WORKER_REFRESH_SECONDS = 10

app = Celery("composer")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Lazy (on worker start, once Django is set up): composer.runs.tasks imports the runs models.
app.autodiscover_tasks(["composer.runs"])
QUEUE = app.conf.task_default_queue


def worker_argv(concurrency: int = 1, *, hostname: str | None = None, loglevel: str = "INFO") -> list[str]:
    """The exact command line that starts a training worker (``composer up`` and tests use it)."""
    argv = [
        sys.executable, "-m", "celery", "-A", "composer.celery_app", "worker",
        "-Q", QUEUE, "-c", str(concurrency), "-P", "prefork", "--prefetch-multiplier", "1",
        "--without-gossip", "--without-mingle", "-l", loglevel,
    ]
    if hostname:
        argv += ["-n", hostname]
    return argv


def waiting_messages() -> int:
    """How many messages wait on the queue (not yet delivered to a worker)."""
    with app.connection_for_read() as connection:
        return connection.default_channel.queue_declare(queue=QUEUE).message_count


def _redis():
    import redis
    from django.conf import settings

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5)


_DEVICE_CACHE: dict[str, tuple[str, str]] = {}


def worker_record(hostname: str, queues: list[str]) -> dict:
    from django.conf import settings

    from workers.environment import visible_device

    if "device" not in _DEVICE_CACHE:
        _DEVICE_CACHE["device"] = visible_device(settings.COMPOSER_DEVICE)
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
    """Main-process thread: refresh the registration every 10 s; run the runs' housekeeping at
    start and every sweep interval. Errors (Redis restarting, database busy) are logged and
    retried at the next tick."""

    def __init__(self, hostname: str, queues: list[str]):
        super().__init__(name="composer-worker-housekeeping", daemon=True)
        self.hostname, self.queues = hostname, queues
        self.stopped = threading.Event()

    def run(self) -> None:
        from django.db import connection

        from composer.runs.services import SWEEP_INTERVAL_SECONDS, runs_housekeeping

        last_sweep = None
        while not self.stopped.is_set():
            try:
                register_worker(self.hostname, self.queues)
            except Exception:
                logger.warning("worker registration failed; retrying", exc_info=True)
            if last_sweep is None or time.monotonic() - last_sweep >= SWEEP_INTERVAL_SECONDS:
                last_sweep = time.monotonic()
                try:
                    runs_housekeeping()
                except Exception:
                    logger.warning("runs housekeeping failed; retrying", exc_info=True)
                finally:
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
    """Import torch, Django and the trainer in each pool child before its first task: ~2.5 s saved
    on run 1. A trainer that fails to import fails here, loudly, in the worker's log."""
    import faulthandler
    import signal

    import django

    # `kill -USR2 <child pid>` prints every thread's stack to the worker log: how to see where a
    # stuck training is without stopping it.
    faulthandler.register(signal.SIGUSR2, file=sys.__stderr__, all_threads=True)
    django.setup()
    import workers.trainer  # noqa: F401
