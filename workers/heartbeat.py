"""A running run's pulse: a thread that calls ``beat()`` every few seconds while the run trains.

``beat()`` refreshes the run's heartbeat timestamp (so the sweeper knows the worker is alive) and
answers whether to stop (cancelled, or the run was taken away); the answer is kept in
``stop_reason`` for ``should_stop``. A failing beat (database briefly unavailable) is logged and
retried at the next tick: a missed beat or two never fails a run, only ``STALE_AFTER`` seconds of
silence does. Knows nothing of Django: the caller supplies ``beat`` and ``on_thread_exit``.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

logger = logging.getLogger(__name__)


class Heartbeat(threading.Thread):
    def __init__(self, beat: Callable[[], str | None], *, interval: float,
                 on_thread_exit: Callable[[], None] | None = None):
        """``beat()`` returns None to keep going or a reason to stop."""
        super().__init__(name="run-heartbeat", daemon=True)
        self.beat, self.interval, self.on_thread_exit = beat, interval, on_thread_exit
        self.stopped = threading.Event()
        self.stop_reason: str | None = None

    def run(self) -> None:
        try:
            while not self.stopped.wait(self.interval):
                try:
                    reason = self.beat()
                except Exception:
                    logger.warning("heartbeat failed; retrying", exc_info=True)
                    continue
                if reason and self.stop_reason is None:
                    self.stop_reason = reason
        finally:
            if self.on_thread_exit:
                self.on_thread_exit()

    def stop(self) -> None:
        self.stopped.set()
        self.join(self.interval + 5)
