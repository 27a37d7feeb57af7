"""REST endpoints of report cards (same authorisation and error style as runs).

``POST /api/graphs/{id}/report-cards/``    launch: 201 with the card, 200 with an identical existing one
``POST /api/graphs/{id}/report-cards/plan/`` the same checks and the plan's size, runs and estimate; creates nothing
``GET  /api/report-cards/``                list / leaderboard (graph, suite, budget_kind, budget, mine, status, order)
``GET  /api/report-cards/suites/``         the suites (workers.report_card.SUITES)
``GET  /api/report-cards/{id}/``           the card, its progress, every entry's run, the summary so far
``POST /api/report-cards/{id}/cancel/``    cancel every queued or running run of the card
"""
from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from composer.cards.models import BudgetKind, CardStatus
from composer.cards.selectors import card_entries, card_get_readable, card_list, card_progress, card_summary
from composer.cards.services import CardRequest, card_cancel, card_launch, card_preview
from composer.core.api import LIST_OF_OBJECTS, ApiPagination, ApiView
from composer.graphs.selectors import MAX_GRAPH_ID, MAX_VERSION_NUMBER, graph_get_readable
from composer.runs.apis import RunApiBase
from composer.runs.serializers import GraphVersionJobSerializer
from workers.report_card import MAX_SEEDS

MAX_BUDGET = 10**15  # far beyond any reachable width; keeps the stored budget a bigint


class CardOutputSerializer(GraphVersionJobSerializer):
    suite = serializers.CharField()
    budget = serializers.JSONField()
    seeds = serializers.IntegerField()
    status = serializers.ChoiceField(choices=CardStatus.choices)
    cancel_requested = serializers.BooleanField()
    public = serializers.BooleanField(source="is_public")
    content_hash = serializers.CharField()
    params = serializers.SerializerMethodField()
    state_bytes = serializers.SerializerMethodField()
    estimate_seconds = serializers.SerializerMethodField()
    score = serializers.FloatField(allow_null=True)
    # What a leaderboard sorts and shows without fetching every card: per-task scores and wall time
    # of a finished card (summary.tasks, summary.wall_seconds), and whether the graph is a reference.
    task_scores = serializers.SerializerMethodField()
    wall_seconds = serializers.SerializerMethodField()
    graph_is_template = serializers.BooleanField(source="graph.is_template")
    progress = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_params(self, card) -> int:
        return card.plan.get("params")

    def get_state_bytes(self, card) -> int:
        return card.plan.get("state_bytes")

    def get_estimate_seconds(self, card) -> float:
        return card.plan.get("estimate_seconds")

    def get_task_scores(self, card) -> dict | None:
        return (card.summary or {}).get("tasks") if card.is_finished else None

    def get_wall_seconds(self, card) -> float | None:
        return (card.summary or {}).get("wall_seconds") if card.is_finished else None

    def get_progress(self, card) -> dict:
        return card_progress(card=card)


class CardDetailOutputSerializer(CardOutputSerializer):
    spec = serializers.SerializerMethodField(help_text="The spec as trained: scaled to the budget.")
    notes = serializers.SerializerMethodField()
    entries = serializers.SerializerMethodField()
    summary = serializers.SerializerMethodField()

    def get_spec(self, card) -> dict | None:
        return card.plan.get("spec") if self.graph_readable(card) else None

    def get_notes(self, card) -> list:
        return card.plan.get("notes", [])

    def get_entries(self, card) -> list:
        return card_entries(card=card)

    def get_summary(self, card) -> dict:
        # While runs are going the summary is recomputed from those that finished.
        return card.summary if card.is_finished else card_summary(card=card)


def card_examples() -> list[OpenApiExample]:
    """A card of the first suite at a small parameter budget."""
    from workers.report_card import suites_json

    return [OpenApiExample("A small card", request_only=True,
                           value={"suite": suites_json()[0]["name"], "params": 100_000, "seeds": 1})]


class CardLaunchApi(RunApiBase):
    permission_classes = [IsAuthenticated]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "runs"
    openapi_examples = staticmethod(card_examples)

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ReportCardLaunchInput"

        suite = serializers.CharField(max_length=32)
        params = serializers.IntegerField(min_value=1, max_value=MAX_BUDGET, required=False, allow_null=True, default=None,
                                          help_text="Target parameter count (give this or state).")
        state = serializers.IntegerField(min_value=1, max_value=MAX_BUDGET, required=False, allow_null=True, default=None,
                                         help_text="Target inference state size in bytes (give this or params).")
        seeds = serializers.IntegerField(min_value=1, max_value=MAX_SEEDS, default=1)
        version = serializers.IntegerField(min_value=1, max_value=MAX_VERSION_NUMBER, required=False, allow_null=True,
                                           default=None)

    @extend_schema(request=InputSerializer, responses={201: CardDetailOutputSerializer, 200: CardDetailOutputSerializer},
                   summary="Launch a report card (200 with an identical card that exists already)")
    def post(self, request, graph_id):
        graph = graph_get_readable(user=request.user, graph_id=graph_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        card, created = card_launch(user=request.user, graph=graph, request=CardRequest(**serializer.validated_data))
        return Response(CardDetailOutputSerializer(card, context={"user": request.user}).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class CardPreviewOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "ReportCardPreview"

    suite = serializers.CharField()
    budget = serializers.JSONField()
    seeds = serializers.ListField(child=serializers.IntegerField())
    version = serializers.IntegerField()
    params = serializers.IntegerField()
    state_bytes = serializers.IntegerField()
    d_model = serializers.IntegerField()
    runs = serializers.IntegerField()
    estimate_seconds = serializers.FloatField()
    notes = serializers.ListField(child=serializers.CharField())


class CardPreviewApi(RunApiBase):
    """What a launch with these settings would train, checked the same way, creating nothing."""

    permission_classes = [IsAuthenticated]
    openapi_examples = staticmethod(card_examples)

    @extend_schema(request=CardLaunchApi.InputSerializer, responses={200: CardPreviewOutputSerializer},
                   summary="Plan a report card without launching it: size at the budget, runs, wall-time estimate")
    def post(self, request, graph_id):
        graph = graph_get_readable(user=request.user, graph_id=graph_id)
        serializer = CardLaunchApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        preview = card_preview(graph=graph, request=CardRequest(**serializer.validated_data))
        return Response(CardPreviewOutputSerializer(preview).data)


class CardListApi(RunApiBase):
    pagination_class = ApiPagination

    class FilterSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ReportCardListQuery"


        graph = serializers.IntegerField(required=False, min_value=1, max_value=MAX_GRAPH_ID)
        suite = serializers.CharField(required=False, max_length=32)
        budget_kind = serializers.ChoiceField(required=False, choices=BudgetKind.choices)
        budget = serializers.IntegerField(required=False, min_value=1, max_value=MAX_BUDGET)
        mine = serializers.BooleanField(required=False, default=False)
        status = serializers.ChoiceField(required=False, choices=CardStatus.choices)
        order = serializers.ChoiceField(required=False, choices=["-created_at", "-score"], default="-created_at")

    @extend_schema(parameters=[FilterSerializer], responses={200: CardOutputSerializer(many=True)},
                   summary="Report cards you may see (public graphs' and your own); order=-score for a leaderboard")
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        cards = card_list(user=request.user, graph_id=data.get("graph"), suite=data.get("suite"), mine=data["mine"],
                          budget_kind=data.get("budget_kind"), budget=data.get("budget"), status=data.get("status"),
                          order=data["order"])
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(cards, request, view=self)
        return paginator.get_paginated_response(CardOutputSerializer(page, many=True, context={"user": request.user}).data)


class CardSuitesApi(ApiView):
    @extend_schema(responses={200: LIST_OF_OBJECTS}, summary="The report-card suites: tasks, settings, sweep")
    def get(self, request):
        from workers.report_card import suites_json

        return Response(suites_json())


class CardDetailApi(RunApiBase):
    @extend_schema(responses={200: CardDetailOutputSerializer}, summary="A report card with its runs and summary")
    def get(self, request, card_id):
        card = card_get_readable(user=request.user, card_id=card_id)
        return Response(CardDetailOutputSerializer(card, context={"user": request.user}).data)


class CardCancelApi(RunApiBase):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: CardOutputSerializer}, summary="Cancel every queued or running run of the card")
    def post(self, request, card_id):
        card = card_get_readable(user=request.user, card_id=card_id)
        card = card_cancel(user=request.user, card=card)
        return Response(CardOutputSerializer(card, context={"user": request.user}).data)
