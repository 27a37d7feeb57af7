"""Report cards in the browser (issue 12, points 1, 2 and 6), against the real server and worker.

A card of the ``smoke`` suite (three settings of 20 steps, registered for the tests' server by
COMPOSER_SMOKE_SUITE=1) really trains in the worker: launched from the editor, its page fills in
live (table, score, radar, overlaid with a reference architecture's card at the same budget) and
the leaderboard lists it. A quick card takes minutes on a CPU: that test cancels it once its page
is up and checks the page against the real API and websocket.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import api
from tests.browser.test_compare import SHOTS, tiny_graph

pytestmark = pytest.mark.browser

CARD_TIMEOUT_MS = 300_000  # six runs of 20 steps on a busy 2-core machine, one worker
BUDGET = 120_000  # the suites' default_params: what the launcher proposes


def test_a_smoke_card_launched_from_the_editor_trains_fills_its_table_and_radar_and_is_on_the_leaderboard(user_page):
    pg = user_page
    smoke = next(s for s in pg.request.get("/api/report-cards/suites/").json() if s["name"] == "smoke")
    assert smoke["default_params"] == BUDGET
    # A reference architecture's card at the same suite and budget: the Transformer example's.
    transformer = next(g for g in pg.request.get("/api/graphs/?filter=templates&q=Transformer").json()["results"]
                       if g["title"].startswith("Transformer"))
    reference = api(pg, "POST", f"/api/graphs/{transformer['id']}/report-cards/",
                    {"suite": "smoke", "params": BUDGET, "seeds": 1})
    graph_id = tiny_graph(pg)
    pg.goto(f"/graphs/{graph_id}/edit")
    expect(pg.get_by_test_id("editor")).to_have_attribute("data-ready", "true")
    pg.get_by_test_id("tab-run").click()
    pg.get_by_test_id("card-launcher").locator("summary").click()
    pg.get_by_test_id("card-suite").select_option("smoke")
    expect(pg.get_by_test_id("card-budget")).to_have_value(str(BUDGET))
    expect(pg.get_by_test_id("card-estimate")).to_contain_text(re.compile(r"3 runs of d_model \d+"))
    pg.get_by_test_id("card-launch").click()
    pg.wait_for_url(re.compile(r"/cards/\d+$"))
    card_id = int(pg.url.rsplit("/", 1)[1])

    page = pg.get_by_test_id("card-page")
    expect(page.get_by_test_id("card-row")).to_have_count(len(smoke["tasks"]))
    # The page is live (websocket): it turns succeeded without a reload once the worker has trained every run.
    expect(page).not_to_have_attribute("data-status", re.compile("queued|running"), timeout=CARD_TIMEOUT_MS)
    detail = pg.request.get(f"/api/report-cards/{card_id}/").json()
    assert detail["status"] == "succeeded", [(e["key"], e["status"], e["error"]) for e in detail["entries"]]
    expect(page).to_have_attribute("data-status", "succeeded")
    expect(page.get_by_test_id("card-progress")).to_have_text("3/3 runs done")
    expect(page.get_by_test_id("card-score")).to_have_text(re.compile(r"^\d+\.\d %$"))
    for row in page.get_by_test_id("card-row").all():
        expect(row.locator("td").nth(2)).to_have_text(re.compile(r"^\d+\.\d %$"))
        expect(row.locator("[data-testid^=entry-run-]")).to_have_attribute("href", re.compile(r"^/runs/\d+$"))
    radar = page.get_by_test_id("card-radar")
    for task in smoke["task_names"]:
        expect(radar.get_by_test_id("radar-main").locator("title")).to_contain_text(re.compile(task + r" \d+ %"))

    # The reference card (trained behind this one, or before it) is drawn over it, and can be hidden.
    expect(page.get_by_test_id(f"radar-reference-{reference['id']}")).to_be_checked(timeout=CARD_TIMEOUT_MS)
    expect(radar.get_by_test_id("radar-reference")).to_have_count(1)
    expect(radar.get_by_test_id("radar-reference").locator("title")).to_contain_text("Transformer")
    page.get_by_test_id(f"radar-reference-{reference['id']}").uncheck()
    expect(radar.get_by_test_id("radar-reference")).to_have_count(0)
    SHOTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(SHOTS / "screenshot-card-smoke.png"), full_page=True)

    page.get_by_role("link", name="Leaderboard").click()
    expect(pg.get_by_test_id("leaderboard-suite")).to_have_value("smoke")
    row = pg.get_by_test_id(f"leaderboard-card-{card_id}")
    expect(row).to_contain_text("Tiny MLP")
    expect(row.locator("td").nth(6)).to_have_text(re.compile(r"^\d+\.\d$"))  # the score column
    expect(pg.get_by_test_id(f"leaderboard-card-{reference['id']}")).to_contain_text("reference")


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
    card_id = int(pg.url.rsplit("/", 1)[1])

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
    board = pg.get_by_test_id("leaderboard-page")  # the examples' reference cards may be listed, not this one
    expect(board.get_by_test_id("leaderboard-table").or_(board.get_by_text("No finished report cards"))).to_be_visible()
    expect(board.get_by_test_id(f"leaderboard-card-{card_id}")).to_have_count(0)
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
