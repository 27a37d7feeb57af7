"""Stored specs keep their meaning when a block's default changes (issue 14): the data migrations
write the old defaults into every stored spec that left them out."""
from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from blocks.spec import validate_spec
from composer.graphs.models import Graph, GraphVersion
from composer.graphs.old_defaults import fill_params, fill_stored_specs
from composer.graphs.services import graph_create
from tests.api.conftest import valid_spec

H3_MIGRATION = importlib.import_module("composer.graphs.migrations.0003_h3_old_defaults")
ATTENTION_MIGRATION = importlib.import_module("composer.graphs.migrations.0004_attention_old_defaults")


def spec_with(node: dict) -> dict:
    spec = valid_spec()
    spec["nodes"][1] = {"id": "a", **node}
    return spec


def test_fill_params_writes_only_what_a_node_leaves_out():
    spec = spec_with({"type": "h3", "params": {"d_state": 32}})
    spec["nodes"].insert(1, {"id": "b", "type": "h3"})  # no params at all
    assert fill_params(spec, H3_MIGRATION.OLD_DEFAULTS)
    assert spec["nodes"][1]["params"] == {"heads": 8, "d_state": 16}
    assert spec["nodes"][2]["params"] == {"d_state": 32, "heads": 8}
    assert not fill_params(spec, H3_MIGRATION.OLD_DEFAULTS)  # already explicit: nothing to do
    for junk in (None, [], {"nodes": "x"}, {"nodes": [1, {"type": "h3", "params": [1]}]}):
        assert not fill_params(junk, H3_MIGRATION.OLD_DEFAULTS)


def test_a_filled_spec_costs_what_the_old_defaults_cost():
    filled = spec_with({"type": "h3"})
    fill_params(filled, H3_MIGRATION.OLD_DEFAULTS)
    explicit = spec_with({"type": "h3", "params": {"heads": 8, "d_state": 16}})
    assert validate_spec(filled).cost.params == validate_spec(explicit).cost.params
    assert validate_spec(filled).cost.params != validate_spec(spec_with({"type": "h3"})).cost.params


@pytest.mark.django_db
def test_the_migration_fills_graphs_and_their_versions(owner):
    graph, _ = graph_create(owner=owner, title="old h3", spec=spec_with({"type": "h3"}))
    other, _ = graph_create(owner=owner, title="mlp", spec=valid_spec())
    H3_MIGRATION.fill_old_defaults(apps, None)
    graph.refresh_from_db()
    assert graph.spec["nodes"][1]["params"] == {"heads": 8, "d_state": 16}
    version = GraphVersion.objects.get(graph=graph)
    assert version.spec["nodes"][1]["params"] == {"heads": 8, "d_state": 16}
    assert Graph.objects.get(pk=other.pk).spec == valid_spec()
    fill_stored_specs(apps, H3_MIGRATION.OLD_DEFAULTS)  # idempotent
    graph.refresh_from_db()
    assert graph.spec["nodes"][1]["params"] == {"heads": 8, "d_state": 16}


@pytest.mark.parametrize("block_type", sorted(ATTENTION_MIGRATION.OLD_DEFAULTS))
def test_attention_specs_saved_before_build_what_they_built(block_type):
    """At d_model 32, max_seq_len 512 the old fixed defaults differ from the ones that grow with the model."""
    old = ATTENTION_MIGRATION.OLD_DEFAULTS[block_type]
    filled = spec_with({"type": block_type})
    filled["model"]["max_seq_len"] = 512
    assert fill_params(filled, ATTENTION_MIGRATION.OLD_DEFAULTS)
    assert filled["nodes"][1]["params"] == old
    untouched = spec_with({"type": block_type})
    untouched["model"]["max_seq_len"] = 512
    now = validate_spec(untouched).spec["nodes"][1]["params"]
    assert any(now[name] != value for name, value in old.items()), "the default did not change here"
    assert validate_spec(filled).spec["nodes"][1]["params"] == {**now, **old}


@pytest.mark.django_db
def test_the_attention_migration_fills_stored_graphs(owner):
    graph, _ = graph_create(owner=owner, title="old bigbird", spec=spec_with({"type": "bigbird_attention"}))
    ATTENTION_MIGRATION.fill_old_defaults(apps, None)
    graph.refresh_from_db()
    assert graph.spec["nodes"][1]["params"] == {"block_size": 8, "global_blocks": 1, "random_blocks": 1}
