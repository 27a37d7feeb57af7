"""Celery tasks of Composer: train one run (``composer.runs.train``) and sweep lost runs.

Thin: the task takes a run id and an attempt number, claims the run through
``composer.runs.services.run_start`` and trains it with ``workers.trainer.train``; every state
change goes through the runs services. Guarantees:

- idempotent: a redelivery of a run that finished, was cancelled, belongs to a newer attempt or
  is running on a live worker does nothing (``acks_late`` + ``reject_on_worker_lost`` are safe);
- never stuck in ``running``: any exception (the soft time limit included) ends the run in
  ``failed`` with its message and traceback; a killed worker's run is failed by the sweeper;
- cancellation within one step: ``should_stop`` reads the run's cancel flag (at most every
  0.25 s) and the heartbeat's verdict;
- every message gets a seq, is published live and stored (``workers.streaming.RunStream``).
"""
from __future__ import annotations

import dataclasses
import logging
import os
import platform
import time
import traceback
from importlib import metadata

from celery.exceptions import SoftTimeLimitExceeded

from composer.processes import stop_reason
from workers.celery_app import QUEUE, app
from workers.json_values import json_safe

logger = logging.getLogger(__name__)

TRAIN_TASK_NAME = "composer.runs.train"
CANCEL_POLL_SECONDS = 0.25
CLAIM_RETRY_SECONDS = 2
CLAIM_MAX_RETRIES = 30
MSG_TIME_LIMIT = "time limit exceeded: the run went over its budget's max_seconds plus the grace period"
MSG_DIVERGED = "training diverged: the loss became NaN or infinite at step {step}; try a lower lr or more warmup"
MSG_INTERRUPTED = "interrupted: the worker {how} while training (a shutdown, or a crash around it); launch the run again"


def enqueue_train_run(*, run_id: int, attempt: int, soft_time_limit: int, time_limit: int,
                      priority: int | None = None) -> str:
    """Send one run to queue ``gpu``. ``priority`` (Redis broker: 0 is served first, 9 last; unset
    is 0) lets report-card runs queue behind single runs; see ``CARD_RUN_PRIORITY``."""
    options = {"priority": priority} if priority is not None else {}
    result = train_run.apply_async(args=[run_id, attempt], queue=QUEUE,
                                   soft_time_limit=soft_time_limit, time_limit=time_limit, **options)
    return result.id


def library_versions() -> dict:
    versions = {"python": platform.python_version()}
    for name in ("torch", "numpy", "composer", "celery", "django", "channels"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def pick_device() -> tuple[str, str]:
    """The device this run trains on: CUDA when present and allowed by COMPOSER_DEVICE, else CPU."""
    import torch
    from django.conf import settings

    from workers.celery_app import cpu_name

    wanted = getattr(settings, "COMPOSER_DEVICE", "auto")
    if wanted != "cpu" and torch.cuda.is_available():
        return "cuda", torch.cuda.get_device_name(0)
    return "cpu", cpu_name()


def _close_db_connection() -> None:
    from django.db import connection

    connection.close()


async def _publish(message: dict) -> None:
    from channels.layers import get_channel_layer

    from composer.runs.models import run_group_event, run_group_name

    await get_channel_layer().group_send(run_group_name(message["run"]), run_group_event(message))


def _make_stream(run_id: int):
    from django.db import transaction

    from composer.runs import services
    from workers.streaming import RunStream

    def store(messages, finalize):
        with transaction.atomic():
            if finalize is not None and not finalize():
                return False
            services.run_events_store(run_id=run_id, messages=messages)
            return True

    return RunStream(run_id, reserve=lambda count: services.run_reserve_seqs(run_id=run_id, count=count),
                     store=store, publish=_publish, on_thread_exit=_close_db_connection)


@app.task(name=TRAIN_TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def train_run(self, run_id: int, attempt: int) -> str:
    from django.db import DatabaseError

    from composer.runs.services import run_start

    try:
        run = run_start(run_id=run_id, attempt=attempt, hostname=self.request.hostname or "", task_id=self.request.id or "")
    except DatabaseError as error:
        # The database is busy or restarting: try the claim again later rather than leave the
        # run queued forever (the claim is idempotent, so a retry is always safe).
        _close_db_connection()
        raise self.retry(exc=error, countdown=CLAIM_RETRY_SECONDS, max_retries=CLAIM_MAX_RETRIES)
    if run is None:
        logger.info("run %s attempt %s: nothing to do", run_id, attempt)
        return "skipped"
    return execute_run(run)


def execute_run(run) -> str:
    """Train a claimed (running) run to its end state; returns that state."""
    from django.conf import settings

    from composer.runs import services
    from composer.runs.models import RunStatus

    stream = _make_stream(run.pk).start()
    heartbeat = workers_heartbeat(run)
    started = time.monotonic()
    last_cancel_check = [0.0]
    cancelled = [False]

    def should_stop() -> bool:
        if heartbeat.stop_reason:
            return True
        now = time.monotonic()
        if not cancelled[0] and now - last_cancel_check[0] >= CANCEL_POLL_SECONDS:
            last_cancel_check[0] = now
            cancelled[0] = type(run).objects.filter(pk=run.pk, cancel_requested=True).exists()
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
        device, device_name = pick_device()
        versions = library_versions()
        services.run_record_environment(run_id=run.pk, device=device, device_name=device_name, versions=versions)
        stream.emit("status", status=RunStatus.RUNNING.value, device=device, device_name=device_name,
                    hostname=run.worker_hostname, seed=run.seed, versions=versions)
        from workers.trainer import TrainConfig, train

        hyper, budget = run.hyper, run.budget
        # A report card's run also fixes its recipe (weight decay, warmup, evaluation, ...): any
        # further TrainConfig field in ``hyper`` is passed on.
        recipe = {f.name: hyper[f.name] for f in dataclasses.fields(TrainConfig)
                  if f.name not in ("steps", "batch_size", "lr", "seed", "max_seconds", "max_tokens", "device")
                  and hyper.get(f.name) is not None}
        config = TrainConfig(steps=int(hyper["steps"]), batch_size=int(hyper["batch_size"]), lr=float(hyper["lr"]),
                             seed=int(run.seed), max_seconds=budget.get("max_seconds"), max_tokens=budget.get("max_tokens"),
                             device=device, **recipe)
        out_dir = os.path.join(str(settings.COMPOSER_RUNS_DIR), str(run.pk))
        result = train(run.spec, run.task, run.task_params, config, on_event=on_event, should_stop=should_stop, out_dir=out_dir)
        result = json_safe({"device": device, "device_name": device_name, "versions": versions, **(result or {})})
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


def workers_heartbeat(run):
    from composer.runs import services
    from workers.heartbeat import Heartbeat

    def beat():
        control = services.run_heartbeat(run_id=run.pk, attempt=run.attempt)
        return control.reason if control.stop else None

    heartbeat = Heartbeat(beat, interval=services.HEARTBEAT_SECONDS, on_thread_exit=_close_db_connection)
    heartbeat.start()
    return heartbeat


@app.task(name="composer.runs.sweep_stale", ignore_result=True)
def sweep_stale_runs() -> list[int]:
    """For deployments that run Celery beat (see ``beat_schedule`` in celery_app)."""
    from composer.runs.services import runs_sweep_stale

    return runs_sweep_stale()
