"""Front-end rendering benchmark (issue 12): the compare page with 50 runs x 2,000 points each and
the leaderboard with 50 cards, in headless Debian chromium, against the built frontend/dist.

No server: Playwright serves dist/ and answers the API with synthetic data, so the numbers are
the browser's alone (parse, React render, uPlot draw). The server caps a real compare at
MAX_COMPARE_RUNS runs; the page is measured beyond it. Prints a Markdown table of medians over
--repeat loads: time from the API's answer to every chart drawn, and to a change of x axis
(wall time: each run has its own x values, so the aligned x array is 100,000 long).

Usage: python bench/frontend_render.py [--runs 50] [--points 2000] [--repeat 3]
Needs `cd frontend && npm run build` and /usr/bin/chromium (or COMPOSER_CHROMIUM).
"""
from __future__ import annotations

import argparse
import json
import mimetypes
import os
import random
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "frontend" / "dist"
CHROMIUM = os.environ.get("COMPOSER_CHROMIUM", "/usr/bin/chromium")
ORIGIN = "http://composer.bench"
TARGET_MS = 500


def compare_payload(runs: int, points: int, seeds_per_group: int = 5) -> dict:
    """`runs` runs of `points` train steps (an evaluation every 50), in groups that differ only by seed."""
    rng = random.Random(0)
    steps = list(range(1, points + 1))
    out = []
    for i in range(runs):
        group = i // seeds_per_group
        lr = 10 ** (-3 - group * 0.1)
        speed = 0.05 * (1 + rng.random())
        loss = [3.5 * (s ** -0.2) * (1 + group * 0.02) + rng.random() * 0.05 for s in steps]
        evals = {s for s in steps if s % 50 == 0}
        out.append({
            "id": i + 1, "graph": 1 + group, "graph_title": f"arch {group}", "version": 1, "task": "mqar", "status": "succeeded",
            "hyper": {"lr": lr, "batch_size": 32, "steps": points, "seed": i}, "budget": {"max_seconds": 3600, "max_tokens": None},
            "task_params": {"vocab_size": 256, "seq_len": 64, "num_kv_pairs": 4}, "seed": i,
            "cost": {"params": 120_000, "flops_per_token": 240_000},
            "final_metrics": {"final_train_loss": loss[-1], "final_eval_loss": loss[-1], "eval_accuracy": 0.5, "params": 120_000,
                              "tokens_per_s": 40_000, "wall_seconds": points * speed, "steps": points, "stopped": "steps"},
            "series": {
                "train.loss": loss,
                "train.tokens": [s * 32 * 64 for s in steps],
                "train.elapsed_s": [s * speed for s in steps],
                "eval.loss": [loss[k] + 0.1 if s in evals else None for k, s in enumerate(steps)],
                "eval.accuracy": [min(1.0, s / points) if s in evals else None for s in steps],
            },
        })
    return {"steps": steps, "runs": out}


def leaderboard_payload(cards: int) -> dict:
    tasks = ["mqar", "selective_copy", "in_context_recall", "fuzzy_recall", "noisy_recall", "compression", "memorization"]
    rng = random.Random(1)
    results = []
    for i in range(cards):
        scores = {t: rng.random() for t in tasks}
        results.append({
            "id": i + 1, "graph": i + 1, "graph_title": f"arch {i}", "version": 1, "user": "bench", "suite": "quick",
            "budget": {"kind": "params", "value": 120000}, "seeds": 3, "status": "succeeded", "cancel_requested": False,
            "public": True, "params": 120000 + i, "state_bytes": 4096 * i, "estimate_seconds": 600, "score": statistics.fmean(scores.values()),
            "task_scores": scores, "wall_seconds": 600.0 + i, "graph_is_template": i < 3, "progress": {"total": 21, "done": 21},
            "created_at": "", "finished_at": "",
        })
    return {"count": cards, "next": None, "previous": None, "results": results}


SUITES = [{"name": "quick", "title": "Quick", "description": "", "device": "cpu", "tasks": [], "sweep": [], "task_names": [
    "mqar", "selective_copy", "in_context_recall", "fuzzy_recall", "noisy_recall", "compression", "memorization"], "runs_per_seed": 7}]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--points", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not (DIST / "index.html").exists():
        print("frontend/dist is missing: run `cd frontend && npm run build` first", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    compare = json.dumps(compare_payload(args.runs, args.points))
    board = json.dumps(leaderboard_payload(args.runs))
    answered: dict[str, float] = {}

    def handle(route):
        url = urlparse(route.request.url)
        path = url.path
        if path.startswith("/static/"):
            file = DIST / path[len("/static/"):]
            ctype = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            return route.fulfill(body=file.read_bytes(), content_type=ctype)
        if path == "/api/runs/compare/":
            answered["compare"] = time.perf_counter()
            return route.fulfill(body=compare, content_type="application/json")
        if path == "/api/report-cards/suites/":
            return route.fulfill(body=json.dumps(SUITES), content_type="application/json")
        if path == "/api/report-cards/":
            answered["board"] = time.perf_counter()
            return route.fulfill(body=board, content_type="application/json")
        if path == "/api/me/":
            return route.fulfill(status=401, body='{"message": "not logged in"}', content_type="application/json")
        if path.startswith("/api/"):
            return route.fulfill(body='{"results": []}', content_type="application/json")
        return route.fulfill(body=(DIST / "index.html").read_bytes(), content_type="text/html")

    ids = ",".join(str(i + 1) for i in range(args.runs))
    # True once every chart is drawn; answers the page's clock minus the moment the compare
    # response ended (resource timing), so transfer through the test harness is not counted.
    charts_drawn = ("() => ['compare-train', 'compare-eval', 'compare-accuracy'].every((t) => "
                    "document.querySelectorAll(`[data-testid=${t}] canvas`).length > 0 && "
                    "Number(document.querySelector(`[data-testid=${t}]`).dataset.points) > 0) && "
                    "(performance.now() - performance.getEntriesByType('resource').find((e) => e.name.includes('/api/runs/compare/')).responseEnd)")
    rows = {"compare: data to charts drawn": [], "compare: incl. transfer from the harness": [],
            "compare: x axis -> wall time": [], "leaderboard: data to table": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        for _ in range(args.repeat):
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.route("**/*", handle)
            page.goto(f"{ORIGIN}/compare?ids={ids}")
            took = page.wait_for_function(charts_drawn, timeout=60_000, polling="raf").json_value()
            rows["compare: data to charts drawn"].append(took)
            rows["compare: incl. transfer from the harness"].append((time.perf_counter() - answered["compare"]) * 1000)
            points = page.get_by_test_id("compare-train").get_attribute("data-points")
            started = time.perf_counter()
            page.get_by_test_id("compare-axis").select_option("time")
            page.wait_for_function(f"() => document.querySelector('[data-testid=compare-train]').dataset.points !== '{points}'",
                                   timeout=60_000, polling="raf")
            rows["compare: x axis -> wall time"].append((time.perf_counter() - started) * 1000)
            page.goto(f"{ORIGIN}/leaderboard?suite=quick")
            page.wait_for_function(f"() => document.querySelectorAll('[data-testid=leaderboard-table] tbody tr').length === {args.runs}",
                                   timeout=60_000, polling="raf")
            rows["leaderboard: data to table"].append((time.perf_counter() - answered["board"]) * 1000)
            page.close()
        browser.close()

    print(f"\n{args.runs} runs x {args.points} points (compare), {args.runs} cards (leaderboard), "
          f"headless chromium, median of {args.repeat}; target < {TARGET_MS} ms\n")
    print("| measure | median ms | all (ms) | target |")
    print("|---|---:|---|---|")
    for name, values in rows.items():
        med = statistics.median(values)
        verdict = "(harness IPC)" if "harness" in name else "ok" if med < TARGET_MS else "OVER"
        print(f"| {name} | {med:.0f} | {', '.join(f'{v:.0f}' for v in values)} | {verdict} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
