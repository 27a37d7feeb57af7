"""The editor's and graph page's buttons that had no browser test (issue 13, point 8): Export (JSON,
PyTorch, SVG, PNG), Share (visibility and Copy link), Star, Restore a version, and Cancel a run."""
from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import api
from tests.browser.test_editor import launch_run, open_editor

pytestmark = pytest.mark.browser

MODEL = {"d_model": 32, "max_seq_len": 64, "norm": "rmsnorm", "tie_embeddings": True}


def chain(*blocks: str) -> dict:
    ids = ["in", *[f"b{i}" for i in range(len(blocks))], "out"]
    types = ["input", *blocks, "output"]
    return {"version": 1, "model": MODEL, "nodes": [{"id": i, "type": t} for i, t in zip(ids, types)],
            "edges": [[a, b] for a, b in zip(ids, ids[1:])], "layout": {}}


def new_graph(pg, title: str, spec: dict, visibility: str = "private") -> int:
    return api(pg, "POST", "/api/graphs/", {"title": title, "spec": spec, "visibility": visibility})["id"]


def download(pg, testid: str):
    with pg.expect_download() as info:
        pg.get_by_test_id(testid).click()
    d = info.value
    return d.suggested_filename, open(d.path(), "rb").read()


def test_export_downloads_json_pytorch_svg_and_png(user_page):
    pg = user_page
    open_editor(pg)
    pg.get_by_test_id("export").click()
    expect(pg.get_by_test_id("export-py")).to_be_disabled()  # made from the saved version: save first
    pg.keyboard.press("Escape")

    gid = new_graph(pg, "Export me", chain("mlp"))
    open_editor(pg, f"/graphs/{gid}/edit")
    pg.get_by_test_id("export").click()
    name, body = download(pg, "export-json")
    assert name == "export-me.json"
    assert [n["type"] for n in json.loads(body)["nodes"]] == ["input", "mlp", "output"]
    name, body = download(pg, "export-py")
    assert name == "export-me.py" and b"import torch" in body
    name, body = download(pg, "export-svg")
    assert name == "export-me.svg" and b"<svg" in body
    name, body = download(pg, "export-png")
    assert name == "export-me.png" and body.startswith(b"\x89PNG\r\n\x1a\n")
    expect(pg.get_by_test_id("export-dialog").get_by_role("alert")).to_have_count(0)


def test_share_changes_visibility_and_copies_the_link(user_page):
    pg = user_page
    pg.context.grant_permissions(["clipboard-read", "clipboard-write"])
    gid = new_graph(pg, "Share me", chain("mlp"))
    open_editor(pg, f"/graphs/{gid}/edit")
    pg.get_by_test_id("share").click()
    link = pg.get_by_test_id("share-link")
    pg.get_by_test_id("visibility-public").click()  # checked once the server has it
    expect(pg.get_by_test_id("visibility-public")).to_be_checked()
    expect(link).to_have_value(re.compile(rf"/graphs/{gid}$"))
    assert api(pg, "GET", f"/api/graphs/{gid}/")["visibility"] == "public"
    pg.get_by_test_id("visibility-unlisted").click()  # checked once the server has it
    expect(pg.get_by_test_id("visibility-unlisted")).to_be_checked()
    expect(link).to_have_value(re.compile(r"/graphs/u/[A-Za-z0-9_-]{32}$"))
    pg.get_by_test_id("share-copy").click()
    expect(pg.get_by_test_id("share-copy")).to_have_text("Copied")
    assert pg.evaluate("navigator.clipboard.readText()") == link.input_value()


def test_star_and_unstar_a_graph(user_page):
    pg = user_page
    gid = new_graph(pg, "Star me", chain("mlp"), visibility="public")
    pg.goto(f"/graphs/{gid}")
    star = pg.get_by_test_id("star")
    expect(star).to_have_text("☆ Star 0")
    star.click()
    expect(star).to_have_text("★ Starred 1")
    expect(star).to_have_attribute("aria-pressed", "true")
    assert api(pg, "GET", f"/api/graphs/{gid}/")["starred"] is True
    star.click()
    expect(star).to_have_text("☆ Star 0")


def test_restore_an_earlier_version(user_page):
    pg = user_page
    gid = new_graph(pg, "Restore me", chain("mlp"))
    api(pg, "PATCH", f"/api/graphs/{gid}/", {"spec": chain("mlp", "mamba"), "message": "add mamba"})
    pg.goto(f"/graphs/{gid}")
    expect(pg.get_by_test_id("version-2")).to_contain_text("add mamba")
    pg.get_by_test_id("version-1").get_by_role("button", name="Restore").click()
    expect(pg.get_by_test_id("version-3")).to_be_visible()
    restored = api(pg, "GET", f"/api/graphs/{gid}/")
    assert restored["version"] == 3
    assert [n["type"] for n in restored["spec"]["nodes"]] == ["input", "mlp", "output"]


def test_cancel_a_run_from_the_editor(user_page):
    pg = user_page
    gid = new_graph(pg, "Cancel me", chain("mlp"))
    open_editor(pg, f"/graphs/{gid}/edit")
    run_id = launch_run(pg, steps=5000)
    panel = pg.get_by_test_id("run-panel")
    panel.get_by_test_id("run-cancel").click()
    expect(panel.get_by_test_id("run-view")).to_have_attribute("data-status", "cancelled", timeout=60_000)
    assert api(pg, "GET", f"/api/runs/{run_id}/")["status"] == "cancelled"
