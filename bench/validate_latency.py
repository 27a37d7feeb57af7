"""Latency of ``POST /api/graphs/validate/`` on a 200-node spec: prints p50 / p95 / p99.

The spec is input → 198 blocks (mlp, softmax_attention, mamba in turn, every 10th a merge of two
branches) → output, so validation walks a realistic, not merely linear, graph. Requests go
through Django's test client in this process by default (no server needed), or to a running
server with ``--url http://127.0.0.1:8000``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BLOCK_CYCLE = ("mlp", "softmax_attention", "mamba")


def spec_with_nodes(total: int = 200) -> dict:
    """A valid spec of exactly ``total`` nodes (input and output included)."""
    nodes = [{"id": "in", "type": "input"}]
    edges = []
    previous = "in"
    index = 0
    while len(nodes) < total - 1:
        if index % 10 == 9 and len(nodes) + 3 <= total - 1:
            # a diamond: two branches from `previous` joined by a merge node
            left, right, merge = f"n{index}l", f"n{index}r", f"n{index}m"
            nodes += [{"id": left, "type": "mlp"}, {"id": right, "type": "mlp"}, {"id": merge, "type": "merge", "params": {"mode": "sum"}}]
            edges += [[previous, left], [previous, right], [left, merge], [right, merge]]
            previous = merge
        else:
            node_id = f"n{index}"
            kind = BLOCK_CYCLE[index % len(BLOCK_CYCLE)]
            params = {"heads": 4} if kind == "softmax_attention" else {}
            nodes.append({"id": node_id, "type": kind, "params": params})
            edges.append([previous, node_id])
            previous = node_id
        index += 1
    nodes.append({"id": "out", "type": "output"})
    edges.append([previous, "out"])
    return {"version": 1, "model": {"d_model": 64, "max_seq_len": 128, "norm": "rmsnorm"}, "nodes": nodes, "edges": edges}


def in_process_poster():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "composer.settings.test")
    import django

    django.setup()
    from django.test import Client

    client = Client()

    def post(body: bytes) -> tuple[int, dict]:
        response = client.post("/api/graphs/validate/", data=body, content_type="application/json")
        return response.status_code, response.json()

    return post


def http_poster(url: str):
    endpoint = url.rstrip("/") + "/api/graphs/validate/"

    def post(body: bytes) -> tuple[int, dict]:
        request = urllib.request.Request(endpoint, data=body, headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    return post


def percentile(sorted_values: list[float], fraction: float) -> float:
    position = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[position]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--requests", type=int, default=200)
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--url", help="a running server instead of the in-process test client")
    parser.add_argument("--quick", action="store_true", help="40 requests")
    args = parser.parse_args(argv)
    count = 40 if args.quick else args.requests

    spec = spec_with_nodes(args.nodes)
    body = json.dumps({"spec": spec}).encode()
    post = http_poster(args.url) if args.url else in_process_poster()

    status, answer = post(body)  # warm-up: imports, registry load
    if status != 200:
        print(f"validate answered {status}: {json.dumps(answer)[:500]}", file=sys.stderr)
        return 1
    if not answer["ok"]:
        print(f"the benchmark spec does not validate: {answer['errors'][:3]}", file=sys.stderr)
        return 1

    latencies_ms = []
    for _ in range(count):
        start = time.perf_counter()
        status, _ = post(body)
        latencies_ms.append((time.perf_counter() - start) * 1000)
        if status != 200:
            print(f"validate answered {status}", file=sys.stderr)
            return 1
    latencies_ms.sort()
    print(f"POST /api/graphs/validate/  nodes={len(spec['nodes'])} edges={len(spec['edges'])} body={len(body)} B "
          f"requests={count} via={'HTTP ' + args.url if args.url else 'Django test client'}")
    print(f"{'p50 ms':>10} {'p95 ms':>10} {'p99 ms':>10} {'mean ms':>10} {'max ms':>10}")
    print(f"{percentile(latencies_ms, 0.50):10.2f} {percentile(latencies_ms, 0.95):10.2f} "
          f"{percentile(latencies_ms, 0.99):10.2f} {statistics.fmean(latencies_ms):10.2f} {latencies_ms[-1]:10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
