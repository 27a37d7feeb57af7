"""Runs (one training of one exact graph version on one task) and their recorded event stream.

A ``Run`` keeps everything needed to reproduce and explain a training: the spec it trained
(copied, not referenced), the task and its parameters, hyper-parameters, budget, seed, device,
library versions, wall time, final metrics and checkpoint, or the error and its traceback.

``RunEvent`` is the record of everything the run said, in order: status changes, metric points,
log lines, the final ``done`` or ``error``. Each event carries ``seq``, unique and increasing
per run, which is also the ``seq`` of the websocket message that showed it live, so a client
that reconnects with ``?since=SEQ`` gets exactly what it missed. Seqs are handed out from
``Run.seq_reserved`` (see ``services.run_reserve_seqs``): whoever writes events for a run
reserves them there first, so two writers never reuse a number even across a worker crash.
"""
from __future__ import annotations

import json

from django.conf import settings
from django.db import models


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)
FINISHED_STATUSES = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)


class Run(models.Model):
    # Null once the graph is deleted: its owner's runs go with it (``graph_delete``), other users'
    # runs stay theirs, keeping ``spec``, the frozen copy of the version they trained.
    graph = models.ForeignKey("graphs.Graph", null=True, on_delete=models.SET_NULL, related_name="runs")
    graph_version = models.ForeignKey("graphs.GraphVersion", null=True, on_delete=models.SET_NULL, related_name="runs")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="runs")
    spec = models.JSONField(help_text="The exact spec trained (a copy of the graph version's spec).")
    task = models.CharField(max_length=64)
    task_params = models.JSONField(default=dict, help_text="Resolved task parameters (defaults filled in).")
    hyper = models.JSONField(default=dict, help_text="lr, batch_size, steps, seed.")
    budget = models.JSONField(default=dict, help_text="max_seconds, max_tokens.")
    seed = models.BigIntegerField(default=0)
    cost = models.JSONField(default=dict, blank=True, help_text="Cost summary from validation at launch.")
    # A report card's child run (``composer.cards``): its card and its entry key in the card's plan.
    card = models.ForeignKey("cards.ReportCard", null=True, blank=True, on_delete=models.CASCADE, related_name="runs")
    card_key = models.CharField(max_length=128, blank=True, default="")

    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    cancel_requested = models.BooleanField(default=False)
    # Which delivery of the Celery task may run this run; a stale redelivery does nothing.
    attempt = models.PositiveIntegerField(default=1)
    celery_task_id = models.CharField(max_length=64, blank=True, default="")
    worker_hostname = models.CharField(max_length=255, blank=True, default="")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    seq_reserved = models.BigIntegerField(default=0, help_text="Highest event seq handed out so far.")

    device = models.CharField(max_length=16, blank=True, default="")
    device_name = models.CharField(max_length=255, blank=True, default="")
    versions = models.JSONField(default=dict, blank=True)
    wall_seconds = models.FloatField(null=True, blank=True)
    final_metrics = models.JSONField(default=dict, blank=True)
    checkpoint_path = models.CharField(max_length=1024, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    error_traceback = models.TextField(blank=True, default="")

    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["user", "status"]),
            models.Index(fields=["graph", "-created_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in RunStatus]), name="run_status_valid"
            ),
            models.UniqueConstraint(fields=["card", "card_key"], condition=models.Q(card__isnull=False),
                                    name="run_card_key_unique"),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.status})"

    @property
    def group_name(self) -> str:
        return run_group_name(self.pk)

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES


def run_group_name(run_id: int) -> str:
    """The Channels group of a run's live view (letters, digits, ``.-_`` only; under 100 chars)."""
    return f"run.{int(run_id)}"


def run_group_event(message: dict) -> dict:
    """The Channels event that carries one run message to its group. The JSON text is encoded
    once here, not once per subscribed websocket."""
    return {"type": "run.event", "message": message, "text": json.dumps(message)}


class EventType(models.TextChoices):
    STATUS = "status", "Status"
    METRICS = "metrics", "Metrics"
    LOG = "log", "Log"
    DONE = "done", "Done"
    ERROR = "error", "Error"


class RunEvent(models.Model):
    """One message of a run, exactly as sent on the websocket (``payload`` minus type/run/seq)."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="events")
    seq = models.BigIntegerField()
    type = models.CharField(max_length=16, choices=EventType.choices)
    # Denormalised from the payload of metrics events so curves can be read without JSON queries.
    step = models.IntegerField(null=True, blank=True)
    split = models.CharField(max_length=16, blank=True, default="")
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "seq"]
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="run_event_seq_unique")]

    def to_message(self) -> dict:
        return {**self.payload, "type": self.type, "run": self.run_id, "seq": self.seq}
