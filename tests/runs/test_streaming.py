"""RunStream: seq numbering, batched stores, publish retries in order, and the final transaction."""
from __future__ import annotations

import threading
import time

import pytest

from workers.streaming import RunStream


class FakeSinks:
    def __init__(self, *, publish_failures: int = 0, store_failures: int = 0):
        self.stored: list[dict] = []
        self.batches: list[int] = []
        self.published: list[dict] = []
        self.publish_failures, self.store_failures = publish_failures, store_failures
        self.reserved = 1  # seq 1 used by the web ("queued")
        self.lock = threading.Lock()

    def reserve(self, count: int) -> int:
        self.reserved += count
        return self.reserved

    def store(self, messages, finalize):
        if self.store_failures:
            self.store_failures -= 1
            raise ConnectionError("database went away")
        if finalize is not None and not finalize():
            return False
        with self.lock:
            self.stored.extend(messages)
            self.batches.append(len(messages))
        return True

    async def publish(self, message):
        if self.publish_failures:
            self.publish_failures -= 1
            raise ConnectionError("redis restarting")
        self.published.append(message)


def make_stream(sinks: FakeSinks, **kwargs) -> RunStream:
    return RunStream(7, reserve=sinks.reserve, store=sinks.store, publish=sinks.publish, **kwargs).start()


def test_every_message_is_published_and_stored_once_in_seq_order():
    sinks = FakeSinks()
    stream = make_stream(sinks, reserve_block=40)
    for step in range(1, 121):
        stream.emit("metrics", step=step, split="train", loss=1.0 / step)
    stream.finish([("done", {"status": "succeeded"})], finalize=lambda: True)
    stream.close()
    seqs = list(range(2, 123))
    assert [m["seq"] for m in sinks.stored] == seqs
    assert [m["seq"] for m in sinks.published] == seqs
    final = sinks.published[-1]
    assert final == {"status": "succeeded", "type": "done", "run": 7, "seq": 122, "ts": final["ts"]}
    assert abs(final["ts"] - time.time()) < 60


def test_stores_are_batched_by_count():
    sinks = FakeSinks()
    stream = make_stream(sinks, flush_seconds=60, flush_points=50)
    for step in range(120):
        stream.emit("metrics", step=step)
    # The first message flushes at once (nothing stored for flush_seconds), then batches of 50.
    assert sinks.batches == [1, 50, 50]
    stream.close()
    assert sum(sinks.batches) == 120


def test_stores_are_batched_by_time():
    sinks = FakeSinks()
    stream = make_stream(sinks, flush_seconds=0.3, flush_points=1000)
    stream.emit("log", message="first")  # flushed at once
    for step in range(5):
        stream.emit("metrics", step=step)
    assert len(sinks.stored) == 1
    time.sleep(0.6)  # the flusher thread writes the rest without another emit
    assert len(sinks.stored) == 6
    stream.close()


def test_publish_failures_are_retried_in_order():
    sinks = FakeSinks(publish_failures=3)
    stream = make_stream(sinks)
    for step in range(10):
        stream.emit("metrics", step=step)
    stream.close()
    assert [m["step"] for m in sinks.published] == list(range(10))


def test_a_failed_store_keeps_the_batch_and_retries():
    sinks = FakeSinks(store_failures=2)
    stream = make_stream(sinks, flush_seconds=0.05)
    for step in range(5):
        stream.emit("metrics", step=step)
    stream.close()
    assert [m["step"] for m in sinks.stored] == list(range(5))


def test_finish_stores_nothing_when_the_run_is_no_longer_ours():
    sinks = FakeSinks()
    stream = make_stream(sinks)
    stream.emit("metrics", step=1)
    assert stream.finish([("done", {"status": "succeeded"})], finalize=lambda: False) is False
    stream.close()
    assert [m["type"] for m in sinks.stored] == ["metrics"]
    assert [m["type"] for m in sinks.published] == ["metrics"]


@pytest.mark.parametrize("block", [1, 3])
def test_reserving_small_blocks_still_gives_consecutive_seqs(block):
    sinks = FakeSinks()
    stream = make_stream(sinks, reserve_block=block)
    for step in range(7):
        stream.emit("metrics", step=step)
    stream.close()
    assert [m["seq"] for m in sinks.stored] == list(range(2, 9))
