"""REST endpoints of runs, one class per operation: validate input -> call a service/selector -> serialise.

``POST /api/graphs/{id}/runs/``   launch (201 with the run and its queue position)
``GET  /api/runs/``               list (filters: graph, user, task, status; paginated)
``GET  /api/runs/{id}/``          detail with a metrics summary
``POST /api/runs/{id}/cancel/``   cancel
``GET  /api/runs/{id}/metrics/``  recorded events after ``?since=`` (for scripts)
``GET  /api/runs/compare/?ids=``  several runs' curves aligned by step
"""
from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from composer.core.api import ApiPagination, ApiView
from composer.core.errors import ApplicationError
from composer.graphs.selectors import MAX_GRAPH_ID, graph_get_readable
from composer.runs.models import RunStatus
from composer.runs.selectors import (
    MAX_COMPARE_RUNS,
    MAX_EVENTS_PER_PAGE,
    run_compare,
    run_events_since,
    run_get_readable,
    run_list,
)
from composer.runs.serializers import (
    RunCompareOutputSerializer,
    RunDetailOutputSerializer,
    RunMetricsOutputSerializer,
    RunOutputSerializer,
)
from composer.runs.services import LaunchRequest, RunError, run_cancel, run_launch


class RunApiBase(ApiView):
    """The API base for views that call the runs' services: their ``RunError`` is answered as
    any ``ApplicationError`` (``{"message", "extra"}`` with its status)."""

    def handle_exception(self, exc):
        if isinstance(exc, RunError):
            exc = ApplicationError(exc.message, exc.extra, status_code=exc.status_code)
        return super().handle_exception(exc)


class RunLaunchApi(RunApiBase):
    permission_classes = [IsAuthenticated]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "runs"

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RunLaunchInput"

        task = serializers.CharField(max_length=64, help_text="A task name from GET /api/tasks/.")
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

    @classmethod
    def openapi_examples(cls) -> list[OpenApiExample]:
        """A short run of the task with the shortest sequences (it fits the smallest graphs)."""
        from workers.tasks import tasks_json

        task = min(tasks_json(), key=lambda entry: entry["default_seq_len"])
        return [OpenApiExample("A short run", request_only=True,
                               value={"task": task["name"], "steps": 10, "batch_size": 2, "max_seconds": 30})]

    @extend_schema(request=InputSerializer, responses={201: RunDetailOutputSerializer},
                   summary="Launch a run of the graph's latest (or a given) version; 201 with its queue position")
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
    pagination_class = ApiPagination

    class FilterSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RunListQuery"

        graph = serializers.IntegerField(required=False, min_value=1, max_value=MAX_GRAPH_ID)
        user = serializers.IntegerField(required=False, min_value=1, max_value=MAX_GRAPH_ID)
        task = serializers.CharField(required=False, max_length=64)
        status = serializers.ChoiceField(required=False, choices=RunStatus.choices)
        standalone = serializers.BooleanField(required=False, default=False,
                                              help_text="Only runs launched on their own, not as a report card's.")

    @extend_schema(parameters=[FilterSerializer], responses={200: RunOutputSerializer(many=True)},
                   summary="Runs you may see (on graphs you may read, and your own), newest first")
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        runs = run_list(user=request.user, graph_id=data.get("graph"), user_id=data.get("user"),
                        task=data.get("task"), status=data.get("status"))
        if data["standalone"]:
            runs = runs.filter(card__isnull=True)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(runs, request, view=self)
        return paginator.get_paginated_response(RunOutputSerializer(page, many=True, context={"user": request.user}).data)


class RunDetailApi(RunApiBase):
    @extend_schema(responses={200: RunDetailOutputSerializer}, summary="A run with its spec, cost and metrics summary")
    def get(self, request, run_id):
        run = run_get_readable(user=request.user, run_id=run_id)
        return Response(RunDetailOutputSerializer(run, context={"user": request.user}).data)


class RunCancelApi(RunApiBase):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: RunOutputSerializer},
                   summary="Cancel your queued or running run (a finished one is a 409)")
    def post(self, request, run_id):
        run = run_get_readable(user=request.user, run_id=run_id)
        run = run_cancel(user=request.user, run=run)
        return Response(RunOutputSerializer(run, context={"user": request.user}).data)


class RunMetricsApi(RunApiBase):
    class FilterSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RunMetricsQuery"

        since = serializers.IntegerField(required=False, min_value=0, default=0,
                                         help_text="Only events after this sequence number.")
        limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_EVENTS_PER_PAGE, default=MAX_EVENTS_PER_PAGE)

    @extend_schema(parameters=[FilterSerializer], responses={200: RunMetricsOutputSerializer},
                   summary="A run's recorded events after ?since= (what the websocket sent), for scripts")
    def get(self, request, run_id):
        run = run_get_readable(user=request.user, run_id=run_id)
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        events = run_events_since(run_id=run.pk, **filters.validated_data)
        last_seq = events[-1]["seq"] if events else filters.validated_data["since"]
        return Response({"run": run.pk, "status": run.status, "events": events, "last_seq": last_seq})


class RunCompareApi(RunApiBase):
    openapi_error_codes = ("404",)  # a run of ?ids= you may not read

    @extend_schema(
        parameters=[OpenApiParameter("ids", str, required=True, pattern=r"^[0-9]+(,[0-9]+)*$",
                                     description=f"Comma-separated run ids, at most {MAX_COMPARE_RUNS}.")],
        responses={200: RunCompareOutputSerializer}, summary="Several runs' curves aligned on the union of their steps")
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
