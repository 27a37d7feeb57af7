"""A run's message stream from the worker: number each message, publish it live, store it in batches.

``RunStream.emit`` gives the message the next ``seq`` of the run, hands it to a publisher thread
(live view: the run's Channels group) and queues it for the database (the record), which is
written in batches every ``flush_seconds`` (0.5 s) or ``flush_points`` (50) messages, whichever
comes first. ``finish`` stores the last messages together with the run's final state in one
transaction and only then publishes them.

Both sinks survive outages. A failed database write keeps the batch and retries it (the store is
idempotent on (run, seq)), so no message is ever dropped from the record. A failed publish (Redis
restarting) is retried in order with backoff; live messages that cannot be published before
``close`` gives up are lost only from the live view: websocket clients fill any seq gap from the
database.

Seqs come from blocks reserved in the database (``reserve(count) -> last``), so nobody else (the
sweeper failing a lost run) can reuse a seq this worker may already have published.

This module knows nothing of Django: the caller passes ``reserve``, ``store`` and ``publish``.
"""
from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from typing import Awaitable, Callable

from workers.json_values import json_safe

logger = logging.getLogger(__name__)

Reserve = Callable[[int], int]
# store(messages, finalize): write messages (and run finalize() in the same transaction, when given).
Store = Callable[[list[dict], Callable[[], bool] | None], bool]
Publish = Callable[[dict], Awaitable[None]]

_STOP = object()



class Publisher(threading.Thread):
    """Publishes messages in order from its own event loop, retrying each one until it goes through."""

    def __init__(self, publish: Publish, *, max_backoff: float = 2.0, on_thread_exit: Callable[[], None] | None = None):
        super().__init__(name="run-stream-publisher", daemon=True)
        self.publish, self.max_backoff = publish, max_backoff
        self.inbox: queue.Queue = queue.Queue()
        self.give_up_at: float | None = None
        self.published = 0
        self.dropped = 0
        self.on_thread_exit = on_thread_exit

    def put(self, message: dict) -> None:
        self.inbox.put(message)

    def run(self) -> None:
        try:
            asyncio.run(self._loop())
        finally:
            if self.on_thread_exit:
                self.on_thread_exit()

    async def _loop(self) -> None:
        while True:
            message = await asyncio.to_thread(self.inbox.get)
            if message is _STOP:
                return
            backoff = 0.05
            while True:
                try:
                    await self.publish(message)
                    self.published += 1
                    break
                except Exception as error:  # broker/channel layer down: wait and retry the same message
                    if self.give_up_at is not None and time.monotonic() >= self.give_up_at:
                        self.dropped += 1
                        logger.warning("dropped live message seq %s after retries: %s", message.get("seq"), error)
                        break
                    logger.info("publish of seq %s failed (%s); retrying in %.2fs", message.get("seq"), error, backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self.max_backoff)

    def stop(self, timeout: float) -> None:
        """Drain what is queued, retrying for at most ``timeout`` seconds, then end the thread."""
        self.give_up_at = time.monotonic() + timeout
        self.inbox.put(_STOP)
        self.join(timeout + 5)


class RunStream:
    def __init__(self, run_id: int, *, reserve: Reserve, store: Store, publish: Publish,
                 flush_seconds: float = 0.5, flush_points: int = 50, reserve_block: int = 500,
                 on_thread_exit: Callable[[], None] | None = None):
        self.run_id = run_id
        self.reserve, self.store = reserve, store
        self.flush_seconds, self.flush_points, self.reserve_block = flush_seconds, flush_points, reserve_block
        self.publisher = Publisher(publish, on_thread_exit=on_thread_exit)
        self.pending: list[dict] = []
        self.lock = threading.RLock()
        self.next_seq = 1
        self.reserved_upto = 0
        self.last_flush = 0.0
        self.stored = 0
        self.closed = threading.Event()
        self.flusher = threading.Thread(target=self._flush_periodically, name="run-stream-flusher", daemon=True)
        self.on_thread_exit = on_thread_exit

    def start(self) -> "RunStream":
        self.publisher.start()
        self.flusher.start()
        return self

    def _take_seqs(self, count: int) -> list[int]:
        if self.next_seq + count - 1 > self.reserved_upto:
            block = max(self.reserve_block, count)
            last = self.reserve(block)
            self.next_seq, self.reserved_upto = last - block + 1, last
        seqs = list(range(self.next_seq, self.next_seq + count))
        self.next_seq += count
        return seqs

    def _message(self, seq: int, type_: str, payload: dict) -> dict:
        # ts: when the worker said it (Unix seconds), for charts' wall-clock axes and latency figures.
        return {"ts": round(time.time(), 4), **json_safe(payload), "type": type_, "run": self.run_id, "seq": seq}

    def emit(self, type_: str, **payload) -> dict:
        """Number, publish now, store within flush_seconds. Returns the message."""
        with self.lock:
            message = self._message(self._take_seqs(1)[0], type_, payload)
            self.pending.append(message)
            self.publisher.put(message)
            if len(self.pending) >= self.flush_points or time.monotonic() - self.last_flush >= self.flush_seconds:
                self._flush_locked()
        return message

    def _flush_locked(self) -> bool:
        self.last_flush = time.monotonic()
        if not self.pending:
            return True
        batch = list(self.pending)
        try:
            self.store(batch, None)
        except Exception:
            logger.warning("storing %d messages of run %s failed; will retry", len(batch), self.run_id, exc_info=True)
            return False
        del self.pending[: len(batch)]
        self.stored += len(batch)
        return True

    def flush(self) -> bool:
        with self.lock:
            return self._flush_locked()

    def _flush_periodically(self) -> None:
        try:
            while not self.closed.wait(min(0.1, self.flush_seconds)):
                with self.lock:
                    if self.pending and time.monotonic() - self.last_flush >= self.flush_seconds:
                        self._flush_locked()
        finally:
            if self.on_thread_exit:
                self.on_thread_exit()

    def finish(self, events: list[tuple[str, dict]], finalize: Callable[[], bool], *, attempts: int = 12) -> bool:
        """Store what is pending, then the final ``events`` together with the run's final state
        (``finalize`` returns False when the run is no longer this worker's: nothing more is
        stored then) in one transaction; only then publish the final events. The database is
        retried for a while: the end of a run must not be lost."""
        with self.lock:
            for attempt in range(attempts):
                if self._flush_locked():
                    break
                time.sleep(min(0.25 * 2**attempt, 5))
            messages = [self._message(seq, t, p) for seq, (t, p) in zip(self._take_seqs(len(events)), events)]
            for attempt in range(attempts):
                try:
                    ok = bool(self.store(messages, finalize))
                    break
                except Exception:
                    logger.warning("final store of run %s failed (attempt %d)", self.run_id, attempt + 1, exc_info=True)
                    time.sleep(min(0.25 * 2**attempt, 5))
            else:
                raise RuntimeError(f"could not record the end of run {self.run_id}")
            if ok:
                self.stored += len(messages)
                for message in messages:
                    self.publisher.put(message)
            return ok

    def close(self, publish_timeout: float = 30.0) -> None:
        """Flush what is left (retrying), stop the flusher, drain the publisher."""
        self.closed.set()
        self.flusher.join(5)
        deadline = time.monotonic() + publish_timeout
        while self.pending and time.monotonic() < deadline:
            if not self.flush():
                time.sleep(0.5)
        self.publisher.stop(max(1.0, deadline - time.monotonic()))
