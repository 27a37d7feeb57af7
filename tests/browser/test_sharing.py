"""Sharing and limits in the browser (issue 13, points 5 and 6): an unlisted graph's link carries a
token, its numeric page is closed to others, a fork says where it came from, and the run form's
ranges are the server's limits."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import VIEWPORT, api, sign_up

pytestmark = pytest.mark.browser

SPEC = {
    "version": 1,
    "model": {"d_model": 32, "max_seq_len": 64, "norm": "rmsnorm", "tie_embeddings": True},
    "nodes": [{"id": "in", "type": "input"}, {"id": "a", "type": "mlp", "params": {}}, {"id": "out", "type": "output"}],
    "edges": [["in", "a"], ["a", "out"]],
    "layout": {},
}


def test_unlisted_link_token_fork_and_server_limits(user_page, browser, app_url):
    pg = user_page
    owner = pg.get_by_test_id("current-user").inner_text()
    graph = api(pg, "POST", "/api/graphs/", {"title": "Shared MLP", "spec": SPEC, "visibility": "unlisted"})
    pg.goto(f"/graphs/{graph['id']}/edit")
    expect(pg.get_by_test_id("editor")).to_have_attribute("data-ready", "true")

    # The run form's ranges are the limits a launch enforces (GET /api/limits/), not a copy.
    limits = pg.request.get("/api/limits/").json()
    expect(pg.get_by_test_id("budget-max_seconds")).to_have_attribute("max", str(limits["runs"]["max_seconds"]))
    expect(pg.get_by_test_id("hparam-steps")).to_have_attribute("max", str(limits["runs"]["max_steps"]))

    pg.get_by_test_id("share").click()
    link = pg.get_by_test_id("share-link")
    expect(link).to_have_value(re.compile(r"/graphs/u/[A-Za-z0-9_-]{32}$"))
    path = re.search(r"/graphs/u/[A-Za-z0-9_-]+$", link.input_value()).group(0)

    context = browser.new_context(viewport=VIEWPORT, base_url=app_url)
    try:
        other = context.new_page()
        sign_up(other)
        other.goto(f"/graphs/{graph['id']}")  # the numeric page: closed to others
        expect(other.get_by_test_id("graph-page")).to_have_count(0)
        expect(other.get_by_role("alert")).to_be_visible()
        other.goto(path)
        page_ = other.get_by_test_id("shared-graph-page")
        expect(page_.get_by_role("heading", name="Shared MLP")).to_be_visible()
        other.get_by_test_id("fork").click()
        other.wait_for_url(re.compile(r"/graphs/\d+/edit$"))
        fork_id = re.search(r"/graphs/(\d+)/edit", other.url).group(1)
        other.goto(f"/graphs/{fork_id}")
        expect(other.get_by_role("heading", name="Shared MLP (fork)")).to_be_visible()
        expect(other.get_by_test_id("forked-from")).to_have_text(f"forked from {owner}'s Shared MLP (v1)")
    finally:
        context.close()
