"""Comparing runs and reading their status in the browser (issue 12, points 3 and 4).

Tiny runs (a one-block graph, MQAR at length 16, a few steps) trained by the real worker, so each
test spends seconds on training. Runs are launched through the REST API with the page's session;
what is checked is what the pages draw.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import api

pytestmark = pytest.mark.browser

TINY_SPEC = {
    "version": 1,
    "model": {"d_model": 16, "max_seq_len": 16, "norm": "rmsnorm", "tie_embeddings": True},
    "nodes": [{"id": "in", "type": "input"}, {"id": "mlp", "type": "mlp", "params": {"expansion": 2}}, {"id": "out", "type": "output"}],
    "edges": [["in", "mlp"], ["mlp", "out"]],
}
TINY_TASK = {"vocab_size": 32, "seq_len": 16, "num_kv_pairs": 2}
RUN_TIMEOUT_S = 180
SHOTS = Path(__file__).resolve().parents[2] / "test-results"  # gitignored


def tiny_graph(pg) -> int:
    return api(pg, "POST", "/api/graphs/", {"title": "Tiny MLP", "spec": TINY_SPEC})["id"]


def launch(pg, graph_id: int, **hyper) -> int:
    body = {"task": "mqar", "task_params": TINY_TASK, "batch_size": 2, "steps": 4, "seed": 0, "lr": 3e-3, **hyper}
    return api(pg, "POST", f"/api/graphs/{graph_id}/runs/", body)["id"]


def wait_finished(pg, *run_ids: int) -> list[dict]:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        runs = [pg.request.get(f"/api/runs/{run_id}/").json() for run_id in run_ids]
        if all(r["status"] in ("succeeded", "failed", "cancelled") for r in runs):
            assert all(r["status"] == "succeeded" for r in runs), [r["error_message"] for r in runs]
            return runs
        assert time.monotonic() < deadline, f"runs {run_ids} still {[r['status'] for r in runs]}"
        time.sleep(0.5)


def colour_pixels(pg, testid: str, colours: list[str]) -> list[int]:
    """Pixels of each colour (within a small tolerance) on a chart's canvas: what was drawn."""
    return pg.evaluate(
        """([testid, colours]) => {
            const canvas = document.querySelector(`[data-testid=${testid}] canvas`);
            const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
            return colours.map((hex) => {
                const c = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
                let n = 0;
                for (let i = 0; i < data.length; i += 4) {
                    if (data[i + 3] > 200 && Math.abs(data[i] - c[0]) < 30 && Math.abs(data[i + 1] - c[1]) < 30 && Math.abs(data[i + 2] - c[2]) < 30) n++;
                }
                return n;
            });
        }""",
        [testid, colours],
    )


def test_compare_highlights_the_lr_and_draws_one_point_eval_series(user_page):
    pg = user_page
    graph_id = tiny_graph(pg)
    # Four steps and an evaluation every 50: each run's eval series is one point, at the end.
    slow, fast = launch(pg, graph_id, lr=1e-3), launch(pg, graph_id, lr=1e-2)
    wait_finished(pg, slow, fast)

    pg.goto(f"/compare?ids={slow},{fast}")
    table = pg.get_by_test_id("compare-table")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(pg.get_by_test_id("col-lr")).to_have_attribute("data-differs", "true")
    expect(pg.get_by_test_id("col-batch_size")).to_have_attribute("data-differs", "false")
    expect(pg.get_by_test_id("col-task.seq_len")).to_have_attribute("data-differs", "false")
    expect(pg.get_by_test_id(f"compare-row-{fast}").locator("td.differs").first).to_have_text("0.01")
    expect(pg.get_by_test_id("compare-task-notice")).to_have_count(0)  # same task, same parameters

    # Both eval series have their one point, and both are drawn on the canvas.
    expect(pg.get_by_test_id("compare-eval")).to_have_attribute("data-series-counts", "1,1")
    expect(pg.get_by_test_id("compare-accuracy")).to_have_attribute("data-series-counts", "1,1")
    pg.wait_for_timeout(200)
    blue, red = colour_pixels(pg, "compare-eval", ["#3867d6", "#eb3b5a"])
    assert blue > 10 and red > 10, f"eval points drawn: {blue} and {red} pixels"

    # Hovering the train chart tells the step and each value.
    box = pg.get_by_test_id("compare-train").locator(".u-over").bounding_box()
    pg.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    tip = pg.get_by_test_id("compare-train").get_by_test_id("chart-tooltip")
    expect(tip).to_be_visible()
    expect(tip).to_contain_text(re.compile(r"step \d"))

    # A run that differs from the first only by its seed: drawn as their mean with a band.
    reseeded = launch(pg, graph_id, lr=1e-3, seed=1)
    wait_finished(pg, reseeded)
    pg.goto(f"/compare?ids={slow},{reseeded},{fast}")
    expect(pg.get_by_test_id("compare-aggregate")).to_be_checked()
    expect(pg.get_by_test_id("compare-train")).to_have_attribute("data-series-counts", "4,4")
    expect(pg.get_by_test_id("compare-train")).to_contain_text("mean of 2 seeds")
    expect(pg.get_by_test_id("col-seed")).to_have_attribute("data-differs", "true")
    pg.get_by_test_id("compare-aggregate").uncheck()
    expect(pg.get_by_test_id("compare-train")).to_have_attribute("data-series-counts", "4,4,4")

    # Another task setting gets its own panels and a notice.
    other = launch(pg, graph_id, task_params={**TINY_TASK, "num_kv_pairs": 1})
    wait_finished(pg, other)
    pg.goto(f"/compare?ids={slow},{fast},{other}")
    expect(pg.get_by_test_id("compare-task-notice")).to_be_visible()
    expect(pg.get_by_test_id("compare-panel")).to_have_count(2)
    expect(pg.get_by_test_id("col-task.num_kv_pairs")).to_have_attribute("data-differs", "true")
    pg.wait_for_timeout(200)
    SHOTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(SHOTS / "screenshot-compare.png"), full_page=True)


def test_a_run_stopped_by_its_budget_says_so(user_page):
    pg = user_page
    graph_id = tiny_graph(pg)
    # 2 x 16 tokens a step: the budget ends the run after step 3 of 200.
    run_id = launch(pg, graph_id, steps=200, max_tokens=3 * 2 * 16)
    # One second of training, far short of its steps.
    timed_id = launch(pg, graph_id, steps=20_000, max_seconds=1)  # the per-run limit of steps
    run, timed = wait_finished(pg, run_id, timed_id)
    assert run["final_metrics"]["stopped"] == "tokens" and run["final_metrics"]["steps"] == 3
    assert timed["final_metrics"]["stopped"] == "time"

    pg.goto(f"/runs/{run_id}")
    status = pg.get_by_test_id("run-status")
    expect(status).to_have_text("token budget")
    expect(status).to_have_class(re.compile(r"\bstatus-budget\b"))
    expect(pg.get_by_test_id("run-status-detail")).to_have_text("stopped by token budget at step 3/200")
    # Not the green of a run that completed its steps.
    assert status.evaluate("el => getComputedStyle(el).backgroundColor") != "rgb(223, 245, 232)"

    pg.goto(f"/runs/{timed_id}")
    expect(pg.get_by_test_id("run-status")).to_have_text("time budget")
    steps = timed["final_metrics"]["steps"]
    expect(pg.get_by_test_id("run-status-detail")).to_have_text(f"stopped by time budget at step {steps}/20000")
    expect(pg.get_by_test_id("run-result")).to_contain_text("time budget")


def test_the_editor_keeps_the_live_run_in_view_and_lists_the_graphs_runs(user_page):
    pg = user_page
    graph_id = tiny_graph(pg)
    pg.goto(f"/graphs/{graph_id}/edit")
    expect(pg.get_by_test_id("editor")).to_have_attribute("data-ready", "true")
    pg.get_by_test_id("tab-run").click()
    expect(pg.get_by_test_id("task-select")).to_have_value("mqar")
    for name, value in TINY_TASK.items():
        pg.get_by_test_id(f"task-{name}").fill(str(value))
    pg.get_by_text("Hyper-parameters").click()
    pg.get_by_test_id("hparam-steps").fill("4")
    pg.get_by_test_id("hparam-batch_size").fill("2")

    run_ids = []
    for _ in range(2):
        pg.get_by_test_id("launch").click()
        link = pg.get_by_test_id("run-link")
        expect(link).not_to_have_attribute("href", re.compile(rf"/runs/({'|'.join(run_ids) or 'none'})$"))
        run_ids.append(re.search(r"/runs/(\d+)", link.get_attribute("href")).group(1))
        # The run just launched is pinned at the top of the panel, its chart in view.
        expect(pg.get_by_test_id("chart-loss")).to_be_in_viewport()
        expect(pg.get_by_test_id("run-view")).to_have_attribute("data-status", "succeeded", timeout=RUN_TIMEOUT_S * 1000)

    # Both runs are in the graph's history; picking the first shows it, without leaving the editor.
    history = pg.get_by_test_id("run-history")
    for run_id in run_ids:
        expect(history.get_by_test_id(f"history-run-{run_id}")).to_contain_text("mqar")
    expect(history.get_by_test_id(f"history-run-{run_ids[1]}")).to_have_attribute("aria-pressed", "true")
    history.get_by_test_id(f"history-run-{run_ids[0]}").click()
    expect(pg.get_by_test_id("run-link")).to_have_attribute("href", f"/runs/{run_ids[0]}")
    expect(pg.get_by_test_id("run-view")).to_have_attribute("data-status", "succeeded")
    assert pg.url.endswith(f"/graphs/{graph_id}/edit")
    # A tooltip gives the step and the value under the cursor.
    pg.wait_for_function("() => Number(document.querySelector('[data-testid=chart-loss]')?.dataset.points) >= 4")
    over = pg.get_by_test_id("chart-loss").locator(".u-over")
    over.scroll_into_view_if_needed()
    box = over.bounding_box()
    pg.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5, steps=4)
    tip = pg.get_by_test_id("chart-loss").get_by_test_id("chart-tooltip")
    expect(tip).to_contain_text(re.compile(r"step \d"))
    expect(tip).to_contain_text("train loss")
    SHOTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(SHOTS / "screenshot-editor-runs.png"))
    # Switching to the inspector and back keeps the run shown.
    pg.get_by_test_id("tab-inspect").click()
    pg.get_by_test_id("tab-run").click()
    expect(pg.get_by_test_id("run-link")).to_have_attribute("href", f"/runs/{run_ids[0]}")
