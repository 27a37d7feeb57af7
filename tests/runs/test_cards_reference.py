"""Reference cards (issue 12, point 2): the examples' cards computed once by the engine, shipped as data,
loaded by ``manage.py load_examples`` as ordinary finished cards, reused by an identical launch, and
refused loudly when the example or the suite has changed since they were computed."""
from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from composer.cards.models import ReportCard
from composer.cards.reference import ReferenceCardsInvalid, stamp
from composer.core.management.commands.load_examples import SYSTEM_USERNAME
from composer.runs.models import Run, RunEvent
from tests.runs.cards_fixtures import TINY_SUITE, tiny_budget, tiny_suite  # noqa: F401 (fixture)
from tests.runs.reference_fixtures import reference_examples  # noqa: F401 (fixture)
from workers.report_card import card_hash, summarise_card

pytestmark = pytest.mark.django_db


def load(directory) -> None:
    call_command("load_examples", "--dir", str(directory), stdout=open("/dev/null", "w"))


def test_load_examples_loads_each_shipped_card_as_a_finished_card_of_its_example(reference_examples, client_for):
    directory, bench = reference_examples
    load(directory)
    cards = {card.graph.template_slug: card for card in ReportCard.objects.select_related("graph", "user")}
    assert set(cards) == {"tiny_mlp", "tiny_attention"}
    for name, card in cards.items():
        spec = json.loads((directory / f"{name}.json").read_text())
        assert card.user.username == SYSTEM_USERNAME and card.graph.is_template
        assert card.content_hash == card_hash(spec, TINY_SUITE, {"kind": "params", "value": tiny_budget()}, [0])
        detail = client_for().get(f"/api/report-cards/{card.pk}/").json()  # anonymous: public
        assert detail["status"] == "succeeded" and detail["public"] and detail["graph_is_template"]
        assert detail["progress"]["succeeded"] == detail["progress"]["total"] == len(bench[name]["results"])
        # The summary is the engine's own card of the results the bench recorded.
        assert detail["summary"]["score"] == pytest.approx(bench[name]["score"])
        assert detail["summary"]["tasks"] == pytest.approx(bench[name]["tasks"])
        assert detail["summary"]["failed"] == detail["summary"]["pending"] == []
        for entry in detail["entries"]:
            assert entry["status"] == "succeeded" and entry["run"] is not None
            assert entry["eval_accuracy"] == pytest.approx(bench[name]["results"][entry["key"]]["eval_accuracy"])
            run = client_for().get(f"/api/runs/{entry['run']}/").json()
            assert run["status"] == "succeeded" and run["final_metrics"]["steps"] == 10
        # A loaded run says where it came from (its curves were not kept).
        logs = [e.payload["message"] for e in RunEvent.objects.filter(run__card=card, type="log")]
        assert len(logs) == 2 and all("trained by bench/report_card.py" in m for m in logs)


def test_a_loaded_card_looks_like_a_trained_one_in_the_api(reference_examples, alice, make_graph, client_for, enqueued):
    from composer.runs import services

    directory, _bench = reference_examples
    load(directory)
    loaded = client_for().get(f"/api/report-cards/{ReportCard.objects.first().pk}/").json()
    graph = make_graph(alice)
    trained = client_for(alice).post(f"/api/graphs/{graph.pk}/report-cards/",
                                     {"suite": TINY_SUITE, "params": tiny_budget(), "seeds": 1}, format="json").json()
    for run in Run.objects.filter(card_id=trained["id"]):
        services.run_start(run_id=run.pk, attempt=run.attempt, hostname="w1")
        services.run_finish(run_id=run.pk, attempt=run.attempt, status="succeeded",
                            result={"eval_accuracy": 0.5, "wall_seconds": 1.0, "steps": 10})
    trained = client_for(alice).get(f"/api/report-cards/{trained['id']}/").json()
    assert set(loaded) == set(trained) and set(loaded["summary"]) == set(trained["summary"])
    assert set(loaded["entries"][0]) == set(trained["entries"][0])
    assert all(loaded[k] is not None for k in ("started_at", "finished_at", "score", "task_scores", "wall_seconds"))


def test_launching_the_same_card_again_gets_the_loaded_one_and_trains_nothing(reference_examples, alice, client_for):
    directory, _bench = reference_examples
    load(directory)
    card = ReportCard.objects.get(graph__template_slug="tiny_mlp")
    runs = Run.objects.count()
    body = {"suite": TINY_SUITE, "params": tiny_budget(), "seeds": 1}
    again = client_for(alice).post(f"/api/graphs/{card.graph_id}/report-cards/", body, format="json")
    assert again.status_code == 200 and again.json()["id"] == card.pk
    # A fork has the same spec: the same card.
    fork = client_for(alice).post(f"/api/graphs/{card.graph_id}/fork/", {}, format="json").json()
    again = client_for(alice).post(f"/api/graphs/{fork['id']}/report-cards/", body, format="json")
    assert again.status_code == 200 and again.json()["id"] == card.pk
    assert Run.objects.count() == runs


def test_loading_again_leaves_unchanged_cards_alone_and_replaces_changed_ones(reference_examples):
    directory, _bench = reference_examples
    load(directory)
    before = dict(ReportCard.objects.values_list("graph__template_slug", "pk"))
    load(directory)
    assert dict(ReportCard.objects.values_list("graph__template_slug", "pk")) == before
    path = directory / "reference-cards" / "cards.json"
    shipped = json.loads(path.read_text())
    key = next(iter(shipped["tiny_mlp"]["results"]))
    shipped["tiny_mlp"]["results"][key]["eval_accuracy"] = 0.75  # the card computed again, with other numbers
    path.write_text(json.dumps(shipped))
    load(directory)
    after = dict(ReportCard.objects.values_list("graph__template_slug", "pk"))
    assert after["tiny_attention"] == before["tiny_attention"] and after["tiny_mlp"] != before["tiny_mlp"]
    assert Run.objects.get(card_id=after["tiny_mlp"], card_key=key).final_metrics["eval_accuracy"] == 0.75
    assert ReportCard.objects.count() == 2 and not Run.objects.filter(card__isnull=True).exists()


def test_a_card_of_a_changed_example_is_refused_loudly_and_nothing_is_loaded(reference_examples):
    directory, _bench = reference_examples
    spec = json.loads((directory / "tiny_mlp.json").read_text())
    spec["model"]["norm"] = "layernorm"  # the example changed after its card was computed
    (directory / "tiny_mlp.json").write_text(json.dumps(spec))
    with pytest.raises(CommandError, match=r"cards.json: tiny_mlp: stale: the card was computed for another spec"):
        load(directory)
    assert not ReportCard.objects.exists()


def test_a_card_of_a_changed_suite_is_refused_loudly(reference_examples, tiny_suite):
    directory, _bench = reference_examples
    tiny_suite(steps=11)  # the suite's recipe changed: same name, other runs
    # card_hash counts the suite's training settings, so the hash check already refuses it
    with pytest.raises(CommandError, match=r"tiny_mlp: stale: the card was computed for another spec, suite"):
        load(directory)
    assert not ReportCard.objects.exists()


def test_an_unstamped_card_is_refused(reference_examples):
    directory, bench = reference_examples
    (directory / "reference-cards" / "cards.json").write_text(json.dumps(bench))
    with pytest.raises(CommandError, match="not stamped"):
        load(directory)


def test_stamping_checks_the_bench_output_against_the_examples(reference_examples):
    directory, bench = reference_examples
    stamped = stamp(bench, directory)
    assert stamped["tiny_mlp"]["card_hash"] == card_hash(json.loads((directory / "tiny_mlp.json").read_text()),
                                                         TINY_SUITE, {"kind": "params", "value": tiny_budget()}, [0])
    missing = {**bench["tiny_mlp"], "results": dict(list(bench["tiny_mlp"]["results"].items())[:1])}
    with pytest.raises(ReferenceCardsInvalid, match="results for other runs than the plan's"):
        stamp({"tiny_mlp": missing}, directory)
    with pytest.raises(ReferenceCardsInvalid, match="another version of the example"):
        stamp({"tiny_mlp": {**bench["tiny_mlp"], "params": 1}}, directory)
    with pytest.raises(ReferenceCardsInvalid, match="no example graph 'nope'"):
        stamp({"nope": bench["tiny_mlp"]}, directory)


def test_the_stamp_command_writes_the_file_load_examples_reads(reference_examples, tmp_path_factory):
    directory, bench = reference_examples
    raw = tmp_path_factory.mktemp("bench") / "bench.json"
    raw.write_text(json.dumps(bench))
    out = directory / "reference-cards" / "cards.json"
    call_command("stamp_reference_cards", str(raw), str(out), "--examples", str(directory), stdout=open("/dev/null", "w"))
    load(directory)
    assert ReportCard.objects.filter(status="succeeded").count() == 2
    assert summarise_card(ReportCard.objects.first().plan, {})["missing"]  # the plan is the full plan
