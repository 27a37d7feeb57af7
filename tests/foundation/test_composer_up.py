"""`composer up` serves the app with a worker and its own Redis, starts again a worker or web process
that dies, and stops every process it started."""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from composer.processes import alive, free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.integration]


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def database_url(tmp_path):
    """A database of its own: SQLite under tmp_path, or, when DATABASE_URL names PostgreSQL, a
    fresh database on that server (never the one DATABASE_URL names), dropped afterwards."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{tmp_path / 'db.sqlite3'}"
        return
    import psycopg

    server, name = url.rsplit("/", 1)[0], f"composer_up_{os.getpid()}_{time.monotonic_ns()}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _start_up(tmp_path: Path, port: int, database_url: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}  # embedded Redis on purpose
    env.update({"COMPOSER_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "composer.settings.base",
                "PYTHONUNBUFFERED": "1", "DATABASE_URL": database_url, "DEBUG": "true"})  # as `make run`
    return subprocess.Popen(
        [sys.executable, "-m", "composer.cli", "up", "--port", str(port), "--web-processes", "2"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def _wait_ready(process: subprocess.Popen, timeout: float = 150) -> list[str]:
    """Collect output on a thread (pipes must keep draining) until the login line appears."""
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(line.rstrip() for line in process.stdout), daemon=True).start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if any("login: " in line for line in lines):
            return lines
        time.sleep(0.1)
    process.kill()
    pytest.fail("composer up never became ready:\n" + "\n".join(lines[-40:]))


def _health(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _api(port: int, method: str, path: str, token: str | None = None, body: dict | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Token {token}"} if token else {})}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _launch_long_run(port: int, output: list[str]) -> int:
    """As the demo user, a run on the first template long enough to be in flight when stopped."""
    password = next(line for line in output if "login: demo / " in line).rsplit(" / ", 1)[1].strip()
    status, body = _api(port, "POST", "/api/auth/token/", body={"username": "demo", "password": password})
    assert status == 200, body
    token = body["token"]
    status, body = _api(port, "GET", "/api/graphs/?filter=templates", token)
    assert status == 200 and body["results"], body
    launch = {"task": "copy", "task_params": {}, "lr": 3e-3, "batch_size": 4, "steps": 20_000, "seed": 1, "max_seconds": 600}
    status, run = _api(port, "POST", f"/api/graphs/{body['results'][0]['id']}/runs/", token, launch)
    assert status == 201, run
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status, body = _api(port, "GET", f"/api/runs/{run['id']}/", token)
        if body.get("status") == "running":
            return run["id"]
        time.sleep(0.5)
    pytest.fail(f"run {run['id']} never started: {body}")


def _stored_run(database_url: str, run_id: int) -> tuple[str, str]:
    """Status and error of a run, read from the database after composer up has stopped."""
    query = "SELECT status, error_message FROM runs_run WHERE id = %s"
    if database_url.startswith("sqlite:///"):
        import sqlite3

        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as connection:
            return connection.execute(query.replace("%s", "?"), (run_id,)).fetchone()
    import psycopg

    with psycopg.connect(database_url) as connection:
        return connection.execute(query, (run_id,)).fetchone()


def _wait_healthy(port: int, timeout: float = 90) -> int:
    """/healthz's status once it is 200, or the last one seen (0: no answer) after ``timeout``."""
    deadline, status = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        try:
            status = _health(port)[0]
        except OSError:  # timed out: the request waited for a web process that is still starting
            status = 0
        if status == 200:
            break
        time.sleep(0.5)
    return status


def _wait_for_new_pid(tmp_path: Path, name: str, old_pid: int, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = json.loads((tmp_path / "up.json").read_text())["pids"]
        if pids[name] != old_pid and alive(pids[name]):
            return pids
        time.sleep(0.2)
    pytest.fail(f"{name} was not started again within {timeout}s")


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_up_serves_health_and_leaves_no_orphan(tmp_path, database_url, stop_signal):
    port = free_port()
    process = _start_up(tmp_path, port, database_url)
    try:
        output = _wait_ready(process)
        assert any(f"http://127.0.0.1:{port}/" in line for line in output)
        assert any("login: demo / " in line for line in output)

        status, health = _health(port)
        assert status == 200
        assert health["workers"]["live"][0]["device"] in {"cpu", "cuda"}

        state = json.loads((tmp_path / "up.json").read_text())
        pids = state["pids"]
        assert set(pids) >= {"web", "web-2", "worker", "redis"}  # two web processes on one socket
        redis_port = int(state["redis_url"].rsplit(":", 1)[1].split("/")[0])
        assert all(alive(pid) for pid in pids.values())

        if stop_signal == signal.SIGTERM:
            # A killed worker does not take the app down: composer up starts a new one.
            os.kill(pids["worker"], signal.SIGKILL)
            pids = _wait_for_new_pid(tmp_path, "worker", pids["worker"])
            assert alive(pids["web"]) and process.poll() is None
            assert _wait_healthy(port) == 200

            # Nor does a killed web process: the other one answers meanwhile on the shared socket,
            # and composer up starts a new one.
            os.kill(pids["web"], signal.SIGKILL)
            assert _health(port)[0] == 200  # web-2
            pids = _wait_for_new_pid(tmp_path, "web", pids["web"])
            # With both killed, a request waits in the socket's backlog until a new one serves it.
            os.kill(pids["web-2"], signal.SIGKILL)
            assert _wait_healthy(port) == 200
            pids = _wait_for_new_pid(tmp_path, "web-2", pids["web-2"])
            assert process.poll() is None
            deadline = time.monotonic() + 5  # the output thread may be a line behind
            while time.monotonic() < deadline and not any("web was killed by SIGKILL; started it again" in line for line in output):
                time.sleep(0.1)
            assert any("web was killed by SIGKILL; started it again" in line for line in output)

        else:
            run_id = _launch_long_run(port, output)  # stopping composer up interrupts it

        process.send_signal(stop_signal)
        assert process.wait(timeout=60) == 0
        if stop_signal == signal.SIGINT:
            status, error = _stored_run(database_url, run_id)
            assert status == "failed"
            assert error.startswith("interrupted: the worker was stopped by SIGTERM"), error
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(alive(pid) for pid in pids.values()):
            time.sleep(0.2)
        assert [name for name, pid in pids.items() if alive(pid)] == []
        assert not _port_open(port)
        assert not _port_open(redis_port)
    finally:
        if process.poll() is None:
            process.kill()
