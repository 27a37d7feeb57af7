"""Benchmark: live fan-out of run metrics through Redis, Channels and daphne to websocket clients.

50 simulated runs publish 20 points/s each (like the worker: seq from a database reservation,
``group_send`` to the run's group at once, points stored in batches every 0.5 s) while 200
websocket clients (4 per run, ``?token=`` auth) subscribe. Prints p50/p90/p99/max delivery latency
(point created -> received by the client), points lost, duplicated or out of order. Target:
p99 < 250 ms, 0 lost. Everything runs on a private stack (see ``bench/run_latency.py``).

Usage: python bench/stream_fanout.py [--runs 50] [--subscribers 200] [--rate 20] [--seconds 10]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

FLUSH_SECONDS, FLUSH_POINTS = 0.5, 50
PUBLISH_LAGS: list[float] = []  # publisher process: point created -> group_send returned


async def publish_run(run_id: int, rate: float, seconds: float, start_at: float) -> None:
    """One simulated run: numbered points published live at once, stored in batches."""
    from channels.layers import get_channel_layer

    from composer.runs import services
    from composer.runs.models import run_group_event, run_group_name

    layer, group, count = get_channel_layer(), run_group_name(run_id), int(rate * seconds)
    last = await asyncio.to_thread(services.run_reserve_seqs, run_id=run_id, count=count)
    first_seq = last - count + 1
    pending: list[dict] = []
    last_flush = time.monotonic()
    await asyncio.sleep(max(0.0, start_at - time.time()))
    next_at = time.monotonic()
    for index in range(count):
        message = {"ts": time.time(), "step": index + 1, "split": "train", "loss": 1.0 / (index + 1),
                   "type": "metrics", "run": run_id, "seq": first_seq + index}
        await layer.group_send(group, run_group_event(message))
        PUBLISH_LAGS.append(time.time() - message["ts"])
        pending.append(message)
        if len(pending) >= FLUSH_POINTS or time.monotonic() - last_flush >= FLUSH_SECONDS:
            batch, pending, last_flush = pending, [], time.monotonic()
            await asyncio.to_thread(services.run_events_store, run_id=run_id, messages=batch)
        next_at += 1.0 / rate
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    if pending:
        await asyncio.to_thread(services.run_events_store, run_id=run_id, messages=pending)


async def publish_all(run_ids: list[int], rate: float, seconds: float) -> None:
    start_at = time.time() + 0.5
    # Stagger the runs across one period, as independent workers would be.
    await asyncio.gather(*(publish_run(run_id, rate, seconds, start_at + i / (rate * len(run_ids)))
                           for i, run_id in enumerate(run_ids)))


async def subscribe(url: str, expected: int, seconds: float, results: dict, ready: asyncio.Event, connected: list) -> None:
    import websockets

    latencies, seqs = results.setdefault("latencies", []), []
    async with websockets.connect(url, origin="http://127.0.0.1", open_timeout=60, max_queue=None) as ws:
        connected.append(1)
        await ready.wait()
        deadline = time.monotonic() + seconds + 10
        while len(seqs) < expected and time.monotonic() < deadline:
            try:
                raw = await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                break
            now = time.time()
            message = json.loads(raw)
            if message.get("type") == "metrics":
                latencies.append(now - message["ts"])
                seqs.append(message["seq"])
    results.setdefault("lost", 0)
    results["lost"] += expected - len(set(seqs))
    results["duplicates"] = results.get("duplicates", 0) + len(seqs) - len(set(seqs))
    results["out_of_order"] = results.get("out_of_order", 0) + sum(1 for a, b in zip(seqs, seqs[1:]) if b <= a)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (and its waited-for children) from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0, help="points per second per run")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--web-processes", type=int, default=1, help="ASGI servers sharing the subscribers")
    parser.add_argument("--publish", default=None, help=argparse.SUPPRESS)  # internal: publisher process
    args = parser.parse_args(argv)

    if args.publish:
        import django

        django.setup()
        asyncio.run(publish_all([int(i) for i in args.publish.split(",")], args.rate, args.seconds))
        lags = [lag * 1000 for lag in PUBLISH_LAGS]
        print(f"publisher     group_send returned after p50 {percentile(lags, 0.5):.1f} ms, "
              f"p99 {percentile(lags, 0.99):.1f} ms ({len(lags)} points)", flush=True)
        return 0

    from run_latency import BenchStack

    with BenchStack(database_url=args.database_url, with_worker=False, web_processes=args.web_processes) as stack:
        from composer.graphs.models import Visibility
        from composer.graphs.services import graph_create
        from composer.runs.models import Run, RunStatus
        from run_latency import TWO_LAYER_D64

        user, token = stack.user_with_token("fanout")
        graph, _ = graph_create(owner=user, title="fanout", spec=TWO_LAYER_D64, visibility=Visibility.PUBLIC)
        version = graph.latest_version
        runs = [Run.objects.create(graph=graph, graph_version=version, user=user, spec=version.spec, task="copy",
                                   status=RunStatus.RUNNING) for _ in range(args.runs)]
        expected = int(args.rate * args.seconds)

        async def bench() -> dict:
            results: dict = {}
            ready, connected = asyncio.Event(), []
            clients = [asyncio.create_task(subscribe(stack.ws_url(runs[i % len(runs)].pk, token, web_index=i), expected,
                                                     args.seconds, results, ready, connected))
                       for i in range(args.subscribers)]
            while len(connected) < args.subscribers:
                await asyncio.sleep(0.1)
                if any(task.done() for task in clients):
                    for task in clients:
                        if task.done():
                            task.result()
            publisher = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--publish", ",".join(str(r.pk) for r in runs), "--rate", str(args.rate),
                "--seconds", str(args.seconds), env=stack.env, cwd=str(REPO))
            ready.set()
            await asyncio.gather(*clients)
            await publisher.wait()
            return results

        redis_process, web_processes = stack.children[0], stack.children[1:]

        def web_cpu() -> float:
            return sum(cpu_seconds(process.pid) for process in web_processes)

        cpu_before = {"redis": cpu_seconds(redis_process.pid), "daphne": web_cpu(), "clients": time.process_time()}
        wall_started = time.monotonic()
        results = asyncio.run(bench())
        wall = time.monotonic() - wall_started
        cpu_used = {"redis": cpu_seconds(redis_process.pid) - cpu_before["redis"],
                    "daphne": web_cpu() - cpu_before["daphne"],
                    "clients": time.process_time() - cpu_before["clients"]}
    latencies = [v * 1000 for v in results["latencies"]]
    delivered = len(latencies)
    print(f"stream fan-out: {args.runs} runs x {args.rate:g} points/s for {args.seconds:g}s -> "
          f"{args.subscribers} websocket subscribers ({args.subscribers // args.runs} per run) "
          f"on {args.web_processes} daphne process(es)")
    print(f"delivered     {delivered} of {expected * args.subscribers} ({delivered / args.seconds:.0f}/s)")
    for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
        print(f"latency {name}   {percentile(latencies, q):8.1f} ms")
    print(f"latency max   {max(latencies):8.1f} ms")
    print(f"lost          {results['lost']}")
    print(f"duplicates    {results['duplicates']}")
    print(f"out of order  {results['out_of_order']}")
    print("cpu share     " + ", ".join(f"{name} {used / wall:.0%}" for name, used in cpu_used.items())
          + f" of one core over {wall:.1f}s (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    ok = percentile(latencies, 0.99) < 250 and results["lost"] == 0
    print(f"target p99 < 250 ms and 0 lost: {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
