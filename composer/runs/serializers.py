"""What the runs API answers: a run (in lists, in full), its recorded events and several runs'
curves side by side; ``GraphVersionJobSerializer`` is the part a report card shares with a run.

With ``context={"user": ...}`` a graph's title (and a run's spec and cost) are null for a user who
can no longer read the graph (a launcher whose graph was made private or deleted since).
"""
from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from composer.runs.models import RunStatus
from composer.runs.selectors import graph_readable, run_metrics_summary, run_queue_position, runs_queue_positions


class GraphVersionJobSerializer(serializers.Serializer):
    """What a run and a report card share: the graph version it trains and who launched it."""

    id = serializers.IntegerField()
    graph = serializers.IntegerField(source="graph_id", allow_null=True, help_text="Null once the graph is deleted.")
    graph_title = serializers.SerializerMethodField(help_text="Null when you can no longer read the graph.")
    version = serializers.IntegerField(source="graph_version.number", allow_null=True, help_text="Null once the graph is deleted.")
    user = serializers.CharField(source="user.username")

    def graph_readable(self, job) -> bool:
        if "user" not in self.context:
            return job.graph is not None
        return graph_readable(user=self.context["user"], run=job)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_graph_title(self, job) -> str | None:
        return job.graph.title if self.graph_readable(job) else None


class RunOutputSerializer(GraphVersionJobSerializer):
    card = serializers.IntegerField(source="card_id", allow_null=True, help_text="The report card this run belongs to.")
    card_key = serializers.CharField(help_text="Its entry in the card's plan.")
    task = serializers.CharField()
    task_params = serializers.DictField()
    hyper = serializers.DictField(help_text="steps, batch_size, lr as launched.")
    budget = serializers.DictField(help_text="max_seconds, max_tokens as launched.")
    seed = serializers.IntegerField()
    status = serializers.ChoiceField(choices=RunStatus.choices)
    cancel_requested = serializers.BooleanField()
    device = serializers.CharField()
    device_name = serializers.CharField()
    versions = serializers.DictField(help_text="Library versions the run trained with.")
    wall_seconds = serializers.FloatField(allow_null=True)
    final_metrics = serializers.DictField()
    checkpoint_path = serializers.CharField()
    error_message = serializers.CharField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    queue_position = serializers.SerializerMethodField(help_text="1 for the next run a worker takes; null unless queued.")

    @extend_schema_field(serializers.IntegerField(allow_null=True, min_value=1))
    def get_queue_position(self, run) -> int | None:
        # The context is the whole list's: a page of runs orders the queue once, not once per run.
        if "queue_positions" not in self.context:
            self.context["queue_positions"] = runs_queue_positions()
        return run_queue_position(run=run, positions=self.context["queue_positions"])


class MetricsSummarySerializer(serializers.Serializer):
    points = serializers.IntegerField(help_text="How many metrics events were recorded.")
    last_seq = serializers.IntegerField(help_text="Sequence number of the last event (0 before any).")
    latest = serializers.DictField(child=serializers.DictField(), help_text="Per split (train, eval): the latest metrics.")


class RunDetailOutputSerializer(RunOutputSerializer):
    spec = serializers.SerializerMethodField(help_text="The spec trained; null when you can no longer read the graph.")
    cost = serializers.SerializerMethodField(help_text="Its cost summary (per node); null as the spec.")
    error_traceback = serializers.CharField()
    metrics = serializers.SerializerMethodField()

    @extend_schema_field(MetricsSummarySerializer)
    def get_metrics(self, run):
        return run_metrics_summary(run=run)

    @extend_schema_field({"type": "object", "nullable": True, "additionalProperties": True})
    def get_spec(self, run):
        return run.spec if self.graph_readable(run) else None

    @extend_schema_field({"type": "object", "nullable": True, "additionalProperties": True})
    def get_cost(self, run):
        return run.cost if self.graph_readable(run) else None


class RunMetricsOutputSerializer(serializers.Serializer):
    run = serializers.IntegerField()
    status = serializers.ChoiceField(choices=RunStatus.choices)
    events = serializers.ListField(
        child=serializers.DictField(),
        help_text="Recorded messages in seq order, as the websocket sends them: type, run, seq and the event's payload.")
    last_seq = serializers.IntegerField(help_text="Pass it as ?since= to get only newer events.")


class ComparedRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    graph = serializers.IntegerField(allow_null=True)
    version = serializers.IntegerField(allow_null=True)
    graph_title = serializers.CharField(allow_null=True, help_text="Null when you can no longer read the graph.")
    task = serializers.CharField()
    status = serializers.ChoiceField(choices=RunStatus.choices)
    hyper = serializers.DictField()
    final_metrics = serializers.DictField()
    task_params = serializers.DictField()
    budget = serializers.DictField()
    seed = serializers.IntegerField()
    cost = serializers.DictField(help_text="params and flops_per_token.")
    wall_seconds = serializers.FloatField(allow_null=True)
    series = serializers.DictField(
        child=serializers.ListField(child=serializers.FloatField(allow_null=True)),
        help_text='"<split>.<metric>": one value per entry of steps (null where the run has none).')


class RunCompareOutputSerializer(serializers.Serializer):
    steps = serializers.ListField(child=serializers.IntegerField())
    runs = ComparedRunSerializer(many=True)

