"""Report cards: one spec measured on a named suite of diagnostic tasks at a matched size.

A ``ReportCard`` holds the plan (``workers.report_card.plan_card``: the spec scaled to the budget
and one entry per task setting x learning rate x weight decay x seed) and fans out one ordinary
``Run`` per entry (``Run.card`` / ``Run.card_key``), so each child has the runs' states, heartbeat,
cancel and websocket. The card's own status follows its children (``services.card_run_changed``):

    queued -> running -> succeeded | partial | failed | cancelled

``partial``: every run ended, some succeeded and some did not (a lost worker, a diverged run);
the summary scores what finished and lists the rest in ``summary.failed``. ``failed``: none
succeeded. ``cancelled``: the owner cancelled the card.

Identity: ``content_hash`` is the sha256 of the canonical JSON of (spec without layout, suite
definition, budget, seeds); a launch whose hash matches a succeeded card the user may read gets that
card back instead of training again. Visibility is the graph's (``is_public``), never stored.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models


class CardStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Partial (some runs failed)"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


CARD_ACTIVE_STATUSES = (CardStatus.QUEUED, CardStatus.RUNNING)


class BudgetKind(models.TextChoices):
    PARAMS = "params", "Parameters"
    STATE = "state", "Inference state bytes"


class ReportCard(models.Model):
    graph = models.ForeignKey("graphs.Graph", on_delete=models.CASCADE, related_name="report_cards")
    # RESTRICT as for runs: the version measured stays while the card refers to it.
    graph_version = models.ForeignKey("graphs.GraphVersion", on_delete=models.RESTRICT, related_name="report_cards")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_cards")
    suite = models.CharField(max_length=32)
    budget_kind = models.CharField(max_length=8, choices=BudgetKind.choices)
    budget_value = models.BigIntegerField()
    seeds = models.PositiveSmallIntegerField(default=1)
    plan = models.JSONField(help_text="CardPlan.to_json(): the scaled spec, its size, the entries and the estimate.")
    content_hash = models.CharField(max_length=64, db_index=True)

    status = models.CharField(max_length=16, choices=CardStatus.choices, default=CardStatus.QUEUED)
    cancel_requested = models.BooleanField(default=False)
    summary = models.JSONField(default=dict, blank=True, help_text="summarise_card() of the finished runs.")
    score = models.FloatField(null=True, blank=True, help_text="summary.score, for ordering a leaderboard.")
    # Bumped with every change the card's websocket announces; a client drops older messages.
    seq = models.BigIntegerField(default=0)

    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "status"]),
            models.Index(fields=["graph", "-created_at"]),
            models.Index(fields=["suite", "budget_kind", "budget_value"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in CardStatus]), name="card_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(budget_kind__in=[k.value for k in BudgetKind]), name="card_budget_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"report card {self.pk} ({self.suite}, {self.status})"

    @property
    def is_public(self) -> bool:
        from composer.graphs.models import Visibility

        return self.graph.visibility == Visibility.PUBLIC

    @property
    def is_finished(self) -> bool:
        return self.status not in CARD_ACTIVE_STATUSES

    @property
    def budget(self) -> dict:
        return {"kind": self.budget_kind, "value": self.budget_value}


def card_group_name(card_id: int) -> str:
    """The Channels group of a card's live view (every child run's status changes)."""
    return f"card.{int(card_id)}"
