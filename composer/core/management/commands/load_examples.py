"""``manage.py load_examples``: load examples/*.json as public templates owned by a system user.

``examples/index.json`` gives each example's metadata, either as a list of
``{"file": "mamba.json", "title", "description", "tags"}`` or as a mapping from file name to
that metadata; files it does not mention are loaded with their file name as title. Idempotent:
each template is found again by its file stem; a changed spec becomes a new version, an
unchanged one is left alone. Then the examples' report cards shipped in
``examples/reference-cards/`` are loaded onto them (``composer.cards.reference``); a stale one
(the example or the suite changed since it was computed) is an error.
"""
from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from composer.cards.reference import ReferenceCardsInvalid, load_reference_cards
from composer.graphs.models import Graph, Visibility
from composer.graphs.services import graph_create, graph_update
from composer.graphs.spec_shape import spec_shape_errors

SYSTEM_USERNAME = "composer"


def system_user():
    user, created = get_user_model().objects.get_or_create(
        username=SYSTEM_USERNAME, defaults={"first_name": "Composer", "last_name": "examples"}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def _index(directory: Path) -> dict[str, dict]:
    path = directory / "index.json"
    if not path.exists():
        return {}
    raw = json.loads(path.read_text())
    if isinstance(raw, dict) and isinstance(raw.get("examples"), list):
        raw = raw["examples"]
    if isinstance(raw, list):
        return {entry["file"]: entry for entry in raw if isinstance(entry, dict) and "file" in entry}
    if isinstance(raw, dict):
        return {name: entry for name, entry in raw.items() if isinstance(entry, dict)}
    raise CommandError(f"{path}: expected a list or an object")


class Command(BaseCommand):
    help = "Load examples/*.json as public templates owned by the system user (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--dir", default=str(Path(settings.BASE_DIR) / "examples"))

    @transaction.atomic
    def handle(self, *args, **options):
        directory = Path(options["dir"])
        if not directory.is_dir():
            raise CommandError(f"no examples directory at {directory}")
        index = _index(directory)
        owner = system_user()
        created = updated = unchanged = 0
        for path in sorted(directory.glob("*.json")):
            if path.name == "index.json":
                continue
            spec = json.loads(path.read_text())
            if isinstance(spec, dict) and isinstance(spec.get("spec"), dict):
                spec = spec["spec"]
            problems = spec_shape_errors(spec)
            if problems:
                raise CommandError(f"{path.name}: malformed spec: {problems}")
            meta = index.get(path.name, {})
            fields = {
                "title": str(meta.get("title") or path.stem.replace("_", " ").replace("-", " ").title())[:200],
                "description": str(meta.get("description", "")),
                "tags": [str(tag) for tag in meta.get("tags", [])],
                "visibility": Visibility.PUBLIC,
                "is_template": True,
            }
            graph = Graph.objects.filter(owner=owner, template_slug=path.stem).first()
            if graph is None:
                graph, check = graph_create(
                    owner=owner, spec=spec, template_slug=path.stem, message="Loaded from examples/", **fields
                )
                created += 1
            elif graph.spec != spec or any(getattr(graph, k) != v for k, v in fields.items() if k != "tags") or graph.tags != fields["tags"]:
                graph, check = graph_update(
                    graph=graph, user=owner, spec=spec if graph.spec != spec else None, message="Reloaded from examples/", **fields
                )
                updated += 1
            else:
                check = None
                unchanged += 1
            if check is not None and not check.ok:
                self.stderr.write(f"warning: {path.name} does not validate: {check.errors[:3]}")
        self.stdout.write(f"examples: {created} created, {updated} updated, {unchanged} unchanged")
        try:
            cards = load_reference_cards(directory=directory / "reference-cards", owner=owner)
        except ReferenceCardsInvalid as error:
            raise CommandError(f"reference-cards/{error}") from None
        self.stdout.write("reference cards: " + ", ".join(f"{n} {what}" for what, n in cards.items()))
