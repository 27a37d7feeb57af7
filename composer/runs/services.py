"""Writes of the runs app: launch, cancel, the fair start of the next run, the worker's state
transitions, event storage, and the housekeeping (sweeper and lost-message recovery).

Every state change is a conditional update inside a transaction, so a run moves
``queued -> running -> succeeded | failed | cancelled`` exactly once whoever races (web, worker,
sweeper, a redelivered or spare queue message). Events get their ``seq`` from ``run_reserve_seqs``;
only one writer emits events at a time: the web while the run is queued, the worker while it runs,
the sweeper once the worker is gone.

The queue (docs/ARCHITECTURE.md, "Runs: queue, fairness, recovery"): the database holds the queue,
the broker only wakes workers. Each queued run puts one ``composer.runs.start_next`` message on
the Celery queue; the message names no run. A worker that takes one starts whichever queued run the
fair-share rule puts first (``run_claim_next``, order from ``selectors.runs_fair_queue``), so runs
take turns across users however they were sent, and a lost, spare or redelivered message can
neither lose a run nor train one twice.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from composer.cards.models import CardStatus, ReportCard
from composer.celery_app import QUEUE, app, waiting_messages
from composer.runs.limits import run_limits
from composer.runs.models import EventType, Run, RunEvent, RunStatus, run_group_event, run_group_name
from composer.runs.selectors import runs_fair_queue

logger = logging.getLogger(__name__)

# Message constants: tests assert on these.
MSG_DRAFT_INVALID = "The graph's spec does not validate; fix the errors before training it."
MSG_NO_VERSION = "The graph has no saved version to train."
MSG_TASK_INVALID = "The task or its parameters are invalid."
MSG_TOO_MANY_RUNNING = ("You already have {count} jobs running (limit {limit}; a report card counts as one); "
                        "wait for one to finish.")
MSG_TOO_MANY_QUEUED = "You already have {count} jobs queued (limit {limit}; a report card counts as one); wait or cancel one."
MSG_OVER_LIMIT = "{field} is {value}, over the per-run limit of {limit}."
MSG_SEQ_TOO_LONG = "The task's sequence length {seq_len} exceeds the model's max_seq_len {max_seq_len}."
MSG_ALREADY_FINISHED = "The run has already finished ({status}); there is nothing to cancel."
MSG_NOT_OWNER = "Only the user who launched a run may cancel it."
MSG_WORKER_LOST = "worker lost: no heartbeat since {since}"

# The running task refreshes ``heartbeat_at`` this often; the sweeper fails a run whose heartbeat
# is older than ``STALE_AFTER_SECONDS``. With the sweeper every ``SWEEP_INTERVAL_SECONDS`` a
# killed worker's run is failed within STALE_AFTER + SWEEP_INTERVAL = 40 s (the contract is 60 s).
# A run queued longer than ``REQUEUE_GRACE_SECONDS`` while the broker holds fewer messages than
# there are queued runs gets its message again (``runs_requeue_lost``). All four are settings.
HEARTBEAT_SECONDS = settings.COMPOSER_RUN_HEARTBEAT_SECONDS
STALE_AFTER_SECONDS = settings.COMPOSER_RUN_STALE_AFTER_SECONDS
SWEEP_INTERVAL_SECONDS = settings.COMPOSER_RUN_SWEEP_INTERVAL_SECONDS
REQUEUE_GRACE_SECONDS = settings.COMPOSER_RUN_REQUEUE_GRACE_SECONDS

# The Celery task every queue message asks for (``composer.runs.tasks.start_next_run``).
START_NEXT_TASK = "composer.runs.start_next"


class RunError(Exception):
    """A refusal the API answers with ``status_code`` and ``{"message", "extra"}``."""

    def __init__(self, message: str, extra: dict | None = None, *, status_code: int = 400):
        super().__init__(message)
        self.message = message
        self.extra = extra or {}
        self.status_code = status_code


def _field_error(field: str, message: str, **extra) -> RunError:
    return RunError(f"{field}: {message}", {"field": field, "fields": {field: [message]}, **extra})


@dataclass(frozen=True)
class LaunchRequest:
    task: str
    task_params: dict
    lr: float
    batch_size: int
    steps: int
    seed: int | None
    max_seconds: int
    max_tokens: int | None
    version: int | None = None


# --- launch ---------------------------------------------------------------------------------------


def _check_task(task_name: str, given: dict) -> tuple[object, dict]:
    from workers.tasks import get_task, resolve_task_params

    params, errors = resolve_task_params(task_name, given or {})
    if errors:
        payload = [e.to_json() if hasattr(e, "to_json") else {"field": "task_params", "message": str(e)} for e in errors]
        first = payload[0]
        raise RunError(f"{MSG_TASK_INVALID} {first['field']}: {first['message']}", {"errors": payload})
    return get_task(task_name), params


def _check_spec(spec: dict, *, vocab_size: int, causal: bool) -> dict:
    from blocks.spec import validate_spec

    # causal: the task is next-token prediction, so blocks that see the future are refused even
    # when the spec sets model.allow_noncausal (the error names the node).
    result = validate_spec(spec, vocab_size=vocab_size, causal=causal)
    if not result.ok:
        raise RunError(MSG_DRAFT_INVALID, {"errors": [e.to_json() for e in result.errors]})
    return result.cost.to_json() if result.cost is not None else {}


def _check_per_run_limits(request: LaunchRequest, cost: dict) -> None:
    limits = run_limits()
    checks = [
        ("steps", request.steps, limits.max_steps),
        ("batch_size", request.batch_size, limits.max_batch_size),
        ("max_seconds", request.max_seconds, limits.max_seconds),
        ("max_tokens", request.max_tokens or 0, limits.max_tokens),
        ("params", int(cost.get("params", 0)), limits.max_params),
        ("activation_bytes", int(cost.get("activation_bytes", 0) * request.batch_size), limits.max_activation_bytes),
    ]
    for field, value, limit in checks:
        if value > limit:
            raise _field_error(field, MSG_OVER_LIMIT.format(field=field, value=value, limit=limit), limit=limit, value=value)


def _user_jobs(user, status: str) -> int:
    """The user's (a user or its id) jobs in ``status``: single runs plus report cards, a card
    counting as ONE job however many child runs it has (its runs never count on their own)."""
    return (Run.objects.filter(user=user, status=status, card__isnull=True).count()
            + ReportCard.objects.filter(user=user, status=status).count())


def check_user_limits(user) -> None:
    """Refuse (429) a new job (a run or a report card) over the user's running/queued limits."""
    limits = run_limits()
    # Lock the user's row so two launches at once cannot both pass the count (PostgreSQL);
    # SQLite serialises writers anyway.
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()
    running = _user_jobs(user, RunStatus.RUNNING)
    if running >= limits.max_running_per_user:
        raise RunError(MSG_TOO_MANY_RUNNING.format(count=running, limit=limits.max_running_per_user),
                       {"limit": "max_running_per_user"}, status_code=429)
    queued = _user_jobs(user, RunStatus.QUEUED)
    if queued >= limits.max_queued_per_user:
        raise RunError(MSG_TOO_MANY_QUEUED.format(count=queued, limit=limits.max_queued_per_user),
                       {"limit": "max_queued_per_user"}, status_code=429)


def run_time_limits(run: Run | None = None) -> tuple[int, int]:
    """(soft, hard) time limits of a run from its budget: the trainer stops itself at max_seconds;
    the soft limit is the safety net (build, eval, checkpoint get the grace). Without a run: the
    limits of any run (the per-run max_seconds limit), which every queue message carries, since a
    message learns which run it starts only when a worker takes it."""
    limits = run_limits()
    soft = int((run.budget.get("max_seconds") if run is not None else None) or limits.max_seconds)
    soft += limits.time_limit_grace_seconds
    return soft, soft + 30


def graph_version_to_train(graph, number: int | None):
    """The graph's latest version, or version ``number``; a 400 when there is none."""
    versions = graph.versions.order_by("-number")
    version = versions.filter(number=number).first() if number else versions.first()
    if version is None:
        raise _field_error("version", MSG_NO_VERSION) if number else RunError(MSG_NO_VERSION)
    return version


def check_run_request(spec: dict, request: LaunchRequest, *, costs: dict | None = None) -> tuple[object, dict, dict]:
    """Every per-run check of training ``spec`` as ``request`` says: the task and its parameters,
    the spec at the task's vocabulary, the sequence length, the per-run size and time limits.
    Returns (task, resolved task params, cost). ``costs`` ((vocab size, next-token task) -> cost)
    saves validating the same spec again for many runs of it."""
    task, task_params = _check_task(request.task, request.task_params)
    vocab_size = task.vocab_size(task_params)
    # Keyed by the objective too: a non-causal spec valid for compression is not for a next-token task.
    key = (vocab_size, task.next_token)
    cost = costs.get(key) if costs is not None else None
    if cost is None:
        cost = _check_spec(spec, vocab_size=vocab_size, causal=task.next_token)
        if costs is not None:
            costs[key] = cost
    seq_len, max_seq_len = task.seq_len(task_params), int(spec.get("model", {}).get("max_seq_len", 0))
    if max_seq_len and seq_len > max_seq_len:
        raise _field_error("task_params", MSG_SEQ_TOO_LONG.format(seq_len=seq_len, max_seq_len=max_seq_len))
    _check_per_run_limits(request, cost)
    return task, task_params, cost


@transaction.atomic
def run_launch(*, user, graph, request: LaunchRequest) -> Run:
    """Create a queued run of the graph's latest (or the given) version and enqueue it on commit."""
    version = graph_version_to_train(graph, request.version)
    task, task_params, cost = check_run_request(version.spec, request)
    check_user_limits(user)

    seed = request.seed if request.seed is not None else random.randrange(2**31)
    return run_create_queued(
        graph=graph, graph_version=version, user=user, spec=version.spec, task=task.name,
        task_params=task_params, seed=seed, cost=cost,
        hyper={"lr": request.lr, "batch_size": request.batch_size, "steps": request.steps, "seed": seed},
        budget={"max_seconds": request.max_seconds, "max_tokens": request.max_tokens},
    )


def run_create_queued(**fields) -> Run:
    """Create a queued run (``fields`` are Run's), record its first status and put its message on
    the queue on commit (so a worker always finds the row). Call inside the launch's transaction,
    after every check: a refusal leaves nothing behind."""
    run = Run.objects.create(**fields)
    run_events_append(run_id=run.pk, events=[{"type": EventType.STATUS, "status": RunStatus.QUEUED}])
    transaction.on_commit(lambda: runs_send_start(1))
    return run


def send_start_messages(count: int) -> None:
    """Put ``count`` ``start_next`` messages on the queue (tests replace this to stay off a broker)."""
    soft, hard = run_time_limits()
    for _ in range(count):
        app.send_task(START_NEXT_TASK, queue=QUEUE, soft_time_limit=soft, time_limit=hard)


def runs_send_start(count: int) -> bool:
    """``send_start_messages``, logging a broker outage instead of raising: the runs stay queued and
    the housekeeping sends their messages once the broker is back (``runs_requeue_lost``)."""
    try:
        send_start_messages(count)
        return True
    except Exception:
        logger.warning("could not send %s start message(s); the housekeeping sends them later", count, exc_info=True)
        return False


# --- events -----------------------------------------------------------------------------------------


def run_reserve_seqs(*, run_id: int, count: int) -> int:
    """Hand out ``count`` new seqs for the run; returns the last one (the first is last - count + 1)."""
    with transaction.atomic():
        Run.objects.filter(pk=run_id).update(seq_reserved=F("seq_reserved") + count)
        return Run.objects.filter(pk=run_id).values_list("seq_reserved", flat=True).get()


def _event_row(run_id: int, message: dict) -> RunEvent:
    payload = {k: v for k, v in message.items() if k not in ("type", "run", "seq")}
    step = payload.get("step") if message["type"] == EventType.METRICS else None
    return RunEvent(run_id=run_id, seq=message["seq"], type=message["type"], payload=payload,
                    step=step, split=str(payload.get("split", "")) if step is not None else "")


def run_events_store(*, run_id: int, messages: list[dict]) -> None:
    """Store already-numbered messages. Idempotent: a retried batch that had committed adds nothing."""
    RunEvent.objects.bulk_create([_event_row(run_id, m) for m in messages], ignore_conflicts=True)


def run_events_append(*, run_id: int, events: list[dict]) -> list[dict]:
    """Number, store and (after commit) publish events written outside a worker (web, sweeper)."""
    last = run_reserve_seqs(run_id=run_id, count=len(events))
    messages = [{**event, "type": str(event["type"]), "run": run_id, "seq": last - len(events) + 1 + i}
                for i, event in enumerate(events)]
    run_events_store(run_id=run_id, messages=messages)
    transaction.on_commit(lambda: run_publish(messages))
    return messages


def run_publish(messages: list[dict]) -> None:
    """Best effort live publish from a sync context; the database already holds the messages."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    try:
        for message in messages:
            async_to_sync(layer.group_send)(run_group_name(message["run"]), run_group_event(message))
    except Exception:  # a channel-layer outage never fails a request; clients catch up from the DB
        logger.warning("live publish of run events failed", exc_info=True)


# --- the worker's transitions --------------------------------------------------------------------------


def _heartbeat_is_stale(run: Run, now: datetime) -> bool:
    beat = run.heartbeat_at or run.started_at
    return beat is None or beat < now - timedelta(seconds=STALE_AFTER_SECONDS)


def _claim_locked(run: Run, now: datetime, hostname: str, task_id: str) -> Run:
    run.status, run.started_at, run.heartbeat_at = RunStatus.RUNNING, now, now
    run.worker_hostname, run.celery_task_id = hostname[:255], task_id or run.celery_task_id
    run.save(update_fields=["status", "started_at", "heartbeat_at", "worker_hostname", "celery_task_id"])
    _card_run_changed(run.pk, run.card_id)
    return run


def run_start(*, run_id: int, attempt: int, hostname: str = "", task_id: str = "") -> Run | None:
    """Claim one given queued run. None means there is nothing to do: the run finished or was
    cancelled, a newer attempt owns it, or another live worker runs it. A running run whose worker
    died (stale heartbeat) is failed as lost: policy is no automatic retry."""
    now = timezone.now()
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.attempt != attempt:
            return None
        if run.status == RunStatus.RUNNING:
            if _heartbeat_is_stale(run, now):
                _fail_locked(run, MSG_WORKER_LOST.format(since=(run.heartbeat_at or run.started_at).isoformat()), now)
            return None
        if run.status != RunStatus.QUEUED:
            return None
        return _claim_locked(run, now, hostname, task_id)


def _may_start(run: Run, running_jobs: dict[int, int], limit: int) -> bool:
    """Whether starting ``run`` keeps its user within ``max_running_per_user`` jobs: a report card
    that is already running is one job, so it may take more runs; anything else needs a free slot."""
    if run.card_id is not None and ReportCard.objects.filter(pk=run.card_id, status=CardStatus.RUNNING).exists():
        return True
    if run.user_id not in running_jobs:
        running_jobs[run.user_id] = _user_jobs(run.user_id, RunStatus.RUNNING)
    return running_jobs[run.user_id] < limit


def run_claim_next(*, hostname: str = "", task_id: str = "") -> Run | None:
    """Start the queued run the fair-share rule puts first (``selectors.runs_fair_queue``: users
    take turns, least recently served first), skipping users at their running-jobs limit; None
    when no queued run may start now. A row another worker is claiming is skipped, not waited for
    (PostgreSQL ``SKIP LOCKED``; SQLite runs one writing transaction at a time anyway)."""
    now = timezone.now()
    limit = run_limits().max_running_per_user
    running_jobs: dict[int, int] = {}
    with transaction.atomic():
        for candidate in runs_fair_queue():
            if not _may_start(candidate, running_jobs, limit):
                continue
            run = Run.objects.select_for_update(skip_locked=True).filter(pk=candidate.pk, status=RunStatus.QUEUED).first()
            if run is not None:
                return _claim_locked(run, now, hostname, task_id)
    return None


@dataclass(frozen=True)
class RunControl:
    """What the worker learns at each heartbeat: keep going, or stop (and why)."""

    stop: bool
    reason: str = ""


def run_heartbeat(*, run_id: int, attempt: int) -> RunControl:
    updated = Run.objects.filter(pk=run_id, attempt=attempt, status=RunStatus.RUNNING).update(heartbeat_at=timezone.now())
    if not updated:
        return RunControl(stop=True, reason="run is no longer running for this attempt")
    if Run.objects.filter(pk=run_id, cancel_requested=True).exists():
        return RunControl(stop=True, reason="cancelled")
    return RunControl(stop=False)


def run_finish(*, run_id: int, attempt: int, status: str, result: dict | None = None,
               error_message: str = "", error_traceback: str = "") -> bool:
    """Record the end of a running run (call inside the transaction that stores its last events)."""
    result = result or {}
    fields = {
        "status": status, "finished_at": timezone.now(), "error_message": error_message,
        "error_traceback": error_traceback,
    }
    if result:
        fields.update(
            device=str(result.get("device", ""))[:16], device_name=str(result.get("device_name", ""))[:255],
            versions=result.get("versions") or {}, wall_seconds=result.get("wall_seconds"),
            checkpoint_path=str(result.get("checkpoint") or "")[:1024],
            final_metrics={k: result.get(k) for k in FINAL_METRIC_KEYS if k in result},
        )
    finished = bool(Run.objects.filter(pk=run_id, attempt=attempt, status=RunStatus.RUNNING).update(**fields))
    if finished:
        _card_run_changed(run_id, Run.objects.filter(pk=run_id).values_list("card_id", flat=True).first())
    return finished


def _card_run_changed(run_id: int, card_id: int | None) -> None:
    """A report card's child run changed status (inside that change's transaction): the card's
    status, summary and live view follow. Lock order is always run, then card."""
    if card_id is not None:
        from composer.cards.services import card_run_changed

        card_run_changed(card_id=card_id, run_id=run_id)


FINAL_METRIC_KEYS = ("final_train_loss", "final_eval_loss", "eval_accuracy", "params", "tokens_per_s",
                     "wall_seconds", "steps", "stopped")


def run_record_environment(*, run_id: int, device: str, device_name: str, versions: dict) -> None:
    Run.objects.filter(pk=run_id).update(device=device[:16], device_name=device_name[:255], versions=versions)


# --- failures, cancellation, the sweeper ---------------------------------------------------------------


def _fail_locked(run: Run, message: str, now: datetime, traceback_text: str = "") -> None:
    run.status, run.finished_at, run.error_message = RunStatus.FAILED, now, message
    run.error_traceback = traceback_text or run.error_traceback
    run.save(update_fields=["status", "finished_at", "error_message", "error_traceback"])
    run_events_append(run_id=run.pk, events=[
        {"type": EventType.STATUS, "status": RunStatus.FAILED},
        {"type": EventType.ERROR, "message": message, "traceback": run.error_traceback},
    ])
    _card_run_changed(run.pk, run.card_id)


def run_fail(*, run_id: int, message: str, traceback_text: str = "", only_if=(RunStatus.QUEUED, RunStatus.RUNNING)) -> bool:
    """Fail a run from outside its worker (enqueue failure, lost worker); False if it had moved on."""
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(pk=run_id, status__in=only_if).first()
        if run is None:
            return False
        _fail_locked(run, message, timezone.now(), traceback_text)
        return True


def run_cancel(*, user, run: Run) -> Run:
    """Cancel: a queued run ends at once (the worker will skip it); a running one gets a flag its
    worker reads at every step (``should_stop``) and ends within one step."""
    if not (user and user.is_authenticated and run.user_id == user.pk):
        raise RunError(MSG_NOT_OWNER, status_code=403)
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run.pk)
        if run.status == RunStatus.QUEUED:
            run.status, run.cancel_requested, run.finished_at = RunStatus.CANCELLED, True, timezone.now()
            run.save(update_fields=["status", "cancel_requested", "finished_at"])
            run_events_append(run_id=run.pk, events=[
                {"type": EventType.STATUS, "status": RunStatus.CANCELLED},
                {"type": EventType.DONE, "status": RunStatus.CANCELLED, "result": {}},
            ])
            _card_run_changed(run.pk, run.card_id)
        elif run.status == RunStatus.RUNNING:
            if not run.cancel_requested:
                run.cancel_requested = True
                run.save(update_fields=["cancel_requested"])
        elif run.status != RunStatus.CANCELLED:
            raise RunError(MSG_ALREADY_FINISHED.format(status=run.status), {"status": run.status}, status_code=409)
    return run


def runs_sweep_stale(*, now: datetime | None = None, stale_after_seconds: float | None = None) -> list[int]:
    """Fail every running run whose heartbeat is older than the threshold ("worker lost")."""
    now = now or timezone.now()
    stale = STALE_AFTER_SECONDS if stale_after_seconds is None else stale_after_seconds
    cutoff = now - timedelta(seconds=stale)
    candidates = Run.objects.filter(status=RunStatus.RUNNING, heartbeat_at__lt=cutoff).values_list("pk", flat=True)
    failed = []
    for run_id in list(candidates):
        with transaction.atomic():
            run = Run.objects.select_for_update().filter(pk=run_id, status=RunStatus.RUNNING, heartbeat_at__lt=cutoff).first()
            if run is None:
                continue
            _fail_locked(run, MSG_WORKER_LOST.format(since=run.heartbeat_at.isoformat()), now)
            failed.append(run_id)
    if failed:
        logger.warning("sweeper failed runs with stale heartbeats: %s", failed)
    return failed


def runs_requeue_lost(*, now: datetime | None = None, grace_seconds: float | None = None) -> int:
    """Send the queue its missing messages: when runs have been queued longer than the grace period
    and the broker holds fewer waiting messages than there are queued runs (a Redis restart
    without its data, a send that failed while the broker was down, a message used up by a worker
    that could not start anything then), send the difference. Returns how many were sent.

    Idempotent by construction: a message names no run, and a run starts only by its
    ``queued -> running`` claim, so a spare message starts nothing and no run trains twice. A
    message a worker holds but has not yet claimed with is not counted as waiting, so at worst one
    spare message per busy moment is sent, never one too few."""
    now = now or timezone.now()
    grace = REQUEUE_GRACE_SECONDS if grace_seconds is None else grace_seconds
    queued = Run.objects.filter(status=RunStatus.QUEUED)
    overdue = queued.filter(created_at__lte=now - timedelta(seconds=grace)).count()
    if not overdue:
        return 0
    total, waiting = queued.count(), waiting_messages()
    missing = min(overdue, total - waiting)
    if missing <= 0:
        return 0
    logger.warning("%s run(s) queued, %s message(s) waiting on the queue: sending %s", total, waiting, missing)
    return missing if runs_send_start(missing) else 0


def runs_housekeeping() -> dict:
    """What every worker's housekeeping thread runs at start and every ``SWEEP_INTERVAL_SECONDS``
    (``composer.celery_app``): fail lost runs, then recover lost queue messages."""
    return {"failed": runs_sweep_stale(), "requeued": runs_requeue_lost()}
