"""Benchmark: launch request -> first metrics message at a websocket client, with a warm worker.

Starts its own stack (private redis-server, one Celery worker from ``worker_argv()``, daphne, a
fresh SQLite database unless ``--database-url``), trains a 2-layer d_model 64 model (attention +
MLP, twice) on ``copy``, does one warm-up run, then measures ``--runs`` launches. Prints a table:

  launch_http   POST /api/graphs/{id}/runs/ until its 201
  queueing      POST sent -> the worker's "running" status (commit, broker, worker claim)
  model_build   "running" -> the trainer's first log line (compile, move to device, optimiser)
  first_step    that log line -> the first metrics point (one forward/backward/step)
  delivery      first metrics point -> received by the websocket client
  total         POST sent -> first metrics received

Worker-side times come from each message's ``ts``; client times from this process (same clock).
Usage: python bench/run_latency.py [--runs 5] [--database-url URL]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from composer.embedded import EmbeddedRedis  # noqa: E402
from composer.processes import free_port, stop_group, wait_for_port  # noqa: E402

TWO_LAYER_D64 = {
    "version": 1,
    "model": {"d_model": 64, "max_seq_len": 64, "norm": "rmsnorm", "tie_embeddings": True},
    "nodes": [
        {"id": "in", "type": "input"},
        {"id": "attn1", "type": "softmax_attention", "params": {"heads": 4}},
        {"id": "mlp1", "type": "mlp"},
        {"id": "attn2", "type": "softmax_attention", "params": {"heads": 4}},
        {"id": "mlp2", "type": "mlp"},
        {"id": "out", "type": "output"},
    ],
    "edges": [["in", "attn1"], ["attn1", "mlp1"], ["mlp1", "attn2"], ["attn2", "mlp2"], ["mlp2", "out"]],
}


class BenchStack:
    """Private Redis, database, daphne and (optionally) a worker; stops every child on exit."""

    def __init__(self, *, database_url: str | None = None, with_worker: bool = True, web_processes: int = 1):
        self.tmp = Path(tempfile.mkdtemp(prefix="composer-bench-"))
        self.redis_port, self.http_port = free_port(), free_port()
        # Extra ASGI servers on their own ports (the first one is http_port), as behind a balancer.
        self.web_ports = [self.http_port] + [free_port() for _ in range(web_processes - 1)]
        self.children: list[subprocess.Popen] = []
        self.with_worker = with_worker
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "composer.settings.base",
            "SECRET_KEY": "composer-bench-not-secret",  # production-shaped: DEBUG off, which refuses the default key
            "DATABASE_URL": database_url or f"sqlite:///{self.tmp / 'bench.sqlite3'}",
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "COMPOSER_VAR_DIR": str(self.tmp / "var"),
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }

    def spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        process = subprocess.Popen(argv, env=self.env, cwd=REPO, stdout=open(self.tmp / f"{name}.log", "ab"),
                                   stderr=subprocess.STDOUT, start_new_session=True)
        self.children.append(process)
        return process

    def __enter__(self) -> "BenchStack":
        try:
            self.redis = EmbeddedRedis(self.tmp / "redis", port=self.redis_port).start()
            self.children.append(self.redis.process)
            subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], env=self.env, cwd=REPO, check=True)
            os.environ.update({k: self.env[k] for k in ("DJANGO_SETTINGS_MODULE", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "COMPOSER_VAR_DIR")})
            import django

            django.setup()
            profile = os.environ.get("COMPOSER_BENCH_PROFILE_WEB")  # a path: cProfile the web server into it
            prefix = [sys.executable, "-m", "cProfile", "-o", profile] if profile else [sys.executable]
            web = self.spawn("daphne", prefix + ["-m", "daphne", "-b", "127.0.0.1", "-p", str(self.http_port),
                                                 "composer.asgi:application"])
            self.web = web
            wait_for_port(self.http_port, 60, web)
            for index, port in enumerate(self.web_ports[1:], start=2):
                extra = self.spawn(f"daphne{index}", [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                                                      "composer.asgi:application"])
                wait_for_port(port, 60, extra)
            if self.with_worker:
                from composer.celery_app import live_workers, worker_argv

                worker = self.spawn("worker", worker_argv(concurrency=1, hostname="bench@%h", loglevel="WARNING"))
                deadline = time.monotonic() + 120
                while not live_workers():
                    if worker.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"worker did not start; see {self.tmp / 'worker.log'}")
                    time.sleep(0.2)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        for process in reversed(self.children):
            # SIGINT lets a profiled web server stop cleanly and write its profile.
            stop_group(process, first_signal=signal.SIGINT if process is getattr(self, "web", None) else signal.SIGTERM)

    def user_with_token(self, username: str):
        from django.contrib.auth import get_user_model
        from rest_framework.authtoken.models import Token

        user = get_user_model().objects.create_user(username=username, password="bench-password-123")
        return user, Token.objects.create(user=user).key

    def post(self, path: str, body: dict, token: str) -> dict:
        request = urllib.request.Request(f"http://127.0.0.1:{self.http_port}{path}", data=json.dumps(body).encode(),
                                         method="POST", headers={"Content-Type": "application/json",
                                                                 "Authorization": f"Token {token}"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def ws_url(self, run_id: int, token: str, web_index: int = 0) -> str:
        port = self.web_ports[web_index % len(self.web_ports)]
        return f"ws://127.0.0.1:{port}/ws/runs/{run_id}/?token={token}"


async def measure_one(stack: BenchStack, graph_id: int, token: str, steps: int) -> dict:
    import websockets

    sent = time.time()
    run = await asyncio.to_thread(stack.post, f"/api/graphs/{graph_id}/runs/", {
        "task": "copy", "batch_size": 16, "steps": steps, "seed": 0, "max_seconds": 120}, token)
    answered = time.time()
    marks: dict[str, float] = {}
    async with websockets.connect(stack.ws_url(run["id"], token), origin="http://127.0.0.1") as ws:
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 120))
            if message["type"] == "status" and message["status"] == "running":
                marks["running"] = message["ts"]
            elif message["type"] == "log" and "build" not in marks:
                marks["build"] = message["ts"]
            elif message["type"] == "metrics" and "metrics" not in marks:
                marks["metrics"], marks["received"] = message["ts"], time.time()
            elif message["type"] in ("done", "error"):
                if message["type"] == "error":
                    raise RuntimeError(message["message"])
                break
    return {
        "launch_http": answered - sent,
        "queueing": marks["running"] - sent,
        "model_build": marks["build"] - marks["running"],
        "first_step": marks["metrics"] - marks["build"],
        "delivery": marks["received"] - marks["metrics"],
        "total": marks["received"] - sent,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)
    with BenchStack(database_url=args.database_url) as stack:
        from composer.graphs.services import graph_create

        user, token = stack.user_with_token("bench")
        graph, check = graph_create(owner=user, title="2-layer d64", spec=TWO_LAYER_D64)
        assert check.ok, check.errors
        asyncio.run(measure_one(stack, graph.pk, token, args.steps))  # warm-up: the child's first run
        rows = [asyncio.run(measure_one(stack, graph.pk, token, args.steps)) for _ in range(args.runs)]
    from composer.celery_app import worker_argv

    print(f"run latency: launch -> first metrics at the websocket client; warm worker "
          f"({' '.join(worker_argv()[2:])}), {args.runs} runs, 2-layer d_model 64, ms")
    print(f"{'phase':<12} {'median':>9} {'min':>9} {'max':>9}")
    for phase in rows[0]:
        values = [row[phase] * 1000 for row in rows]
        print(f"{phase:<12} {statistics.median(values):>9.1f} {min(values):>9.1f} {max(values):>9.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
