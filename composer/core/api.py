"""API pieces shared by every app (pagination, throttles, body-size limit) and the registry endpoints.

``GET /api/blocks/``, ``GET /api/tasks/`` and ``GET /api/spec-schema/`` serve the block registry,
the training-task registry and the spec's JSON Schema; ``GET /api/limits/`` the limits the server
enforces (per run, per user, per report card, per spec) and the group slots, so that no client
keeps a copy of them. The registries are imported when first asked for; one that fails to import
fails loudly (no fallback that would answer as if it were empty).
"""
from __future__ import annotations

from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.urls import resolve
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, pagination, permissions, throttling
from rest_framework.response import Response
from rest_framework.views import APIView

from composer.core.errors import ApplicationError
from composer.core.openapi import ApiSchema
from composer.core.parsers import JsonParser, RequestTooLarge, max_body_bytes, too_large_message


MAX_PAGE_SIZE = 100
# The registries' lists (blocks, tasks, suites) in the OpenAPI schema.
LIST_OF_OBJECTS = {"type": "array", "items": {"type": "object", "additionalProperties": True}}


class ApiPagination(pagination.PageNumberPagination):
    """Page-number pagination whose bad ``page`` / ``page_size`` answer 400 naming the parameter."""

    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 9 or not 1 <= int(raw) <= self.max_page_size:
            raise exceptions.ValidationError(
                {"page_size": [f"Must be an integer between 1 and {self.max_page_size}."]}
            )
        return int(raw)

    def paginate_queryset(self, queryset, request, view=None):
        raw = request.query_params.get(self.page_query_param)
        # isascii: str.isdigit() accepts "²", which int() refuses
        if raw is not None and raw != "last" and (not (raw.isascii() and raw.isdigit()) or len(raw) > 9 or int(raw) < 1):
            raise exceptions.ValidationError({"page": ["Must be a positive integer."]})
        try:
            return super().paginate_queryset(queryset, request, view)
        except exceptions.NotFound:
            raise exceptions.ValidationError({"page": ["That page contains no results."]})


class WriteRateThrottle(throttling.SimpleRateThrottle):
    """The ``writes`` rate per user (or per address when anonymous), applied to unsafe methods only."""

    scope = "writes"

    def allow_request(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return True
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class SignupRateThrottle(throttling.SimpleRateThrottle):
    """The ``signup`` rate, per client address: account creation is the cheapest thing to abuse."""

    scope = "signup"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class AnonymousValidateThrottle(throttling.AnonRateThrottle):
    """The ``validate`` rate per client address for anonymous requests (checking a spec saves
    nothing but costs CPU); logged-in users are not counted."""

    scope = "validate"


class ApiView(APIView):
    """Base of every Composer API view: JSON bodies only, refused with 413 past ``max_body_bytes()``
    (by their declared length before anything else, and while reading), the ``writes`` throttle on
    unsafe methods, and the OpenAPI description of its errors (``ApiSchema``)."""

    parser_classes = [JsonParser]
    throttle_classes = [WriteRateThrottle]
    schema = ApiSchema()

    def initial(self, request, *args, **kwargs):
        limit = max_body_bytes()
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit:
            raise RequestTooLarge(too_large_message(length, limit))
        super().initial(request, *args, **kwargs)


def api_not_found(request, path: str = ""):
    """Every /api/ path no view answers: a JSON 404 (Django's would be an HTML page). A GET of a
    path missing its final slash is redirected, as ``APPEND_SLASH`` did; other methods are told."""
    with_slash = request.path + "/"
    if not request.path.endswith("/") and resolve(with_slash).func is not api_not_found:
        if request.method in ("GET", "HEAD"):
            query = request.META.get("QUERY_STRING")
            return HttpResponsePermanentRedirect(with_slash + (f"?{query}" if query else ""))
        return JsonResponse({"message": f"No such API endpoint: {request.path} (did you mean {with_slash}?)",
                             "extra": {"path": with_slash}}, status=404)
    return JsonResponse({"message": f"No such API endpoint: {request.path}", "extra": {}}, status=404)


class BlockListApi(ApiView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(responses={200: LIST_OF_OBJECTS}, summary="Every block type of the registry")
    def get(self, request):
        from blocks.registry import registry_json

        return Response(registry_json())


class TaskListApi(ApiView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(responses={200: LIST_OF_OBJECTS}, summary="Every training task")
    def get(self, request):
        from workers.tasks import tasks_json

        return Response(tasks_json())


class SpecSchemaApi(ApiView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="JSON Schema of a graph spec")
    def get(self, request):
        from blocks.spec import spec_json_schema

        return Response(spec_json_schema())


LIMITS_CACHE_SECONDS = 300


def limits_json() -> dict:
    """Everything the server enforces that a client checks before asking, derived from its source:
    ``composer.runs.limits.run_limits()`` (settings and ``COMPOSER_RUN_LIMITS`` included), the launch
    serializer, ``workers.report_card.MAX_SEEDS`` and ``blocks.spec`` (``DEFAULT_LIMITS``, ``GROUP_SLOTS``)."""
    from dataclasses import asdict

    from blocks.spec import DEFAULT_LIMITS, GROUP_SLOTS, REQUIRED_SLOTS
    from composer.runs.apis import LAUNCH_BUDGET_FIELDS, LAUNCH_HYPER_FIELDS, launch_field_schema
    from composer.runs.limits import run_limits
    from workers.report_card import MAX_SEEDS

    limits = run_limits()
    return {
        "runs": asdict(limits),
        "launch": {
            "hyper": [launch_field_schema(name, limits) for name in LAUNCH_HYPER_FIELDS],
            "budget": [launch_field_schema(name, limits) for name in LAUNCH_BUDGET_FIELDS],
        },
        "cards": {"max_seeds": MAX_SEEDS},
        "spec": asdict(DEFAULT_LIMITS),
        "group_slots": {name: list(slots) for name, slots in GROUP_SLOTS.items()},
        "required_slots": {name: list(slots) for name, slots in REQUIRED_SLOTS.items()},
    }


class LimitsApi(ApiView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(responses={200: OpenApiTypes.OBJECT},
                   summary="Limits the server enforces (runs, users, cards, specs) and the group slots")
    def get(self, request):
        response = Response(limits_json())
        response["Cache-Control"] = f"public, max-age={LIMITS_CACHE_SECONDS}"
        return response
