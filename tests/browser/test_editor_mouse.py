"""The editor under a real mouse (issue 13, points 1-4): groups resized and filled by dragging,
drops under the pointer at two zoom levels, refused connections with their reason, and numbers that
are never stale. Every gesture is Playwright's page.mouse in Chromium, as a user's hand makes it."""
from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_editor import open_editor, select_node, set_field

pytestmark = pytest.mark.browser

MODEL = {"d_model": 64, "max_seq_len": 128, "norm": "rmsnorm", "tie_embeddings": True}
# Drops land within this many pixels of the pointer (sub-pixel rounding of positions and borders).
TOLERANCE_PX = 3


# --- helpers ---------------------------------------------------------------------------------

def centre(box: dict) -> tuple[float, float]:
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def canvas_point(pg, fx: float, fy: float) -> tuple[float, float]:
    """A point of the canvas, as fractions of its width and height, in page pixels."""
    box = pg.get_by_test_id("canvas").bounding_box()
    return box["x"] + box["width"] * fx, box["y"] + box["height"] * fy


def mouse_drop(pg, block: str, x: float, y: float, into: str | None = None) -> None:
    """Drag a palette block with the mouse and release it at page point (x, y); with `into`, check
    that group is highlighted as the drop target before releasing."""
    item = pg.get_by_test_id(f"palette-{block}")
    item.scroll_into_view_if_needed()
    pg.mouse.move(*centre(item.bounding_box()))
    pg.mouse.down()
    pg.mouse.move(x, y, steps=12)
    if into:
        expect(pg.get_by_test_id(f"node-{into}")).to_have_attribute("data-drop-target", "true")
    pg.mouse.up()


def zoom(pg) -> float:
    transform = pg.locator(".react-flow__viewport").evaluate("el => el.style.transform")
    return float(re.search(r"scale\(([\d.]+)\)", transform).group(1))


def draft(pg) -> dict:
    """The spec as autosaved for this unsaved graph (what a reload restores)."""
    pg.wait_for_timeout(700)  # autosave is debounced
    return json.loads(pg.evaluate("localStorage.getItem('composer:draft:new')"))["spec"]


def import_spec(pg, spec: dict) -> None:
    pg.get_by_test_id("import").click()
    pg.get_by_test_id("import-text").fill(json.dumps(spec))
    pg.get_by_test_id("import-confirm").click()
    pg.wait_for_timeout(400)  # fit view


def assert_centred(pg, testid: str, x: float, y: float) -> None:
    box = pg.get_by_test_id(testid).bounding_box()
    cx, cy = centre(box)
    assert abs(cx - x) <= TOLERANCE_PX and abs(cy - y) <= TOLERANCE_PX, f"{testid} centred at ({cx:.0f}, {cy:.0f}), dropped at ({x:.0f}, {y:.0f})"


def handle(pg, kind: str, node_id: str) -> tuple[float, float]:
    return centre(pg.get_by_test_id(f"handle-{kind}-{node_id}").bounding_box())


def drag_connection(pg, start: tuple[float, float], end: tuple[float, float]):
    """Press on a handle and move onto another; the caller checks the line, then releases."""
    pg.mouse.move(*start)
    pg.mouse.down()
    pg.mouse.move(end[0], end[1], steps=10)


# --- tests -----------------------------------------------------------------------------------

def test_drops_land_under_the_pointer_at_two_zoom_levels(page):
    pg = page
    open_editor(pg)
    x, y = canvas_point(pg, 0.3, 0.5)
    mouse_drop(pg, "mlp", x, y)
    expect(pg.get_by_test_id("node-mlp")).to_be_visible()
    pg.wait_for_timeout(200)
    first = zoom(pg)
    assert_centred(pg, "node-mlp", x, y)

    pg.locator(".react-flow__controls-zoomin").click()
    pg.locator(".react-flow__controls-zoomin").click()
    pg.wait_for_timeout(500)
    second = zoom(pg)
    assert second > first * 1.3, f"zoom {first} -> {second}"
    x, y = canvas_point(pg, 0.7, 0.3)
    mouse_drop(pg, "mlp", x, y)
    expect(pg.get_by_test_id("node-mlp_2")).to_be_visible()
    pg.wait_for_timeout(200)
    assert_centred(pg, "node-mlp_2", x, y)
    assert pg.get_by_test_id("node-mlp_2").bounding_box()["width"] == pytest.approx(220 * second, abs=2)

    # A group, then a block inside it, both centred under the pointer at this zoom.
    pg.locator(".react-flow__controls-zoomout").click()
    pg.wait_for_timeout(500)
    gx, gy = canvas_point(pg, 0.5, 0.6)
    mouse_drop(pg, "repeat", gx, gy)
    expect(pg.get_by_test_id("node-repeat")).to_be_visible()
    assert_centred(pg, "node-repeat", gx, gy)
    bx, by = gx - 40, gy + 20
    mouse_drop(pg, "mamba", bx, by)
    expect(pg.get_by_test_id("node-mamba")).to_be_visible()
    pg.wait_for_timeout(200)
    assert_centred(pg, "node-mamba", bx, by)
    nodes = {n["id"]: n for n in draft(pg)["nodes"]}
    assert nodes["mamba"]["parent"] == "repeat"
    assert "parent" not in nodes["mlp"] and "parent" not in nodes["mlp_2"]


def test_resize_a_group_then_drop_and_drag_blocks_in_and_out(user_page):
    pg = user_page
    pg.set_viewport_size({"width": 1600, "height": 1000})  # room to enlarge the group
    open_editor(pg)
    expect(pg.get_by_test_id("save-state")).to_have_text("unsaved")  # a new graph was never saved
    gx, gy = canvas_point(pg, 0.3, 0.45)
    mouse_drop(pg, "repeat", gx, gy)
    group = pg.get_by_test_id("node-repeat")
    expect(group).to_be_visible()
    before = group.bounding_box()
    scale = zoom(pg)

    # Resize with the bottom-right handle (the group is selected after the drop).
    corner = pg.locator(".react-flow__resize-control.handle.bottom.right")
    expect(corner).to_be_visible()
    pg.mouse.move(*centre(corner.bounding_box()))
    pg.mouse.down()
    pg.mouse.move(before["x"] + before["width"] + 300, before["y"] + before["height"] + 200, steps=12)
    pg.mouse.up()
    after = group.bounding_box()
    assert after["width"] == pytest.approx(before["width"] + 300, abs=4)
    assert after["height"] == pytest.approx(before["height"] + 200, abs=4)

    # A block dropped into the new area (outside the old box) joins the group.
    x, y = after["x"] + after["width"] - 130 * scale, after["y"] + after["height"] - 60 * scale
    assert x - 110 * scale > before["x"] + before["width"], "the drop point is in the area the resize added"
    mouse_drop(pg, "mlp", x, y, into="repeat")
    expect(pg.get_by_test_id("node-mlp")).to_be_visible()
    spec = draft(pg)
    assert {n["id"]: n for n in spec["nodes"]}["mlp"].get("parent") == "repeat"
    size = spec["layout"]["repeat"]
    assert size["w"] == pytest.approx(after["width"] / scale, abs=3) and size["h"] == pytest.approx(after["height"] / scale, abs=3)

    # Dragging a top-level block over the group highlights it, and dropping it there makes it a child.
    mouse_drop(pg, "moe", *canvas_point(pg, 0.15, 0.12))
    moe = pg.get_by_test_id("node-moe")
    expect(moe).to_be_visible()
    pg.mouse.move(*centre(moe.locator(".block-node-head").bounding_box()))
    pg.mouse.down()
    target = (after["x"] + 150 * scale, after["y"] + 110 * scale)
    pg.mouse.move(*target, steps=12)
    expect(group).to_have_attribute("data-drop-target", "true")
    pg.mouse.up()
    expect(group).not_to_have_attribute("data-drop-target", "true")
    assert {n["id"]: n for n in draft(pg)["nodes"]}["moe"].get("parent") == "repeat"

    # And out of it again: a top-level node.
    pg.mouse.move(*centre(moe.locator(".block-node-head").bounding_box()))
    pg.mouse.down()
    pg.mouse.move(*canvas_point(pg, 0.9, 0.1), steps=12)
    expect(group).not_to_have_attribute("data-drop-target", "true")
    pg.mouse.up()
    assert "parent" not in {n["id"]: n for n in draft(pg)["nodes"]}["moe"]

    # The size is saved with the graph: after a save and a reload the group is as large.
    pg.get_by_test_id("save").click()
    pg.get_by_test_id("save-message").fill("resized")
    pg.get_by_test_id("save-confirm").click()
    pg.wait_for_url(re.compile(r"/graphs/\d+/edit$"))
    expect(pg.get_by_test_id("save-state")).to_have_text("saved")
    graph_id = re.search(r"/graphs/(\d+)/edit", pg.url).group(1)
    saved = pg.request.get(f"/api/graphs/{graph_id}/").json()["spec"]["layout"]["repeat"]
    assert (saved["w"], saved["h"]) == (size["w"], size["h"])
    pg.reload()
    expect(pg.get_by_test_id("editor")).to_have_attribute("data-ready", "true")
    pg.wait_for_timeout(400)
    reloaded = pg.get_by_test_id("node-repeat").bounding_box()
    assert reloaded["width"] / zoom(pg) == pytest.approx(size["w"], abs=3)
    assert reloaded["height"] / zoom(pg) == pytest.approx(size["h"], abs=3)


CHAIN = {
    "version": 1, "model": MODEL,
    "nodes": [{"id": "in", "type": "input"}, {"id": "a", "type": "mlp"}, {"id": "b", "type": "mlp"},
              {"id": "c", "type": "mlp"}, {"id": "out", "type": "output"}],
    "edges": [["in", "a"], ["a", "b"], ["b", "out"]],
    "layout": {"in": {"x": 0, "y": 0}, "a": {"x": 0, "y": 140}, "b": {"x": 0, "y": 280},
               "c": {"x": 320, "y": 140}, "out": {"x": 0, "y": 420}},
}


@pytest.mark.parametrize(("start", "end", "reason"), [
    (("out", "b"), ("in", "a"), "would make a cycle"),
    (("in", "out"), ("in", "c"), "Output has no outgoing edges"),
    (("out", "c"), ("in", "b"), "only a Merge takes a second input"),
    # Reversed: from Output's input onto Input's output is the edge in -> out, a second input of Output.
    (("in", "out"), ("out", "in"), "only a Merge takes a second input"),
])
def test_a_refused_connection_shows_why_and_is_not_made(page, start, end, reason):
    pg = page
    open_editor(pg)
    import_spec(pg, CHAIN)
    expect(pg.get_by_test_id("validity")).to_contain_text("problem", timeout=10_000)  # c is on no path
    edges = pg.locator(".react-flow__edge").count()
    drag_connection(pg, handle(pg, start[0], start[1]), handle(pg, end[0], end[1]))
    line = pg.get_by_test_id("connection-line")
    expect(line).to_have_attribute("data-refused", "true")
    expect(pg.get_by_test_id("connection-reason")).to_have_text(reason)
    assert line.locator("path").evaluate("p => getComputedStyle(p).stroke") == "rgb(214, 48, 49)"  # --bad
    pg.mouse.up()
    expect(pg.get_by_test_id("connection-line")).to_have_count(0)
    assert pg.locator(".react-flow__edge").count() == edges


def test_a_reversed_drag_is_turned_the_right_way(page):
    pg = page
    open_editor(pg)
    import_spec(pg, CHAIN)
    # From c's input onto Input's output: the edge in -> c, not c -> in.
    drag_connection(pg, handle(pg, "in", "c"), handle(pg, "out", "in"))
    expect(pg.get_by_test_id("connection-line")).not_to_have_attribute("data-refused", "true")
    expect(pg.get_by_test_id("connection-reason")).to_have_count(0)
    pg.mouse.up()
    expect(pg.get_by_test_id("rf__edge-in->c")).to_have_count(1)
    expect(pg.get_by_test_id("rf__edge-c->in")).to_have_count(0)


def test_numbers_are_never_stale(page):
    pg = page
    open_editor(pg)
    spec = {**CHAIN, "nodes": [n for n in CHAIN["nodes"] if n["id"] != "c"],
            "layout": {k: v for k, v in CHAIN["layout"].items() if k != "c"}}
    spec["nodes"][1] = {"id": "a", "type": "softmax_attention", "params": {"heads": 4}}
    import_spec(pg, spec)
    expect(pg.get_by_test_id("validity")).to_have_text("Valid", timeout=10_000)
    params = pg.get_by_test_id("cost-params").inner_text()
    assert params not in ("unknown", "—")
    expect(pg.locator(".react-flow__minimap-node.minimap-invalid")).to_have_count(0)

    # Invalid: every figure is unknown, the last valid one greyed beside it; the minimap marks the node.
    select_node(pg, "a")
    set_field(pg, "param-heads", 7)  # does not divide d_model
    expect(pg.get_by_test_id("validity")).to_contain_text("1 problem", timeout=10_000)
    for testid in ("cost-params", "cost-flops", "cost-activations", "cost-state", "cost-complexity"):
        expect(pg.get_by_test_id(testid)).to_have_text("unknown")
    expect(pg.get_by_test_id("cost-params-last")).to_have_text(f"last valid: {params}")
    expect(pg.locator(".react-flow__minimap-node.minimap-invalid")).to_have_count(1)

    # Fixed: the figures and the minimap follow at once.
    set_field(pg, "param-heads", 4)
    expect(pg.get_by_test_id("validity")).to_have_text("Valid", timeout=10_000)
    expect(pg.get_by_test_id("cost-params")).to_have_text(params)
    expect(pg.get_by_test_id("cost-params-last")).to_have_count(0)
    expect(pg.locator(".react-flow__minimap-node.minimap-invalid")).to_have_count(0)


MISSION = {
    "version": 1, "model": MODEL,
    "nodes": [{"id": "in", "type": "input"}, {"id": "layers", "type": "repeat", "params": {"times": 2}},
              {"id": "layers.mamba", "type": "mamba", "parent": "layers"},
              {"id": "layers.attn", "type": "softmax_attention", "parent": "layers", "params": {"heads": 4}},
              {"id": "layers.moe", "type": "moe", "parent": "layers"},
              {"id": "out", "type": "output"}],
    "edges": [["in", "layers"], ["layers.mamba", "layers.attn"], ["layers.attn", "layers.moe"], ["layers", "out"]],
}


def test_auto_layout_after_a_resize_hides_nothing_under_the_group(page):
    pg = page
    open_editor(pg)
    import_spec(pg, MISSION)  # no layout: elk lays it out
    expect(pg.get_by_test_id("validity")).to_have_text("Valid", timeout=10_000)
    select_node(pg, "layers")
    corner = pg.locator(".react-flow__resize-control.handle.bottom.right")
    pg.mouse.move(*centre(corner.bounding_box()))
    pg.mouse.down()
    pg.mouse.move(*canvas_point(pg, 0.95, 0.95), steps=10)  # far larger than its contents, over Output
    pg.mouse.up()
    pg.get_by_test_id("auto-layout").click()
    pg.wait_for_timeout(600)
    boxes = {i: pg.get_by_test_id(f"node-{i}").bounding_box() for i in ("in", "layers", "out")}

    def overlap(a, b):
        return a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"] and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"]

    for a, b in (("in", "layers"), ("layers", "out"), ("in", "out")):
        assert not overlap(boxes[a], boxes[b]), f"{a} and {b} overlap after auto-layout: {boxes[a]} {boxes[b]}"
    group = boxes["layers"]
    for child in ("layers.mamba", "layers.attn", "layers.moe"):
        c = pg.get_by_test_id(f"node-{child}").bounding_box()
        assert group["x"] <= c["x"] and c["x"] + c["width"] <= group["x"] + group["width"] + 1
        assert group["y"] <= c["y"] and c["y"] + c["height"] <= group["y"] + group["height"] + 1
