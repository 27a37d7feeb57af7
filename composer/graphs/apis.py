"""REST API of graphs: CRUD, gallery, versions, diff, restore, fork, stars, lineage, validate,
diagram and export. One view per URL, with nested Input/Output serializers: validate the input,
call a service or selector, serialise the result. Errors are raised, never formatted here
(``composer.core.errors`` turns them into ``{"message", "extra"}``).

Visibility: whoever may not read a graph gets 404 for everything about it; whoever may read but
does not own it gets 403 on changes. An unlisted graph is read through its link's token
(``/api/graphs/shared/<token>/``: detail, fork, diagram, export); its numeric URLs are 404 to all
but its owner.
"""
from __future__ import annotations

import logging

from django.core.cache import cache
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.response import Response

from composer.core.api import AnonymousValidateThrottle, ApiPagination, ApiView
from composer.core.errors import REDIS_DOWN, ApplicationError
from composer.core.openapi import spec_example
from composer.graphs import selectors, services
from composer.graphs.diff import spec_diff
from composer.graphs.models import Graph, GraphVersion, Visibility
from composer.graphs.spec_shape import spec_shape_errors
from composer.graphs.validation import DEFAULT_VOCAB_SIZE, validate_graph_spec

logger = logging.getLogger(__name__)

MAX_TAGS = 20
MAX_TAG_LENGTH = 50
MAX_VOCAB_SIZE = 1_000_000
DIAGRAM_CONTENT_TYPES = {"svg": "image/svg+xml", "png": "image/png"}
DIAGRAM_CACHE_SECONDS = 7 * 24 * 3600
SPEC_INVALID_FOR_EXPORT = "The spec is invalid: fix its errors before exporting it as Python."


# --- fields shared by the serializers -------------------------------------------------------

class SpecField(serializers.JSONField):
    """A spec: its JSON shape is checked here; its meaning by ``validate_spec`` in the service.
    The OpenAPI schema describes it by the spec's JSON Schema (``composer.core.openapi``)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "A spec (the Spec schema, served at /api/spec-schema/). A draft that breaks it "
                                       "is stored too, with is_valid false; /api/graphs/validate/ lists its errors.")
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        errors = spec_shape_errors(data)
        if errors:
            if "" in errors:
                raise serializers.ValidationError(errors[""])
            raise serializers.ValidationError({path: [message] for path, message in errors.items()})
        return data


class TagsField(serializers.ListField):
    def __init__(self, **kwargs):
        super().__init__(
            child=serializers.CharField(max_length=MAX_TAG_LENGTH, allow_blank=False),
            max_length=MAX_TAGS,
            **kwargs,
        )


def _graph_summary(graph: Graph, *, starred: bool, parent_readable: bool) -> dict:
    return {
        "id": graph.pk,
        "title": graph.title,
        "description": graph.description,
        "tags": graph.tags,
        "visibility": graph.visibility,
        "is_template": graph.is_template,
        "is_valid": graph.is_valid,
        "owner": graph.owner.username,
        "block_types": graph.block_types,
        "star_count": graph.star_count,
        "fork_count": graph.fork_count,
        "starred": starred,
        "forked_from": graph.forked_from_id if parent_readable else None,
        "created_at": graph.created_at,
        "updated_at": graph.updated_at,
    }


class GraphSummaryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    description = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    visibility = serializers.ChoiceField(choices=Visibility.choices)
    is_template = serializers.BooleanField()
    is_valid = serializers.BooleanField()
    owner = serializers.CharField()
    block_types = serializers.ListField(child=serializers.CharField())
    star_count = serializers.IntegerField()
    fork_count = serializers.IntegerField()
    starred = serializers.BooleanField()
    forked_from = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ValidationOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    errors = serializers.ListField(child=serializers.DictField())
    cost = serializers.DictField(allow_null=True)


class GraphDetailOutput(GraphSummaryOutput):
    spec = serializers.JSONField()
    version = serializers.IntegerField(allow_null=True)
    forked_from_version = serializers.IntegerField(allow_null=True)
    forked_from_title = serializers.CharField(allow_null=True)
    forked_from_owner = serializers.CharField(allow_null=True, help_text="Whose graph this one was forked from.")
    forked_from_link = serializers.CharField(
        allow_null=True, help_text="Browser path of the parent: /graphs/<id>, or /graphs/u/<token> for the owner of a "
                                   "fork of an unlisted graph; null when you may not read the parent.")
    share_token = serializers.CharField(
        allow_null=True, help_text="The secret of the graph's link (/graphs/u/<token>); only its owner is told.")
    can_edit = serializers.BooleanField(help_text="Whether you may change it (the editor asks the server, not a copy of the rule).")
    validation = ValidationOutput(required=False)


def graph_summaries(graphs, *, user) -> list[dict]:
    graphs = list(graphs)
    starred = selectors.graph_starred_ids(user=user, graph_ids=[g.pk for g in graphs])
    parent_ids = {g.forked_from_id for g in graphs if g.forked_from_id is not None}
    readable_parents = set(
        selectors.graph_readable_queryset(user=user).filter(pk__in=parent_ids).values_list("pk", flat=True)
    ) if parent_ids else set()
    return [
        _graph_summary(g, starred=g.pk in starred, parent_readable=g.forked_from_id in readable_parents) for g in graphs
    ]


def _parent_link(graph: Graph, *, user) -> str | None:
    """Where the viewer may open the graph's parent: by id when they may read it; by its link when
    it is unlisted and the viewer owns the fork (they were given the link); otherwise nowhere."""
    parent = graph.forked_from
    if parent is None:
        return None
    if selectors.graph_can_read(user=user, graph=parent):
        return f"/graphs/{parent.pk}"
    if parent.visibility == Visibility.UNLISTED and selectors.graph_can_write(user=user, graph=graph):
        return f"/graphs/u/{parent.share_token}"
    return None


def graph_detail(graph: Graph, *, user, check=None) -> dict:
    graph.refresh_from_db()  # counters are updated with F() expressions
    parent = graph.forked_from
    parent_link = _parent_link(graph, user=user)
    parent_readable = parent_link is not None
    can_edit = selectors.graph_can_write(user=user, graph=graph)
    starred = bool(selectors.graph_starred_ids(user=user, graph_ids=[graph.pk]))
    body = _graph_summary(graph, starred=starred, parent_readable=parent_readable)
    latest = graph.latest_version
    body.update(
        spec=graph.spec,
        version=latest.number if latest else None,
        forked_from=parent.pk if parent_readable else None,
        forked_from_title=parent.title if parent_readable else None,
        forked_from_owner=parent.owner.username if parent_readable else None,
        forked_from_link=parent_link,
        forked_from_version=graph.forked_from_version.number if parent_readable and graph.forked_from_version else None,
        share_token=graph.share_token if can_edit else None,
        can_edit=can_edit,
    )
    if check is not None:
        body["validation"] = check.to_json()
    return body


def _readable_graph(request, graph_id=None, token=None) -> Graph:
    """The graph of the URL: by id (``graph_id``) or by its link's token (``token``, shared URLs)."""
    if token is not None:
        return selectors.graph_get_shared(token=token)
    return selectors.graph_get_readable(user=request.user, graph_id=graph_id)


def _require_login(request) -> None:
    if not request.user or not request.user.is_authenticated:
        raise exceptions.NotAuthenticated()


def _parse_int_param(request, name: str, *, default=None, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        if default is None:
            raise exceptions.ValidationError({name: ["This query parameter is required."]})
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12 or not low <= int(raw) <= high:
        raise exceptions.ValidationError({name: [f"Must be an integer between {low} and {high}."]})
    return int(raw)


# --- list and create ----------------------------------------------------------------------

class GraphListCreateApi(ApiView):
    permission_classes = [permissions.AllowAny]
    pagination_class = ApiPagination

    class FilterSerializer(serializers.Serializer):
        class Meta:
            ref_name = "GraphListCreateQuery"

        q = serializers.CharField(required=False, allow_blank=True, max_length=200)
        filter = serializers.ChoiceField(choices=selectors.GALLERY_FILTERS, required=False, default="all")
        ordering = serializers.ChoiceField(choices=list(selectors.GALLERY_ORDERINGS), required=False, default="recent")
        block = serializers.CharField(required=False, allow_blank=True, max_length=100)
        tag = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TAG_LENGTH)

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "GraphListCreateInput"

        title = serializers.CharField(max_length=200)
        description = serializers.CharField(max_length=10_000, required=False, allow_blank=True, default="")
        tags = TagsField(required=False, default=list)
        visibility = serializers.ChoiceField(choices=Visibility.choices, required=False, default=Visibility.PRIVATE)
        spec = SpecField()
        message = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    @classmethod
    def openapi_examples(cls) -> list[OpenApiExample]:
        return [OpenApiExample("A valid graph", request_only=True,
                               value={"title": "Transformer", "spec": spec_example(), "visibility": "public"})]

    @extend_schema(
        parameters=[FilterSerializer],
        responses={200: GraphSummaryOutput(many=True)},
        summary="Gallery: graphs you may list, with search, filters and ordering",
    )
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        options = filters.validated_data
        graphs = selectors.graph_gallery(
            user=request.user,
            query=options.get("q", ""),
            filter=options["filter"],
            ordering=options["ordering"],
            block_type=options.get("block", ""),
            tag=options.get("tag", ""),
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(graphs, request, view=self)
        return paginator.get_paginated_response(graph_summaries(page, user=request.user))

    @extend_schema(request=InputSerializer, responses={201: GraphDetailOutput}, summary="Create a graph (drafts may be invalid)")
    def post(self, request):
        _require_login(request)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        graph, check = services.graph_create(owner=request.user, **serializer.validated_data)
        return Response(graph_detail(graph, user=request.user, check=check), status=status.HTTP_201_CREATED)


# --- read, update, delete -----------------------------------------------------------------

class GraphDetailApi(ApiView):
    permission_classes = [permissions.AllowAny]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "GraphDetailInput"

        title = serializers.CharField(max_length=200, required=False)
        description = serializers.CharField(max_length=10_000, required=False, allow_blank=True)
        tags = TagsField(required=False)
        visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)
        spec = SpecField(required=False)
        message = serializers.CharField(max_length=500, required=False, allow_blank=True)

    @classmethod
    def openapi_examples(cls) -> list[OpenApiExample]:
        return [OpenApiExample("A new version", request_only=True,
                               value={"spec": spec_example(), "message": "Back to the reference"})]

    @extend_schema(responses={200: GraphDetailOutput}, summary="A graph with its current spec")
    def get(self, request, graph_id: int):
        graph = _readable_graph(request, graph_id)
        return Response(graph_detail(graph, user=request.user))

    @extend_schema(request=InputSerializer, responses={200: GraphDetailOutput}, summary="Change a graph; a new spec makes a new version")
    def patch(self, request, graph_id: int):
        graph = _readable_graph(request, graph_id)
        _require_login(request)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        graph, check = services.graph_update(graph=graph, user=request.user, **serializer.validated_data)
        return Response(graph_detail(graph, user=request.user, check=check))

    @extend_schema(responses={204: None}, summary="Delete a graph and its versions")
    def delete(self, request, graph_id: int):
        graph = _readable_graph(request, graph_id)
        _require_login(request)
        services.graph_delete(graph=graph, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SharedGraphDetailApi(ApiView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(responses={200: GraphDetailOutput}, summary="A graph read through its link (unlisted or public)")
    def get(self, request, token: str):
        graph = _readable_graph(request, token=token)
        return Response(graph_detail(graph, user=request.user))


# --- fork, star, lineage ------------------------------------------------------------------

class GraphForkApi(ApiView):
    permission_classes = [permissions.AllowAny]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "GraphForkInput"

        title = serializers.CharField(max_length=200, required=False)
        visibility = serializers.ChoiceField(choices=Visibility.choices, required=False, default=Visibility.PRIVATE)

    @extend_schema(request=InputSerializer, responses={201: GraphDetailOutput},
                   summary='Fork a graph you may read (by id or by its link); titled "<title> (fork)" by default')
    def post(self, request, graph_id: int | None = None, token: str | None = None):
        graph = _readable_graph(request, graph_id, token)
        _require_login(request)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fork = services.graph_fork(graph=graph, user=request.user, **serializer.validated_data)
        return Response(graph_detail(fork, user=request.user), status=status.HTTP_201_CREATED)


class StarOutput(serializers.Serializer):
    starred = serializers.BooleanField()
    star_count = serializers.IntegerField()


class GraphStarApi(ApiView):
    permission_classes = [permissions.AllowAny]

    def _answer(self, graph: Graph, *, starred: bool, created: bool) -> Response:
        graph.refresh_from_db(fields=["star_count"])
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response({"starred": starred, "star_count": graph.star_count}, status=code)

    @extend_schema(request=None, responses={200: StarOutput, 201: StarOutput}, summary="Star a graph (idempotent)")
    def post(self, request, graph_id: int):
        graph = _readable_graph(request, graph_id)
        _require_login(request)
        created = services.graph_star(graph=graph, user=request.user)
        return self._answer(graph, starred=True, created=created)

    @extend_schema(request=None, responses={200: StarOutput}, summary="Remove your star (idempotent)")
    def delete(self, request, graph_id: int):
        graph = _readable_graph(request, graph_id)
        _require_login(request)
        services.graph_unstar(graph=graph, user=request.user)
        return self._answer(graph, starred=False, created=False)


class LineageOutput(serializers.Serializer):
    graph = GraphSummaryOutput()
    ancestors = GraphSummaryOutput(many=True)
    forks = GraphSummaryOutput(many=True)
    fork_count = serializers.IntegerField()


class GraphLineageApi(ApiView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(responses={200: LineageOutput}, summary="Ancestors (parent first) and direct forks you may see")
    def get(self, request, graph_id: int):
        graph = _readable_graph(request, graph_id)
        lineage = selectors.graph_lineage(user=request.user, graph=graph)
        return Response(
            {
                "graph": graph_summaries([graph], user=request.user)[0],
                "ancestors": graph_summaries(lineage["ancestors"], user=request.user),
                "forks": graph_summaries(lineage["forks"][: selectors.MAX_LINEAGE_DEPTH], user=request.user),
                "fork_count": graph.fork_count,
            }
        )


# --- versions ------------------------------------------------------------------------------

class VersionOutput(serializers.Serializer):
    number = serializers.IntegerField()
    message = serializers.CharField()
    is_valid = serializers.BooleanField()
    created_by = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()


class VersionDetailOutput(VersionOutput):
    spec = serializers.JSONField()


def _version_json(version: GraphVersion, *, with_spec: bool) -> dict:
    body = {
        "number": version.number,
        "message": version.message,
        "is_valid": version.is_valid,
        "created_by": version.created_by.username if version.created_by else None,
        "created_at": version.created_at,
    }
    if with_spec:
        body["spec"] = version.spec
    return body


class GraphVersionListApi(ApiView):
    permission_classes = [permissions.AllowAny]
    pagination_class = ApiPagination

    @extend_schema(
        responses={200: VersionOutput(many=True)},
        summary="Versions of a graph, newest first",
    )
    def get(self, request, graph_id: int):
        graph = _readable_graph(request, graph_id)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.graph_version_list(graph=graph), request, view=self)
        return paginator.get_paginated_response([_version_json(v, with_spec=False) for v in page])


class GraphVersionDetailApi(ApiView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(responses={200: VersionDetailOutput}, summary="One version with its spec")
    def get(self, request, graph_id: int, number: int):
        graph = _readable_graph(request, graph_id)
        version = selectors.graph_version_get(graph=graph, number=number)
        return Response(_version_json(version, with_spec=True))


class GraphVersionRestoreApi(ApiView):
    permission_classes = [permissions.AllowAny]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "GraphVersionRestoreInput"

        message = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    @extend_schema(request=InputSerializer, responses={201: VersionDetailOutput}, summary="Make an old version current (as a new version)")
    def post(self, request, graph_id: int, number: int):
        graph = _readable_graph(request, graph_id)
        version = selectors.graph_version_get(graph=graph, number=number)
        _require_login(request)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        restored = services.graph_version_restore(graph=graph, version=version, user=request.user, **serializer.validated_data)
        return Response(_version_json(restored, with_spec=True), status=status.HTTP_201_CREATED)


class GraphDiffApi(ApiView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        parameters=[OpenApiParameter("a", int, required=True), OpenApiParameter("b", int, required=True)],
        responses={200: OpenApiTypes.OBJECT},
        summary="Structural diff from version a to version b",
    )
    def get(self, request, graph_id: int):
        graph = _readable_graph(request, graph_id)
        numbers = {}
        for name in ("a", "b"):
            numbers[name] = _parse_int_param(request, name, low=1, high=selectors.MAX_VERSION_NUMBER)
        versions = {v.number: v for v in GraphVersion.objects.filter(graph=graph, number__in=numbers.values())}
        for name, number in numbers.items():
            if number not in versions:
                raise exceptions.ValidationError({name: [f"This graph has no version {number}."]})
        diff = spec_diff(versions[numbers["a"]].spec, versions[numbers["b"]].spec)
        return Response({"a": numbers["a"], "b": numbers["b"], **diff})


# --- validate, diagram, export ----------------------------------------------------------------

class GraphValidateApi(ApiView):
    permission_classes = [permissions.AllowAny]
    throttle_classes = [AnonymousValidateThrottle]  # saves nothing, but anyone may call it

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "GraphValidateInput"

        spec = SpecField()
        vocab_size = serializers.IntegerField(min_value=2, max_value=MAX_VOCAB_SIZE, required=False, default=DEFAULT_VOCAB_SIZE)

    @classmethod
    def openapi_examples(cls) -> list[OpenApiExample]:
        return [OpenApiExample("A valid spec", request_only=True, value={"spec": spec_example()})]

    @extend_schema(request=InputSerializer, responses={200: ValidationOutput}, summary="Validate a spec without saving it")
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        check = validate_graph_spec(serializer.validated_data["spec"], vocab_size=serializer.validated_data["vocab_size"])
        return Response(check.to_json())


def _diagram_bytes(graph: Graph, fmt: str) -> bytes:
    """The rendered diagram of the graph's current version, cached per version and format."""
    latest = graph.latest_version
    key = f"composer:diagram:{graph.pk}:{latest.number if latest else 0}:{fmt}"
    cached = _cache_or_none(cache.get, key)
    if cached is not None:
        return cached
    from blocks.diagram import render

    try:
        data = render(graph.spec, fmt)
    except Exception as error:  # the renderer's failures (graphviz missing, odd draft) must not be a 500
        logger.warning("diagram of graph %s failed: %s", graph.pk, error)
        if not graph.is_valid:
            raise ApplicationError(
                "This draft's diagram could not be drawn; fix the spec's errors first.",
                {"errors": validate_graph_spec(graph.spec).errors},
            )
        raise ApplicationError("The diagram renderer is not available on this server.", status_code=503)
    _cache_or_none(cache.set, key, data, DIAGRAM_CACHE_SECONDS)
    return data


def _cache_or_none(call, *args):
    """A cache call that may fail: a diagram is a read, so it is drawn uncached while Redis is down."""
    try:
        return call(*args)
    except REDIS_DOWN as error:
        logger.warning("diagram cache unavailable: %s", error)
        return None


class GraphDiagramApi(ApiView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        parameters=[OpenApiParameter("fmt", str, OpenApiParameter.PATH, enum=list(DIAGRAM_CONTENT_TYPES))],
        responses={(200, "image/svg+xml"): OpenApiTypes.BINARY, (200, "image/png"): OpenApiTypes.BINARY}, summary="Diagram of the current spec")
    def get(self, request, fmt: str, graph_id: int | None = None, token: str | None = None):
        graph = _readable_graph(request, graph_id, token)
        return HttpResponse(_diagram_bytes(graph, fmt), content_type=DIAGRAM_CONTENT_TYPES[fmt])

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)


class GraphExportApi(ApiView):
    permission_classes = [permissions.AllowAny]

    class FilterSerializer(serializers.Serializer):
        class Meta:
            ref_name = "GraphExportQuery"

        format = serializers.ChoiceField(choices=["json", "py"], required=False, default="json")
        vocab_size = serializers.IntegerField(min_value=2, max_value=MAX_VOCAB_SIZE, required=False, default=DEFAULT_VOCAB_SIZE)

    @extend_schema(parameters=[FilterSerializer], responses={(200, "application/json"): OpenApiTypes.OBJECT, (200, "text/x-python"): OpenApiTypes.STR}, summary="The spec as JSON or as a PyTorch module")
    def get(self, request, graph_id: int | None = None, token: str | None = None):
        graph = _readable_graph(request, graph_id, token)
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        fmt, vocab_size = filters.validated_data["format"], filters.validated_data["vocab_size"]
        filename = f"graph-{graph.pk}"
        if fmt == "json":
            response = Response(graph.spec)
        else:
            check = validate_graph_spec(graph.spec, vocab_size=vocab_size)
            if not check.ok:
                raise ApplicationError(SPEC_INVALID_FOR_EXPORT, {"errors": check.errors})
            from blocks.export import to_python

            response = HttpResponse(to_python(graph.spec, vocab_size), content_type="text/x-python; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
        return response

    def perform_content_negotiation(self, request, force=False):
        # ``?format=`` names the export format here, not a DRF renderer.
        return super().perform_content_negotiation(request, force=True)
