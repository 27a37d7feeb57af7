"""Shared by the reference-card tests: an examples directory with two tiny examples and their report
cards trained by the engine (``run_card`` on the test-only suite, as bench/report_card.py trains the
real ones), stamped into ``reference-cards/cards.json`` as the repository ships them."""
from __future__ import annotations

import json

import pytest

from tests.runs.cards_fixtures import TINY_SUITE, tiny_budget

# A second tiny example: one attention layer, so the two examples' cards differ.
TINY_ATTENTION_SPEC = {
    "version": 1,
    "model": {"d_model": 32, "max_seq_len": 64, "norm": "rmsnorm", "tie_embeddings": True},
    "nodes": [{"id": "in", "type": "input", "params": {"positions": "learned"}},
              {"id": "a", "type": "softmax_attention", "params": {"heads": 2}}, {"id": "out", "type": "output"}],
    "edges": [["in", "a"], ["a", "out"]],
}


@pytest.fixture
def reference_examples(tmp_path, tiny_suite):
    """(directory, {example: the card bench/report_card.py would have written})."""
    import torch

    from composer.cards.reference import stamp
    from tests.runs.conftest import tiny_spec
    from workers.report_card import plan_card, run_card

    torch.set_num_threads(1)
    examples = {"tiny_mlp": tiny_spec(), "tiny_attention": TINY_ATTENTION_SPEC}
    cards = {}
    for name, spec in examples.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(spec))
        plan = plan_card(spec, suite=TINY_SUITE, params=tiny_budget())
        cards[name] = {**run_card(plan), "bench_wall_seconds": 1.0, "d_model": plan.spec["model"]["d_model"]}
    (tmp_path / "reference-cards").mkdir()
    (tmp_path / "reference-cards" / "cards.json").write_text(json.dumps(stamp(cards, tmp_path)))
    return tmp_path, cards
