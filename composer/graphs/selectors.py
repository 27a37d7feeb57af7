"""Reads of graphs and versions, with the visibility rules in one place.

Who may read a graph: its owner always; anyone (anonymous included) when it is public or
unlisted. Who sees it in lists: the owner, and everyone for public graphs. Unlisted graphs are
readable by id ("anyone with the link") but never listed or searched.
"""
from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from composer.graphs.models import Graph, GraphVersion, Visibility


def _is_authenticated(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", False)


def graph_can_read(*, user, graph: Graph) -> bool:
    if graph.visibility in (Visibility.PUBLIC, Visibility.UNLISTED):
        return True
    return _is_authenticated(user) and graph.owner_id == user.pk


def graph_can_write(*, user, graph: Graph) -> bool:
    return _is_authenticated(user) and graph.owner_id == user.pk


def graph_readable_queryset(*, user) -> QuerySet[Graph]:
    """Every graph the user may open by id (own + public + unlisted). Not for listing."""
    readable = Q(visibility__in=[Visibility.PUBLIC, Visibility.UNLISTED])
    if _is_authenticated(user):
        readable |= Q(owner=user)
    return Graph.objects.filter(readable)


def graph_list_readable(*, user) -> QuerySet[Graph]:
    """Graphs the user may see in a list: their own (any visibility) and public ones. Never others' unlisted."""
    listed = Q(visibility=Visibility.PUBLIC)
    if _is_authenticated(user):
        listed |= Q(owner=user)
    return Graph.objects.filter(listed).select_related("owner")


def graph_get_readable(*, user, graph_id) -> Graph:
    """The graph if the user may read it; Http404 otherwise (a private graph's existence is not revealed)."""
    try:
        graph_id = int(graph_id)
    except (TypeError, ValueError):
        raise Http404("No such graph.")
    graph = graph_readable_queryset(user=user).select_related("owner").filter(pk=graph_id).first()
    if graph is None:
        raise Http404("No such graph.")
    return graph


def graph_version_get(*, graph: Graph, number) -> GraphVersion:
    try:
        number = int(number)
    except (TypeError, ValueError):
        raise Http404("No such version.")
    version = GraphVersion.objects.filter(graph=graph, number=number).first()
    if version is None:
        raise Http404("No such version.")
    return version


def graph_version_list(*, graph: Graph) -> QuerySet[GraphVersion]:
    return GraphVersion.objects.filter(graph=graph).select_related("created_by").order_by("-number")
