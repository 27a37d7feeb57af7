"""The Celery task of the runs app: start the next queued run, fairly, and train it to its end.

Thin: ``start_next_run`` claims a run through ``services.run_claim_next`` (the fair-share rule; a
queue message names no run, see ``composer.runs.services``) and ``execute_run`` trains it with the
engine (``workers.trainer.train``, Django-free), every state change going through the services.
Guarantees:

- idempotent: a spare, redelivered or late message starts nothing unless a run is queued, and a
  run starts only by its ``queued -> running`` claim, so no run trains twice;
- never stuck in ``running``: any exception (the time limit included) ends the run in ``failed``
  with its message and traceback; a killed worker's run is failed by the sweeper;
- cancellation within one step: ``should_stop`` reads the run's cancel flag (at most every
  0.25 s) and the heartbeat's verdict;
- every message gets a seq, is published live and stored (``workers.streaming.RunStream``);
- when a run ends, the queue gets any message it is missing (``services.runs_requeue_lost``), so
  a run that could not start earlier (its user was at the running limit) is started now.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import signal
import threading
import time
import traceback
from contextlib import contextmanager

from celery.exceptions import SoftTimeLimitExceeded
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from composer.celery_app import app
from composer.processes import stop_reason
from composer.runs import services
from composer.runs.models import Run, RunStatus, run_group_event, run_group_name
from workers.environment import device_name as name_of_device
from workers.environment import library_versions
from workers.heartbeat import Heartbeat
from workers.json_values import json_safe
from workers.streaming import RunStream

logger = logging.getLogger(__name__)

CANCEL_POLL_SECONDS = 0.25
CLAIM_RETRY_SECONDS = 2
CLAIM_MAX_RETRIES = 30
MSG_TIME_LIMIT = "time limit exceeded: the run went over its budget's max_seconds plus the grace period"
MSG_DIVERGED = "training diverged: the loss became NaN or infinite at step {step}; try a lower lr or more warmup"
MSG_INTERRUPTED = "interrupted: the worker {how} while training (a shutdown, or a crash around it); launch the run again"


def _close_db_connection() -> None:
    connection.close()


async def _publish(message: dict) -> None:
    await get_channel_layer().group_send(run_group_name(message["run"]), run_group_event(message))


def _make_stream(run_id: int) -> RunStream:
    def store(messages, finalize):
        with transaction.atomic():
            if finalize is not None and not finalize():
                return False
            services.run_events_store(run_id=run_id, messages=messages)
            return True

    return RunStream(run_id, reserve=lambda count: services.run_reserve_seqs(run_id=run_id, count=count),
                     store=store, publish=_publish, on_thread_exit=_close_db_connection)


@app.task(name=services.START_NEXT_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def start_next_run(self) -> str:
    try:
        run = services.run_claim_next(hostname=self.request.hostname or "", task_id=self.request.id or "")
    except DatabaseError as error:
        # The database is busy or restarting: try again later rather than drop the message (the
        # claim is idempotent, so a retry is always safe).
        _close_db_connection()
        raise self.retry(exc=error, countdown=CLAIM_RETRY_SECONDS, max_retries=CLAIM_MAX_RETRIES)
    if run is None:
        logger.info("no queued run may start now")
        return "idle"
    try:
        return execute_run(run)
    finally:
        try:
            services.runs_requeue_lost(grace_seconds=0)
        except Exception:  # the housekeeping thread tries again within its interval
            logger.warning("could not top up the queue after run %s", run.pk, exc_info=True)
        finally:
            _close_db_connection()


@contextmanager
def _soft_deadline(seconds: float):
    """Raise ``SoftTimeLimitExceeded`` in this thread after ``seconds``, as Celery's soft limit
    does: a queue message carries the longest limit any run may have, a run its own. Only the main
    thread gets signals, which is where a prefork pool child runs its task; elsewhere the
    message's limit is the only one."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum, frame):
        raise SoftTimeLimitExceeded()

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def execute_run(run: Run) -> str:
    """Train a claimed (running) run to its end state; returns that state."""
    stream = _make_stream(run.pk).start()
    heartbeat = _start_heartbeat(run)
    started = time.monotonic()
    last_cancel_check = [0.0]
    cancelled = [False]

    def should_stop() -> bool:
        if heartbeat.stop_reason:
            return True
        now = time.monotonic()
        if not cancelled[0] and now - last_cancel_check[0] >= CANCEL_POLL_SECONDS:
            last_cancel_check[0] = now
            cancelled[0] = Run.objects.filter(pk=run.pk, cancel_requested=True).exists()
        return cancelled[0]

    def on_event(event: dict) -> None:
        event = dict(event)
        kind = event.pop("type", "log")
        stream.emit(kind if kind in ("metrics", "log") else "log", **event)

    def finalize(status: str, result=None, message: str = "", trace: str = ""):
        return lambda: services.run_finish(run_id=run.pk, attempt=run.attempt, status=status, result=result,
                                           error_message=message, error_traceback=trace)

    def finish_failed(message: str, result: dict, trace: str = "") -> str:
        stream.finish([("status", {"status": RunStatus.FAILED.value}), ("error", {"message": message, "traceback": trace})],
                      finalize(RunStatus.FAILED, result, message, trace))
        return RunStatus.FAILED.value

    try:
        with _soft_deadline(services.run_time_limits(run)[0]):
            from workers.trainer import TrainConfig, select_device, train

            device = select_device(settings.COMPOSER_DEVICE)
            device_name, versions = name_of_device(device), library_versions()
            services.run_record_environment(run_id=run.pk, device=device.type, device_name=device_name, versions=versions)
            stream.emit("status", status=RunStatus.RUNNING.value, device=device.type, device_name=device_name,
                        hostname=run.worker_hostname, seed=run.seed, versions=versions)
            hyper, budget = run.hyper, run.budget
            # A report card's run also fixes its recipe (weight decay, warmup, evaluation, ...): any
            # further TrainConfig field in ``hyper`` is passed on.
            recipe = {f.name: hyper[f.name] for f in dataclasses.fields(TrainConfig)
                      if f.name not in ("steps", "batch_size", "lr", "seed", "max_seconds", "max_tokens", "device")
                      and hyper.get(f.name) is not None}
            config = TrainConfig(steps=int(hyper["steps"]), batch_size=int(hyper["batch_size"]), lr=float(hyper["lr"]),
                                 seed=int(run.seed), max_seconds=budget.get("max_seconds"),
                                 max_tokens=budget.get("max_tokens"), device=device.type, **recipe)
            out_dir = os.path.join(str(settings.COMPOSER_RUNS_DIR), str(run.pk))
            result = train(run.spec, run.task, run.task_params, config, on_event=on_event, should_stop=should_stop,
                           out_dir=out_dir)
        result = json_safe(result or {})
        result.setdefault("wall_seconds", time.monotonic() - started)
        if result.get("stopped") == "diverged":
            # NaN/inf weights are not a result anyone should compare against: the run failed.
            return finish_failed(MSG_DIVERGED.format(step=result.get("steps")), result)
        summary = {k: result.get(k) for k in services.FINAL_METRIC_KEYS if k in result}
        summary["checkpoint"] = result.get("checkpoint")
        status = RunStatus.CANCELLED if result.get("stopped") == "cancelled" else RunStatus.SUCCEEDED
        stream.finish([("status", {"status": status.value}), ("done", {"status": status.value, "result": summary})],
                      finalize(status, result))
        return status.value
    except BaseException as error:  # noqa: BLE001 - SoftTimeLimitExceeded, SystemExit: always record the end
        stopped = stop_reason(error)  # SystemExit(-241) when the pool child gets SIGTERM
        message = (MSG_TIME_LIMIT if isinstance(error, SoftTimeLimitExceeded)
                   else MSG_INTERRUPTED.format(how=stopped) if stopped else f"{type(error).__name__}: {error}")
        trace = traceback.format_exc()
        logger.exception("run %s failed", run.pk)
        try:
            finish_failed(message, {"wall_seconds": time.monotonic() - started}, trace)
        except Exception:
            logger.exception("could not record the failure of run %s", run.pk)
        if not isinstance(error, Exception):
            raise
        return RunStatus.FAILED.value
    finally:
        heartbeat.stop()
        stream.close()
        _close_db_connection()


def _start_heartbeat(run: Run) -> Heartbeat:
    def beat():
        control = services.run_heartbeat(run_id=run.pk, attempt=run.attempt)
        return control.reason if control.stop else None

    heartbeat = Heartbeat(beat, interval=services.HEARTBEAT_SECONDS, on_thread_exit=_close_db_connection)
    heartbeat.start()
    return heartbeat
