"""Keep stored specs meaning what they meant when a block's default changes.

A spec is stored as the user sent it, so a param it leaves out takes the registry's default at
compile time. When a default changes (issue 14: H3, Performer, Linformer, sliding window, BigBird),
a data migration calls ``fill_stored_specs`` with the old defaults: every stored spec (graphs, their
versions, runs, report-card plans) gets them written in explicitly, so it builds the same model
as before. Specs that already give a value keep it. Frozen tables live in the migrations.
"""
from __future__ import annotations


def fill_params(spec, old: dict[str, dict]) -> bool:
    """Write ``old[type]`` into every node of that type that leaves the param out; True if changed.

    Anything that is not a well-formed spec is left alone (drafts may be invalid)."""
    if not isinstance(spec, dict) or not isinstance(spec.get("nodes"), list):
        return False
    changed = False
    for node in spec["nodes"]:
        if not isinstance(node, dict) or node.get("type") not in old:
            continue
        params = node.get("params")
        if params is None:
            params = node["params"] = {}
        if not isinstance(params, dict):
            continue
        for name, value in old[node["type"]].items():
            if name not in params:
                params[name] = value
                changed = True
    return changed


def fill_stored_specs(apps, old: dict[str, dict]) -> None:
    """Apply ``fill_params`` to Graph.spec, GraphVersion.spec, Run.spec and ReportCard.plan["spec"]."""
    for app, model, field in (("graphs", "Graph", "spec"), ("graphs", "GraphVersion", "spec"),
                              ("runs", "Run", "spec")):
        Model = apps.get_model(app, model)
        for row in Model.objects.only("pk", field).iterator():
            spec = getattr(row, field)
            if fill_params(spec, old):
                Model.objects.filter(pk=row.pk).update(**{field: spec})
    ReportCard = apps.get_model("cards", "ReportCard")
    for card in ReportCard.objects.only("pk", "plan").iterator():
        plan = card.plan
        if isinstance(plan, dict) and fill_params(plan.get("spec"), old):
            ReportCard.objects.filter(pk=card.pk).update(plan=plan)
