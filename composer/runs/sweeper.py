"""The stale-run sweeper loop: fails runs whose worker stopped sending heartbeats ("worker lost").

Where it runs (any one suffices; several are harmless, each failure is a conditional update):
- a thread in every Celery worker's main process (``workers.celery_app``, on ``worker_ready``);
- ``python -m composer.runs.sweeper`` as its own process: ``composer up`` supervises one, so a
  single-machine install still sweeps while its only worker is dead; other deployments may run
  it too, or the Celery beat entry ``composer.runs.sweep_stale``.
"""
from __future__ import annotations

import argparse
import logging
import os
import threading

logger = logging.getLogger(__name__)


def sweep_once(stale_after_seconds: float | None = None) -> list[int]:
    from django.db import connection

    from composer.runs.services import runs_sweep_stale

    try:
        return runs_sweep_stale(stale_after_seconds=stale_after_seconds)
    finally:
        connection.close()


class SweeperThread(threading.Thread):
    def __init__(self, interval: float, stale_after_seconds: float | None = None):
        super().__init__(name="composer-run-sweeper", daemon=True)
        self.interval, self.stale_after_seconds = interval, stale_after_seconds
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                sweep_once(self.stale_after_seconds)
            except Exception:  # database busy or restarting: try again next tick
                logger.warning("stale-run sweep failed; retrying", exc_info=True)

    def stop(self) -> None:
        self.stopped.set()
        self.join(self.interval + 5)


def start_sweeper_thread(interval: float | None = None, stale_after_seconds: float | None = None) -> SweeperThread:
    from composer.runs.services import SWEEP_INTERVAL_SECONDS

    thread = SweeperThread(interval or SWEEP_INTERVAL_SECONDS, stale_after_seconds)
    thread.start()
    return thread


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fail runs whose worker stopped sending heartbeats.")
    parser.add_argument("--interval", type=float, default=None, help="seconds between sweeps")
    parser.add_argument("--stale-after", type=float, default=None, help="heartbeat age that counts as lost")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "composer.settings.base")
    import django

    django.setup()
    logging.basicConfig(level=logging.INFO)
    thread = start_sweeper_thread(args.interval, args.stale_after)
    try:
        thread.join()
    except KeyboardInterrupt:
        thread.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
