"""Graphs (architecture specs owned by a user), their immutable numbered versions, and stars.

``Graph.spec`` is the current spec; every save also writes a ``GraphVersion`` so history is never
lost. A graph may be saved as a draft whose spec does not validate (``is_valid`` false): the runs
app refuses to train such a graph.
"""
from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


SHARE_TOKEN_BYTES = 24  # 192 random bits, 32 URL-safe characters


def new_share_token() -> str:
    """The secret of an unlisted graph's link (``/graphs/u/<token>``): unguessable, unlike its id."""
    return secrets.token_urlsafe(SHARE_TOKEN_BYTES)


class Visibility(models.TextChoices):
    PRIVATE = "private", "Private"
    UNLISTED = "unlisted", "Unlisted (anyone with the link)"
    PUBLIC = "public", "Public (listed in the gallery)"


class Graph(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="graphs")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    tags = models.JSONField(default=list, blank=True)
    # Tags as lower-case text, one per line, for a portable case-insensitive search (JSON containment
    # is not available on SQLite, and a JSON-to-text cast escapes non-ASCII characters there).
    tags_text = models.TextField(blank=True, default="")
    visibility = models.CharField(max_length=16, choices=Visibility.choices, default=Visibility.PRIVATE)
    is_template = models.BooleanField(default=False)
    # Anyone with this token reads an unlisted graph (GET /api/graphs/shared/<token>/); its numeric
    # id is 404 to everyone but the owner, so unlisted graphs cannot be enumerated.
    share_token = models.CharField(max_length=64, unique=True, default=new_share_token, editable=False)
    # Stable name of a template loaded from examples/ (its file stem), so reloading updates it in place.
    template_slug = models.CharField(max_length=100, blank=True, default="", db_index=True)
    spec = models.JSONField()
    is_valid = models.BooleanField(default=False)
    # Block type names used by the current spec, kept in step with ``spec`` so that the gallery
    # can search "block types used" without parsing JSON in the database (SQLite and PostgreSQL alike).
    block_types = models.JSONField(default=list, blank=True)
    block_types_text = models.TextField(blank=True, default="")  # " mamba mlp " (space-delimited)
    forked_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="forks")
    forked_from_version = models.ForeignKey(
        "GraphVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="forks"
    )
    # Denormalised counters, updated in the same transaction as the Star / fork rows they count,
    # so that the gallery can order by them cheaply.
    star_count = models.PositiveIntegerField(default=0)
    fork_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [
            models.Index(fields=["visibility", "-updated_at"]),
            models.Index(fields=["owner", "-updated_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(visibility__in=[v.value for v in Visibility]), name="graph_visibility_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} (#{self.pk})"

    @property
    def latest_version(self) -> "GraphVersion | None":
        return self.versions.order_by("-number").first()


class GraphVersion(models.Model):
    """One saved state of a graph. Immutable: saving an existing version raises."""

    graph = models.ForeignKey(Graph, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    spec = models.JSONField()
    message = models.CharField(max_length=500, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="graph_versions"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    is_valid = models.BooleanField(default=False)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["graph", "number"], name="graph_version_number_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.graph_id} v{self.number}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError("A graph version is immutable; save a new version instead.")
        super().save(*args, **kwargs)


class Star(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="stars")
    graph = models.ForeignKey(Graph, on_delete=models.CASCADE, related_name="stars")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "graph"], name="star_once_per_user")]
