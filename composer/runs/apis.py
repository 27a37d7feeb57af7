"""REST endpoints of runs, one class per operation: validate input -> call a service/selector -> serialise.

``POST /api/graphs/{id}/runs/``   launch (201 with the run and its queue position)
``GET  /api/runs/``               list (filters: graph, user, task, status)
``GET  /api/runs/{id}/``          detail with a metrics summary
``POST /api/runs/{id}/cancel/``   cancel
``GET  /api/runs/{id}/metrics/``  recorded events after ``?since=`` (for scripts)
``GET  /api/runs/compare/?ids=``  several runs' curves aligned by step
"""
from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from composer.graphs.selectors import graph_get_readable
from composer.runs.models import RunStatus
from composer.runs.selectors import (
    MAX_COMPARE_RUNS,
    MAX_EVENTS_PER_PAGE,
    graph_readable,
    run_compare,
    run_events_since,
    run_get_readable,
    run_list,
    run_metrics_summary,
    run_queue_position,
)
from composer.runs.services import LaunchRequest, RunError, run_cancel, run_launch


class RunApiBase(APIView):
    """Turns the services' ``RunError`` into ``{"message", "extra"}`` with its status code."""

    def handle_exception(self, exc):
        if isinstance(exc, RunError):
            return Response({"message": exc.message, "extra": exc.extra}, status=exc.status_code)
        return super().handle_exception(exc)


class GraphVersionJobSerializer(serializers.Serializer):
    """What a run and a report card share: the graph version it trains and who launched it.

    With ``context={"user": ...}`` the graph's title (and a run's spec and cost) are null for a
    user who can no longer read the graph (a launcher whose graph was made private or deleted since)."""

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
    task_params = serializers.JSONField()
    hyper = serializers.JSONField()
    budget = serializers.JSONField()
    seed = serializers.IntegerField()
    status = serializers.CharField()
    cancel_requested = serializers.BooleanField()
    device = serializers.CharField()
    device_name = serializers.CharField()
    versions = serializers.JSONField()
    wall_seconds = serializers.FloatField(allow_null=True)
    final_metrics = serializers.JSONField()
    checkpoint_path = serializers.CharField()
    error_message = serializers.CharField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    queue_position = serializers.SerializerMethodField()

    def get_queue_position(self, run):
        return run_queue_position(run=run)


class RunDetailOutputSerializer(RunOutputSerializer):
    spec = serializers.SerializerMethodField(help_text="The spec trained; null when you can no longer read the graph.")
    cost = serializers.SerializerMethodField(help_text="Its cost summary (per node); null as the spec.")
    error_traceback = serializers.CharField()
    metrics = serializers.SerializerMethodField()

    def get_metrics(self, run):
        return run_metrics_summary(run=run)

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_spec(self, run):
        return run.spec if self.graph_readable(run) else None

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_cost(self, run):
        return run.cost if self.graph_readable(run) else None


class RunLaunchApi(RunApiBase):
    permission_classes = [IsAuthenticated]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "runs"

    class InputSerializer(serializers.Serializer):
        task = serializers.CharField(max_length=64)
        task_params = serializers.DictField(required=False, default=dict)
        steps = serializers.IntegerField(min_value=1, default=200, help_text="Optimizer steps.")
        batch_size = serializers.IntegerField(min_value=1, default=16, help_text="Sequences per step.")
        lr = serializers.FloatField(min_value=1e-7, max_value=1.0, default=3e-3,
                                    help_text="Peak learning rate (AdamW, warm-up then cosine).")
        seed = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False, allow_null=True, default=None,
                                        help_text="Seed for weights and data (empty: drawn at random).")
        max_seconds = serializers.IntegerField(min_value=1, default=300, help_text="Stop after this many seconds of training.")
        max_tokens = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None,
                                              help_text="Stop after this many training tokens (empty: no token budget).")
        version = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)

    def post(self, request, graph_id):
        graph = graph_get_readable(user=request.user, graph_id=graph_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        run = run_launch(user=request.user, graph=graph, request=LaunchRequest(**serializer.validated_data))
        return Response(RunDetailOutputSerializer(run, context={"user": request.user}).data, status=status.HTTP_201_CREATED)


# Launch fields shown as the editor's hyper-parameter and budget forms (GET /api/limits/), each
# with the serializer's range narrowed by the per-run limit the launch enforces (limits.py).
LAUNCH_HYPER_FIELDS = ("steps", "batch_size", "lr", "seed")
LAUNCH_BUDGET_FIELDS = ("max_seconds", "max_tokens")
_LIMIT_OF_FIELD = {"steps": "max_steps", "batch_size": "max_batch_size", "max_seconds": "max_seconds",
                   "max_tokens": "max_tokens"}


def launch_field_schema(name: str, limits) -> dict:
    """One launch field as a registry-style ParamSchema: {name, type, default, min, max, choices, help, nullable}."""
    field = RunLaunchApi.InputSerializer().fields[name]
    high = field.max_value
    if name in _LIMIT_OF_FIELD:
        limit = getattr(limits, _LIMIT_OF_FIELD[name])
        high = limit if high is None else min(high, limit)
    default = field.default if field.default is not serializers.empty else None
    return {"name": name, "type": "int" if isinstance(field, serializers.IntegerField) else "float",
            "default": default, "min": field.min_value, "max": high, "choices": None,
            "help": str(field.help_text or ""), "nullable": bool(field.allow_null)}


class RunListApi(RunApiBase):
    class FilterSerializer(serializers.Serializer):
        graph = serializers.IntegerField(required=False, min_value=1)
        user = serializers.IntegerField(required=False, min_value=1)
        task = serializers.CharField(required=False, max_length=64)
        status = serializers.ChoiceField(required=False, choices=RunStatus.choices)
        standalone = serializers.BooleanField(required=False, default=False,
                                              help_text="Only runs launched on their own, not as a report card's.")

    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        runs = run_list(user=request.user, graph_id=data.get("graph"), user_id=data.get("user"),
                        task=data.get("task"), status=data.get("status"))
        if data["standalone"]:
            runs = runs.filter(card__isnull=True)
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(runs, request, view=self)
        return paginator.get_paginated_response(RunOutputSerializer(page, many=True, context={"user": request.user}).data)


class RunDetailApi(RunApiBase):
    def get(self, request, run_id):
        run = run_get_readable(user=request.user, run_id=run_id)
        return Response(RunDetailOutputSerializer(run, context={"user": request.user}).data)


class RunCancelApi(RunApiBase):
    permission_classes = [IsAuthenticated]

    def post(self, request, run_id):
        run = run_get_readable(user=request.user, run_id=run_id)
        run = run_cancel(user=request.user, run=run)
        return Response(RunOutputSerializer(run, context={"user": request.user}).data)


class RunMetricsApi(RunApiBase):
    class FilterSerializer(serializers.Serializer):
        since = serializers.IntegerField(required=False, min_value=0, default=0)
        limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_EVENTS_PER_PAGE, default=MAX_EVENTS_PER_PAGE)

    def get(self, request, run_id):
        run = run_get_readable(user=request.user, run_id=run_id)
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        events = run_events_since(run_id=run.pk, **filters.validated_data)
        last_seq = events[-1]["seq"] if events else filters.validated_data["since"]
        return Response({"run": run.pk, "status": run.status, "events": events, "last_seq": last_seq})


class RunCompareApi(RunApiBase):
    def get(self, request):
        raw = request.query_params.get("ids", "")
        try:
            ids = [int(part) for part in raw.split(",") if part.strip()]
        except ValueError:
            raise ValidationError({"ids": ["A comma-separated list of run ids, e.g. ?ids=1,2,3."]})
        if not ids:
            raise ValidationError({"ids": ["Give at least one run id, e.g. ?ids=1,2,3."]})
        if len(ids) > MAX_COMPARE_RUNS:
            raise ValidationError({"ids": [f"At most {MAX_COMPARE_RUNS} runs at once."]})
        return Response(run_compare(user=request.user, run_ids=list(dict.fromkeys(ids))))
