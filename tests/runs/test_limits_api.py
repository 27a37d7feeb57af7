"""GET /api/limits/: the limits the editor shows are the ones a launch enforces (issue 13, point 5)."""
from __future__ import annotations

import pytest

from blocks.spec import DEFAULT_LIMITS, GROUP_SLOTS
from composer.runs.models import Run
from tests.runs.conftest import launch_body

pytestmark = pytest.mark.django_db

LIMITED = {"steps": "max_steps", "batch_size": "max_batch_size", "max_seconds": "max_seconds", "max_tokens": "max_tokens"}


def fields_of(body: dict) -> dict:
    return {f["name"]: f for f in body["launch"]["hyper"] + body["launch"]["budget"]}


def test_limits_are_public_cacheable_and_derived_from_their_sources(client_for):
    response = client_for().get("/api/limits/")
    assert response.status_code == 200
    assert "max-age" in response["Cache-Control"] and "public" in response["Cache-Control"]
    body = response.json()
    assert body["spec"]["max_nodes"] == DEFAULT_LIMITS.max_nodes and body["spec"]["max_depth"] == DEFAULT_LIMITS.max_depth
    assert body["group_slots"] == {name: list(slots) for name, slots in GROUP_SLOTS.items()}
    assert body["required_slots"]["chunk"] == ["local"]
    assert body["cards"]["max_seeds"] >= 1
    fields = fields_of(body)
    for name, limit in LIMITED.items():
        assert fields[name]["max"] == body["runs"][limit], name
    assert fields["max_tokens"]["nullable"] and fields["max_tokens"]["default"] is None
    assert fields["lr"]["type"] == "float" and fields["seed"]["type"] == "int"


@pytest.mark.parametrize("field", list(LIMITED))
def test_the_reported_maximum_is_accepted_and_one_more_is_refused(field, alice, make_graph, client_for, enqueued, settings):
    # A deployment's override reaches both the endpoint and the launch.
    settings.COMPOSER_RUN_LIMITS = {"max_steps": 1234, "max_batch_size": 48, "max_seconds": 777,
                                    "max_tokens": 5_000_000, "max_queued_per_user": 50}
    client = client_for(alice)
    reported = fields_of(client.get("/api/limits/").json())[field]["max"]
    assert reported == {"steps": 1234, "batch_size": 48, "max_seconds": 777, "max_tokens": 5_000_000}[field]
    graph = make_graph(alice)
    over = client.post(f"/api/graphs/{graph.pk}/runs/", launch_body(**{field: reported + 1}), format="json")
    assert over.status_code == 400 and over.json()["extra"]["field"] == field
    assert over.json()["extra"]["limit"] == reported
    at = client.post(f"/api/graphs/{graph.pk}/runs/", launch_body(**{field: reported}), format="json")
    assert at.status_code == 201, at.json()
    assert Run.objects.count() == 1
