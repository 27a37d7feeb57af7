"""The report card engine (workers/report_card.py) and `composer card`: planning, refusals naming the
field, summaries (best over the sweep, mean and spread over seeds) and a whole card run end to end."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from workers import report_card as rc

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def example(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text())


@pytest.fixture
def tiny_suite(monkeypatch):
    """A two-task suite small enough to train in seconds, registered for the test only."""
    suite = rc.Suite(
        name="tiny", title="Tiny", description="test only",
        tasks=(
            rc.SuiteTask("mqar", "seq=32", {"seq_len": 32, "num_kv_pairs": 2, "vocab_size": 64}, 6, 4),
            rc.SuiteTask("selective_copy", "seq=16", {"seq_len": 16, "num_tokens": 2, "vocab_size": 8}, 6, 4),
        ),
        sweep=((3e-3, 0.1), (1e-3, 0.0)), device="cpu", eval_batches=1,
    )
    monkeypatch.setitem(rc.SUITES, "tiny", suite)
    return suite


def errors_of(excinfo) -> dict[str, str]:
    return {e["field"]: e["message"] for e in excinfo.value.errors}


def test_every_suite_names_registered_tasks_with_valid_params():
    from workers.tasks import resolve_task_params

    for suite in rc.SUITES.values():
        for item in suite.tasks:
            params, errors = resolve_task_params(item.task, item.task_params)
            assert not errors, (suite.name, item, [str(e) for e in errors])
    assert rc.FULL.sweep == tuple((lr, wd) for lr in (1e-4, 5e-4, 1e-3) for wd in (0.0, 0.1))
    assert len(rc.FULL.tasks) == 66 and rc.FULL.runs_per_seed() == 396


@pytest.mark.parametrize("given, field", [
    ({"suite": "nope", "params": 100_000}, "suite"),
    ({"suite": "quick"}, "params"),
    ({"suite": "quick", "params": 100_000, "state": 4096}, "params"),
    ({"suite": "quick", "params": -5}, "params"),
    ({"suite": "quick", "params": 10}, "params"),  # below the smallest width
    ({"suite": "quick", "params": 100_000, "seeds": 0}, "seeds"),
    ({"suite": "quick", "params": 100_000, "seeds": 9}, "seeds"),
])
def test_bad_cards_are_refused_naming_the_field(given, field):
    with pytest.raises(rc.CardInvalid) as excinfo:
        rc.plan_card(example("transformer"), **given)
    assert field in errors_of(excinfo), excinfo.value.errors


def test_a_broken_spec_is_refused_as_a_card_error():
    spec = example("transformer")
    spec["nodes"][2]["params"]["heads"] = 0
    with pytest.raises(rc.CardInvalid) as excinfo:
        rc.plan_card(spec, suite="quick", params=100_000)
    assert any(e["field"].startswith("spec.") and "layers.attn" in e["message"] for e in excinfo.value.errors), \
        excinfo.value.errors


def test_a_task_refusing_a_block_names_the_node():
    spec = example("transformer")
    spec["nodes"].insert(2, {"id": "layers.fnet", "type": "fnet", "parent": "layers"})
    spec["edges"] = [["in", "layers"], ["layers.attn", "layers.fnet"], ["layers.fnet", "layers.mlp"], ["layers", "out"]]
    spec["model"]["allow_noncausal"] = True
    with pytest.raises(rc.CardInvalid) as excinfo:
        rc.plan_card(spec, suite="quick", params=100_000)
    messages = " ".join(e["message"] for e in excinfo.value.errors)
    assert "layers.fnet" in messages and "refuses" in messages


def test_plan_scales_to_the_budget_and_expands_every_run(tiny_suite):
    plan = rc.plan_card(example("mamba"), suite="tiny", params=50_000, seeds=2)
    assert abs(plan.params - 50_000) <= 0.03 * 50_000
    assert len(plan.entries) == len(tiny_suite.tasks) * len(tiny_suite.sweep) * 2
    assert len({e.key for e in plan.entries}) == len(plan.entries)
    assert {e.seed for e in plan.entries} == {0, 1}
    assert plan.estimate_seconds > 0
    assert json.loads(json.dumps(plan.to_json()))["entries"][0]["config"]["steps"] == 6


def test_summary_takes_the_best_of_the_sweep_then_mean_and_spread_over_seeds():
    plan = {"suite": "s", "budget": {"kind": "params", "value": 1}, "params": 1, "state_bytes": 0, "seeds": [0, 1],
            "entries": [{"key": f"t/a/{lr}/{seed}", "task": "t", "setting": "a", "seed": seed}
                        for seed in (0, 1) for lr in ("hi", "lo")]
                       + [{"key": "u/b/x/0", "task": "u", "setting": "b", "seed": 0}]}
    results = {"t/a/hi/0": {"eval_accuracy": 0.5}, "t/a/lo/0": {"eval_accuracy": 0.9},
               "t/a/hi/1": {"eval_accuracy": 0.7}, "t/a/lo/1": {"eval_accuracy": 0.3}, "u/b/x/0": None}
    card = rc.summarise_card(plan, results)
    row = next(r for r in card["rows"] if r["task"] == "t")
    assert row["best_accuracy"] == pytest.approx(0.8)  # mean of 0.9 and 0.7
    assert row["spread"] == pytest.approx(0.1414, abs=1e-3)
    assert card["tasks"] == {"t": pytest.approx(0.8)} and card["score"] == pytest.approx(0.8)
    assert card["missing"] == ["u/b/x/0"] and not card["complete"]


def test_card_hash_ignores_layout_but_not_the_model():
    spec = example("transformer")
    moved = {**spec, "layout": {"in": {"x": 99, "y": 1}}}
    wider = json.loads(json.dumps(spec))
    wider["model"]["d_model"] = 128
    budget = {"kind": "params", "value": 100_000}
    assert rc.card_hash(spec, "quick", budget, [0]) == rc.card_hash(moved, "quick", budget, [0])
    assert rc.card_hash(spec, "quick", budget, [0]) != rc.card_hash(wider, "quick", budget, [0])
    assert rc.card_hash(spec, "quick", budget, [0]) != rc.card_hash(spec, "quick", budget, [0, 1])


def test_card_hash_changes_when_the_suite_is_recalibrated(monkeypatch):
    spec, budget = example("transformer"), {"kind": "params", "value": 100_000}
    before = rc.card_hash(spec, "quick", budget, [0])
    quick = rc.SUITES["quick"]
    longer = (dataclasses.replace(quick.tasks[0], steps=quick.tasks[0].steps + 1),) + quick.tasks[1:]
    monkeypatch.setitem(rc.SUITES, "quick", dataclasses.replace(quick, tasks=longer))
    assert rc.card_hash(spec, "quick", budget, [0]) != before
    monkeypatch.setitem(rc.SUITES, "quick", dataclasses.replace(quick, title="renamed"))
    assert rc.card_hash(spec, "quick", budget, [0]) == before


def test_run_card_trains_every_entry_and_reports_each_task(tiny_suite):
    plan = rc.plan_card(example("transformer"), suite="tiny", params=40_000)
    events = []
    card = rc.run_card(plan, device="cpu", on_event=events.append)
    assert card["complete"] and set(card["tasks"]) == {"mqar", "selective_copy"}
    assert all(0 <= score <= 1 for score in card["tasks"].values())
    assert [e["index"] for e in events if e["type"] == "entry_done"] == list(range(len(plan.entries)))
    assert all(r["compute_seconds"] <= r["wall_seconds"] for r in card["results"].values())


def test_cli_card_prints_the_table_and_a_json_summary(tiny_suite, capsys):
    from composer.cli import main

    code = main(["card", str(EXAMPLES / "transformer.json"), "--suite", "tiny", "--params", "40k", "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    card = json.loads(captured.out)
    assert set(card["tasks"]) == {"mqar", "selective_copy"} and card["budget"] == {"kind": "params", "value": 40_000}
    assert "score" in captured.err and "selective_copy" in captured.err


def test_cli_card_refuses_bad_input_naming_the_field(capsys):
    from composer.cli import main

    assert main(["card", str(EXAMPLES / "transformer.json"), "--suite", "nope"]) == 2
    assert "suite: unknown suite 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize("text, value", [("100k", 100_000), ("100000", 100_000), ("1.5M", 1_500_000), ("100_000", 100_000)])
def test_budget_counts_accept_suffixes(text, value):
    from composer.cli.card import parse_count

    assert parse_count(text) == value
