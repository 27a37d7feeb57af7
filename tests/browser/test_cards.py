"""Report cards in the browser (issue 12, point 1): launched from the editor, the card's page shows
its table (task x setting) and radar over the suite's tasks and links each run. The quick suite
takes minutes on a CPU, so the test cancels the card once its page is up: what is checked is the
page against the real API and websocket, not the training."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_compare import SHOTS, tiny_graph

pytestmark = pytest.mark.browser


def test_a_card_launched_from_the_editor_shows_its_table_and_radar(user_page):
    pg = user_page
    graph_id = tiny_graph(pg)
    suites = pg.request.get("/api/report-cards/suites/").json()
    quick = next(s for s in suites if s["name"] == "quick")
    pg.goto(f"/graphs/{graph_id}/edit")
    expect(pg.get_by_test_id("editor")).to_have_attribute("data-ready", "true")
    pg.get_by_test_id("tab-run").click()
    pg.get_by_test_id("card-launcher").locator("summary").click()
    expect(pg.get_by_test_id("card-suite")).to_have_value("quick")
    expect(pg.get_by_test_id("card-estimate")).to_contain_text(re.compile(r"wall time ≈ \d"))
    pg.get_by_test_id("card-launch").click()
    pg.wait_for_url(re.compile(r"/cards/\d+$"))

    page = pg.get_by_test_id("card-page")
    expect(page.get_by_test_id("card-row")).to_have_count(len(quick["tasks"]))
    expect(page.get_by_test_id("card-radar").get_by_test_id("radar-main")).to_have_count(1)
    expect(page.get_by_test_id("card-progress")).to_contain_text(f"/{len(quick['tasks'])} runs done")
    first = page.locator("[data-testid^=entry-run-]").first
    expect(first).to_have_attribute("href", re.compile(r"^/runs/\d+$"))

    # The card's websocket turns the first run's entry to running as the worker takes it.
    expect(page.locator(".entry-run.status-running").first).to_be_visible(timeout=60_000)

    pg.get_by_test_id("card-cancel").click()
    expect(page).to_have_attribute("data-status", "cancelled", timeout=60_000)
    expect(page.get_by_test_id("card-status")).to_have_text("cancelled")
    # The leaderboard lists finished cards only: this one has no score, so it is not there.
    pg.get_by_test_id("card-page").get_by_role("link", name="Leaderboard").click()
    expect(pg.get_by_test_id("leaderboard-suite")).to_have_value("quick")
    expect(pg.get_by_test_id("leaderboard-page")).to_contain_text("No finished report cards")
    pg.go_back()
    SHOTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(SHOTS / "screenshot-card.png"), full_page=True)


def _card(card_id: int, score: float, mqar: float, params: int) -> dict:
    return {"id": card_id, "graph": card_id, "graph_title": f"arch {card_id}", "version": 1, "user": "someone",
            "suite": "quick", "budget": {"kind": "params", "value": 120000}, "seeds": 1, "status": "succeeded",
            "cancel_requested": False, "public": True, "params": params, "state_bytes": 4096, "estimate_seconds": 60,
            "score": score, "task_scores": {"mqar": mqar, "selective_copy": score}, "wall_seconds": 300.0,
            "graph_is_template": card_id == 1, "progress": {"total": 7, "done": 7}, "created_at": "", "finished_at": ""}


def test_the_leaderboard_sorts_by_score_and_by_each_task(page):
    pg = page
    # Finished cards take minutes to train on a CPU: the list is served here, the page is real.
    cards = [_card(1, 0.5, 0.9, 120_500), _card(2, 0.8, 0.2, 119_800), _card(3, 0.6, 0.6, 121_000)]
    pg.route(re.compile(r".*/api/report-cards/\?.*"), lambda route: route.fulfill(
        json={"count": len(cards), "next": None, "previous": None, "results": cards}))
    pg.goto("/leaderboard?suite=quick")
    rows = pg.get_by_test_id("leaderboard-table").locator("tbody tr")
    expect(rows).to_have_count(3)
    ids = lambda: [r.get_attribute("data-testid").rsplit("-", 1)[1] for r in rows.all()]  # noqa: E731
    assert ids() == ["2", "3", "1"]  # best score first
    pg.get_by_test_id("sort-task:mqar").click()
    expect(rows.first).to_have_attribute("data-testid", "leaderboard-card-1")
    assert ids() == ["1", "3", "2"]
    pg.get_by_test_id("sort-task:mqar").click()  # again: ascending
    expect(rows.first).to_have_attribute("data-testid", "leaderboard-card-2")
    expect(pg.get_by_test_id("leaderboard-card-1")).to_contain_text("reference")
    expect(pg.get_by_test_id("leaderboard-card-1").get_by_role("link", name="arch 1")).to_have_attribute("href", "/graphs/1")
