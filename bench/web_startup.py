"""Benchmark: a fresh web process's memory and its first ``/api/blocks/``, which once imported torch.

Starts a private redis-server and, per tree and repeat, a fresh SQLite database and one daphne process
the way ``composer up`` starts it, then sends the editor's requests in order and reads the server's
resident memory (VmRSS from /proc) between them:

  start            seconds from spawning daphne to its first answer (GET /healthz): the process loads
                   the block and task registries as it starts (composer/core/apps.py)
  rss_started      after that first answer
  first_blocks     wall time of the first GET /api/blocks/ (ms), the request that used to load torch
  then_blocks      wall time of the next GET /api/blocks/ (ms): what any request costs on this machine now
  rss_blocks       after them
  rss_editor       after the editor's other requests: /api/tasks/, /api/limits/, a validate, a save
  torch            whether the server imported torch (read from /proc/<pid>/maps: libtorch mapped)

``--before PATH`` measures another checkout too (e.g. a git worktree of an older commit, made with
``git worktree add /tmp/wt-before <commit>``), with the same Python and in the same run, so both rows
are comparable. Usage: python bench/web_startup.py [--repeats 3] [--before /tmp/wt-before]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from composer.embedded import EmbeddedRedis  # noqa: E402
from composer.processes import free_port, stop_group, wait_for_port  # noqa: E402

TARGET_FIRST_BLOCKS_MS = 50
MAKE_TOKEN = (
    "import django; django.setup()\n"
    "from django.contrib.auth import get_user_model\n"
    "from rest_framework.authtoken.models import Token\n"
    "user = get_user_model().objects.create_user(username='bench', password='bench-password-123')\n"
    "print(Token.objects.create(user=user).key)\n"
)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def torch_loaded(pid: int) -> bool:
    return "libtorch" in Path(f"/proc/{pid}/maps").read_text()


def request(port: int, path: str, body: dict | None = None, token: str | None = None) -> tuple[int, float]:
    """(status, seconds) of one request to the server on ``port``."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, headers=headers,
                                 method="POST" if body is not None else "GET")
    start = time.perf_counter()
    with urllib.request.urlopen(req, timeout=120) as response:
        response.read()
        return response.status, time.perf_counter() - start


def measure(root: Path, redis_url: str) -> dict:
    """One fresh database and daphne process in the checkout at ``root``; the editor's requests."""
    tmp = Path(tempfile.mkdtemp(prefix="composer-web-startup-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "composer.settings.base",
        "SECRET_KEY": "composer-bench-not-secret",
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
        "REDIS_URL": redis_url,
        "COMPOSER_VAR_DIR": str(tmp / "var"),
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(root),
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], env=env, cwd=root, check=True)
    token = subprocess.run([sys.executable, "-c", MAKE_TOKEN], env=env, cwd=root, check=True, capture_output=True,
                           text=True).stdout.split()[-1]
    spec = json.loads((REPO / "examples" / "transformer.json").read_text())
    port = free_port()
    spawned = time.perf_counter()
    web = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "composer.asgi:application"],
                           env=env, cwd=root, stdout=open(tmp / "daphne.log", "ab"), stderr=subprocess.STDOUT,
                           start_new_session=True)
    try:
        wait_for_port(port, 60, web)
        try:
            request(port, "/healthz")
        except urllib.error.HTTPError:  # 503 while no worker listens: the process has answered all the same
            pass
        row = {"start": time.perf_counter() - spawned, "rss_started": rss_mb(web.pid)}
        status, seconds = request(port, "/api/blocks/")
        assert status == 200
        status, again = request(port, "/api/blocks/")
        row.update(first_blocks=seconds * 1000, then_blocks=again * 1000, rss_blocks=rss_mb(web.pid))
        for path, body in (("/api/tasks/", None), ("/api/limits/", None),
                           ("/api/graphs/validate/", {"spec": spec}),
                           ("/api/graphs/", {"title": "bench", "spec": spec})):
            status, _ = request(port, path, body, token)
            assert status in (200, 201), (path, status)
        row.update(rss_editor=rss_mb(web.pid), torch=torch_loaded(web.pid))
        return row
    finally:
        stop_group(web)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="fresh web processes per tree (medians shown)")
    parser.add_argument("--before", type=Path, default=None, help="another checkout to measure the same way")
    args = parser.parse_args(argv)
    trees = ([("before", args.before.resolve())] if args.before else []) + [("this tree", REPO)]
    with EmbeddedRedis(Path(tempfile.mkdtemp(prefix="composer-web-startup-redis-"))) as redis:
        results: dict[str, list[dict]] = {name: [] for name, _ in trees}
        for _ in range(args.repeats):  # trees alternate, so a busy machine weighs on both alike
            for name, root in trees:
                results[name].append(measure(root, redis.url))
    print(f"web startup: one daphne process, fresh SQLite database, {args.repeats} repeats (median); "
          f"start in s, RSS in MB, first /api/blocks/ in ms (target < {TARGET_FIRST_BLOCKS_MS} ms)")
    print(f"{'tree':<10} {'start':>6} {'rss_started':>12} {'first_blocks':>13} {'then_blocks':>12} {'rss_blocks':>11} "
          f"{'rss_editor':>11} {'torch':>6}")
    for name, rows in results.items():
        med = {key: statistics.median(row[key] for row in rows) for key in ("start", "rss_started", "first_blocks",
                                                                            "then_blocks", "rss_blocks", "rss_editor")}
        torch = "yes" if any(row["torch"] for row in rows) else "no"
        print(f"{name:<10} {med['start']:>6.1f} {med['rss_started']:>12.0f} {med['first_blocks']:>13.1f} "
              f"{med['then_blocks']:>12.1f} {med['rss_blocks']:>11.0f} {med['rss_editor']:>11.0f} {torch:>6}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
