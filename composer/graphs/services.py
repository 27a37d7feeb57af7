"""Writes of graphs: create, update, delete, fork, restore a version, star.

Every save of a spec writes a new immutable ``GraphVersion`` numbered one past the last. A spec
that fails ``validate_spec`` is still saved, as a draft flagged ``is_valid=False``; the caller
gets the errors back. Only the owner changes a graph: services raise ``PermissionDenied``
(the view has already answered 404 to whoever may not even read it).
"""
from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models.deletion import ProtectedError, RestrictedError
from django.db.models import F, Max

from composer.core.errors import ApplicationError
from composer.graphs.models import Graph, GraphVersion, Star, Visibility
from composer.graphs.selectors import graph_can_write
from composer.graphs.spec_shape import spec_block_types
from composer.graphs.validation import SpecCheck, validate_graph_spec

ONLY_OWNER_MAY_CHANGE = "Only the owner of this graph may change it."
GRAPH_IS_REFERENCED = "This graph cannot be deleted: other records (such as runs) still refer to its versions."
GRAPH_HAS_ACTIVE_RUNS = "This graph cannot be deleted while runs of it are queued or running; cancel them first."
GRAPH_HAS_OTHERS_CARDS = "This graph cannot be deleted: other users' report cards measure it."


def _ensure_owner(*, user, graph: Graph) -> None:
    if not graph_can_write(user=user, graph=graph):
        raise PermissionDenied(ONLY_OWNER_MAY_CHANGE)


def _normalised_tags(tags) -> list[str]:
    """Tags trimmed, de-duplicated (case-insensitively) and in their given order."""
    seen, out = set(), []
    for tag in tags or []:
        tag = tag.strip()
        if tag and tag.lower() not in seen:
            seen.add(tag.lower())
            out.append(tag)
    return out


def _set_tags(graph: Graph, tags) -> None:
    graph.tags = _normalised_tags(tags)
    graph.tags_text = "\n".join(tag.lower() for tag in graph.tags)


def _set_spec(graph: Graph, spec: dict, check: SpecCheck) -> None:
    graph.spec = spec
    graph.is_valid = check.ok
    graph.block_types = spec_block_types(spec)
    graph.block_types_text = f" {' '.join(graph.block_types)} " if graph.block_types else ""


def _version_create(*, graph: Graph, user, message: str) -> GraphVersion:
    # Lock the graph row so two concurrent saves cannot take the same number (PostgreSQL);
    # SQLite serialises writers anyway.
    Graph.objects.select_for_update().filter(pk=graph.pk).first()
    last = GraphVersion.objects.filter(graph=graph).aggregate(last=Max("number"))["last"] or 0
    return GraphVersion.objects.create(
        graph=graph, number=last + 1, spec=graph.spec, message=message, created_by=user, is_valid=graph.is_valid
    )


@transaction.atomic
def graph_create(
    *,
    owner,
    title: str,
    spec: dict,
    description: str = "",
    tags=(),
    visibility: str = Visibility.PRIVATE,
    is_template: bool = False,
    template_slug: str = "",
    message: str = "",
) -> tuple[Graph, SpecCheck]:
    check = validate_graph_spec(spec)
    graph = Graph(
        owner=owner,
        title=title,
        description=description,
        visibility=visibility,
        is_template=is_template,
        template_slug=template_slug,
    )
    _set_tags(graph, tags)
    _set_spec(graph, spec, check)
    graph.full_clean()
    graph.save()
    _version_create(graph=graph, user=owner, message=message)
    return graph, check


@transaction.atomic
def graph_update(
    *, graph: Graph, user, spec: dict | None = None, message: str = "", **fields
) -> tuple[Graph, SpecCheck | None]:
    """Change metadata (title, description, tags, visibility, is_template) and/or save a new spec."""
    _ensure_owner(user=user, graph=graph)
    if "tags" in fields:
        _set_tags(graph, fields.pop("tags"))
    for name in ("title", "description", "visibility", "is_template"):
        if name in fields:
            setattr(graph, name, fields.pop(name))
    if fields:
        raise TypeError(f"graph_update got unknown fields {sorted(fields)}")
    check = None
    if spec is not None:
        check = validate_graph_spec(spec)
        _set_spec(graph, spec, check)
    graph.full_clean()
    graph.save()
    if spec is not None:
        _version_create(graph=graph, user=user, message=message)
    return graph, check


@transaction.atomic
def graph_delete(*, graph: Graph, user) -> None:
    """Delete a graph with its versions, its owner's finished runs and report cards.

    Other users' runs stay theirs: they keep their frozen copy of the spec they trained, their
    graph and version become null (``Run.graph``). Refused (409) while any run of it is active,
    or while another user's report card refers to it (a card cannot outlive its graph yet).
    """
    from composer.cards.models import ReportCard
    from composer.runs.models import ACTIVE_STATUSES

    _ensure_owner(user=user, graph=graph)
    if graph.runs.filter(status__in=ACTIVE_STATUSES).exists():
        raise ApplicationError(GRAPH_HAS_ACTIVE_RUNS, {"runs": "active"}, status_code=409)
    if ReportCard.objects.filter(graph=graph).exclude(user_id=graph.owner_id).exists():
        raise ApplicationError(GRAPH_HAS_OTHERS_CARDS, {"report_cards": "other users"}, status_code=409)
    if graph.forked_from_id is not None:
        Graph.objects.filter(pk=graph.forked_from_id, fork_count__gt=0).update(fork_count=F("fork_count") - 1)
    try:
        with transaction.atomic():
            graph.runs.filter(user_id=graph.owner_id).delete()
            graph.delete()
    except (ProtectedError, RestrictedError) as error:
        referrers = sorted({obj._meta.verbose_name_plural for obj in error.args[1]}) if len(error.args) > 1 else []
        raise ApplicationError(GRAPH_IS_REFERENCED, {"referenced_by": referrers}, status_code=409)


FORK_SUFFIX = " (fork)"
MAX_TITLE_LENGTH = Graph._meta.get_field("title").max_length


def fork_title(title: str) -> str:
    """A fork's default title, "<title> (fork)", shortened to fit the title's length."""
    return title[: MAX_TITLE_LENGTH - len(FORK_SUFFIX)].rstrip() + FORK_SUFFIX


@transaction.atomic
def graph_fork(*, graph: Graph, user, title: str | None = None, visibility: str = Visibility.PRIVATE) -> Graph:
    """A copy of ``graph`` owned by ``user``, titled "<title> (fork)" unless given a title, that
    records its parent and the parent's current version (``forked_from``, ``forked_from_version``).

    The caller has checked that the user may read ``graph`` (by id, or by its share token).
    """
    parent_version = graph.latest_version
    fork = Graph(
        owner=user,
        title=title or fork_title(graph.title),
        description=graph.description,
        visibility=visibility,
        forked_from=graph,
        forked_from_version=parent_version,
    )
    _set_tags(fork, graph.tags)
    _set_spec(fork, graph.spec, validate_graph_spec(graph.spec))
    fork.full_clean()
    fork.save()
    number = parent_version.number if parent_version else "?"
    _version_create(graph=fork, user=user, message=f"Forked from {graph.owner.username}'s graph {graph.pk} version {number}")
    Graph.objects.filter(pk=graph.pk).update(fork_count=F("fork_count") + 1)
    return fork


@transaction.atomic
def graph_version_restore(*, graph: Graph, version: GraphVersion, user, message: str = "") -> GraphVersion:
    """Make ``version``'s spec current again, as a new version (history is never rewritten)."""
    _ensure_owner(user=user, graph=graph)
    check = validate_graph_spec(version.spec)
    _set_spec(graph, version.spec, check)
    graph.save()
    return _version_create(graph=graph, user=user, message=message or f"Restored version {version.number}")


@transaction.atomic
def graph_star(*, graph: Graph, user) -> bool:
    """Star the graph for the user; False when it was already starred."""
    try:
        with transaction.atomic():
            Star.objects.create(graph=graph, user=user)
    except IntegrityError:
        return False
    Graph.objects.filter(pk=graph.pk).update(star_count=F("star_count") + 1)
    return True


@transaction.atomic
def graph_unstar(*, graph: Graph, user) -> bool:
    deleted, _ = Star.objects.filter(graph=graph, user=user).delete()
    if deleted:
        Graph.objects.filter(pk=graph.pk, star_count__gt=0).update(star_count=F("star_count") - 1)
    return bool(deleted)
