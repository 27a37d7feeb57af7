"""Reads of graphs and versions, with the visibility rules in one place.

Who may read a graph by id: its owner always; anyone (anonymous included) when it is public.
Who sees it in lists: the owner, and everyone for public graphs. Unlisted graphs are read by
"anyone with the link": the link carries the graph's unguessable ``share_token``
(``/api/graphs/shared/<token>/``, ``graph_get_shared``); by id they are 404 to all but their owner,
so they cannot be enumerated, and they are never listed or searched.
"""
from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from composer.graphs.models import Graph, GraphVersion, Star, Visibility


MAX_GRAPH_ID = 2**63 - 1  # bigint: a larger id in a URL must be a 404, not a database overflow
MAX_VERSION_NUMBER = 2**31 - 1


def _bounded_int(value, upper: int) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 1 <= number <= upper else None


def _is_authenticated(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", False)


def graph_can_read(*, user, graph: Graph) -> bool:
    """Whether the user may read the graph by its id (an unlisted graph: only its owner)."""
    if graph.visibility == Visibility.PUBLIC:
        return True
    return _is_authenticated(user) and graph.owner_id == user.pk


def graph_can_write(*, user, graph: Graph) -> bool:
    return _is_authenticated(user) and graph.owner_id == user.pk


def graph_readable_queryset(*, user) -> QuerySet[Graph]:
    """Every graph the user may open by id (own + public; others' unlisted ones only by token). Not for listing."""
    readable = Q(visibility=Visibility.PUBLIC)
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
    graph_id = _bounded_int(graph_id, MAX_GRAPH_ID)
    if graph_id is None:
        raise Http404("No such graph.")
    graph = graph_readable_queryset(user=user).select_related("owner").filter(pk=graph_id).first()
    if graph is None:
        raise Http404("No such graph.")
    return graph


SHARE_TOKEN_MAX_LENGTH = 64


def graph_get_shared(*, token) -> Graph:
    """The graph whose link carries ``token`` while it is unlisted or public; Http404 otherwise
    (a graph made private stops answering its old link)."""
    if not isinstance(token, str) or not token or len(token) > SHARE_TOKEN_MAX_LENGTH:
        raise Http404("No such graph.")
    graph = (Graph.objects.select_related("owner")
             .filter(share_token=token, visibility__in=[Visibility.UNLISTED, Visibility.PUBLIC]).first())
    if graph is None:
        raise Http404("No such graph.")
    return graph


def graph_version_get(*, graph: Graph, number) -> GraphVersion:
    number = _bounded_int(number, MAX_VERSION_NUMBER)
    if number is None:
        raise Http404("No such version.")
    version = GraphVersion.objects.filter(graph=graph, number=number).first()
    if version is None:
        raise Http404("No such version.")
    return version


def graph_version_list(*, graph: Graph) -> QuerySet[GraphVersion]:
    return GraphVersion.objects.filter(graph=graph).select_related("created_by").order_by("-number")


# --- gallery -----------------------------------------------------------------------------

GALLERY_FILTERS = ("all", "mine", "starred", "public", "templates")
GALLERY_ORDERINGS = {
    "recent": ("-updated_at", "-id"),
    "stars": ("-star_count", "-updated_at", "-id"),
    "forks": ("-fork_count", "-updated_at", "-id"),
}
MAX_LINEAGE_DEPTH = 100


def graph_gallery(
    *, user, query: str = "", filter: str = "all", ordering: str = "recent", block_type: str = "", tag: str = ""
) -> QuerySet[Graph]:
    """Listable graphs matching a search over title, description, tags and block types used.

    ``filter``: all (own + public), mine, starred (that the user may still list), public,
    templates (public templates). Arguments are assumed checked by the caller.
    """
    graphs = graph_list_readable(user=user)
    authenticated = _is_authenticated(user)
    if filter == "mine":
        graphs = graphs.filter(owner=user) if authenticated else graphs.none()
    elif filter == "starred":
        graphs = graphs.filter(stars__user=user) if authenticated else graphs.none()
    elif filter == "public":
        graphs = graphs.filter(visibility=Visibility.PUBLIC)
    elif filter == "templates":
        graphs = graphs.filter(visibility=Visibility.PUBLIC, is_template=True)
    for word in query.split():
        graphs = graphs.filter(
            Q(title__icontains=word)
            | Q(description__icontains=word)
            | Q(tags_text__contains=word.lower())
            | Q(block_types_text__contains=word.lower())
        )
    if block_type:
        graphs = graphs.filter(block_types_text__contains=f" {block_type} ")
    if tag:
        graphs = graphs.filter(Q(tags_text=tag.lower()) | Q(tags_text__startswith=f"{tag.lower()}\n")
                               | Q(tags_text__endswith=f"\n{tag.lower()}") | Q(tags_text__contains=f"\n{tag.lower()}\n"))
    return graphs.order_by(*GALLERY_ORDERINGS[ordering])


def graph_starred_ids(*, user, graph_ids) -> set[int]:
    if not _is_authenticated(user):
        return set()
    return set(Star.objects.filter(user=user, graph_id__in=list(graph_ids)).values_list("graph_id", flat=True))


def graph_lineage(*, user, graph: Graph) -> dict:
    """The ancestors chain (parent first) and the direct forks, keeping only graphs the user may list.

    Unlisted graphs are readable by link but never listed, so they do not appear here either
    (except the graph asked for, which the caller has already checked).
    """
    listable = graph_list_readable(user=user)
    ancestors = []
    parent_id, seen = graph.forked_from_id, {graph.pk}
    while parent_id is not None and parent_id not in seen and len(seen) <= MAX_LINEAGE_DEPTH:
        seen.add(parent_id)
        parent = Graph.objects.select_related("owner").filter(pk=parent_id).first()
        if parent is None:
            break
        if listable.filter(pk=parent.pk).exists():
            ancestors.append(parent)
        parent_id = parent.forked_from_id
    forks = listable.filter(forked_from=graph).order_by("-created_at", "-id")
    return {"ancestors": ancestors, "forks": forks}


def user_public_graphs(*, owner) -> QuerySet[Graph]:
    return Graph.objects.filter(owner=owner, visibility=Visibility.PUBLIC).select_related("owner").order_by("-updated_at", "-id")
