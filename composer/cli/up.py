"""``composer up``: the whole app on one machine — web + websockets (daphne), one Celery worker
(its housekeeping thread is the stale-run sweeper) and, when ``REDIS_URL`` is unset, a private Redis.
A worker that dies is started again (the new worker fails the killed one's run as lost, the next
run gets a fresh worker), and so is a web process: composer up keeps the listening socket open, so
connections wait in its backlog or go to the other web process meanwhile. A child that dies more
than five times a minute stops everything. Ctrl-C or SIGTERM stops every process it started.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

from composer.embedded import EmbeddedRedis
from composer.processes import Supervisor, exit_reason, http_ok

ROOT = Path(__file__).resolve().parent.parent.parent


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=os.environ.get("COMPOSER_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("COMPOSER_PORT", "8000")))
    parser.add_argument("--web-processes", type=int, default=int(os.environ.get("COMPOSER_WEB_PROCESSES", "0")),
                        help="ASGI server processes sharing the port (default: 2 when the machine has 2+ CPUs)")
    parser.add_argument("--no-worker", action="store_true", help="serve only; workers run elsewhere")
    parser.add_argument("--ready-timeout", type=float, default=120.0, help="seconds to wait for /healthz")


def _var_dir() -> Path:
    return Path(os.environ.get("COMPOSER_VAR_DIR", ROOT / "var"))


def _worker_argv() -> list[str]:
    from composer.celery_app import worker_argv

    return worker_argv(concurrency=1)


def _listening_socket(host: str, port: int) -> socket.socket:
    """One listening socket that every web process accepts on (the kernel spreads connections)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def _web_argv(sock: socket.socket) -> list[str]:
    domain = "INET6" if sock.family == socket.AF_INET6 else "INET"
    return [sys.executable, "-m", "composer.cli.shared_socket", str(sock.fileno()), domain, "composer.asgi:application"]


def run(args: argparse.Namespace) -> int:
    var_dir = _var_dir()
    var_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "composer.settings.base"),
           "COMPOSER_VAR_DIR": str(var_dir), "PYTHONUNBUFFERED": "1"}

    stopping = False

    def request_stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    redis = None
    if not env.get("REDIS_URL"):
        redis = EmbeddedRedis(var_dir / "redis").start()
        env["REDIS_URL"] = redis.url
        print(f"composer: started the bundled redis-server at {redis.url}", flush=True)

    supervisor = Supervisor(env=env)
    listener = None
    manage = [sys.executable, str(ROOT / "manage.py")]
    try:
        import subprocess

        try:
            subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True)
            subprocess.run([*manage, "load_examples"], env=env, check=True, stdout=subprocess.DEVNULL)
            login = subprocess.run([*manage, "ensure_demo_user"], env=env, check=True, capture_output=True, text=True).stdout.strip()
        except subprocess.CalledProcessError as error:  # settings refused, database unreachable: said above
            print(f"{error.stderr or ''}composer: manage.py {error.cmd[2]} failed; not starting", file=sys.stderr, flush=True)
            return 1

        # daphne runs one event loop on one core: a second process on the same socket keeps pages
        # and sync API views responsive while another streams many runs' live charts.
        web_processes = args.web_processes or (2 if (os.cpu_count() or 1) >= 2 else 1)
        listener = _listening_socket(args.host, args.port)
        for index in range(web_processes):
            supervisor.start("web" if index == 0 else f"web-{index + 1}", _web_argv(listener), pass_fds=(listener.fileno(),))
        if not args.no_worker:
            supervisor.start("worker", _worker_argv())

        def write_state() -> None:
            pids = {**supervisor.pids(), **({"redis": redis.process.pid} if redis else {})}
            state = var_dir / "up.json.tmp"
            state.write_text(json.dumps({"pids": pids, "port": args.port, "redis_url": env["REDIS_URL"]}))
            state.replace(var_dir / "up.json")  # readers never see half a file

        write_state()

        url = f"http://{args.host}:{args.port}/"
        ready = supervisor.wait_until(lambda: stopping or http_ok(url + "healthz"), args.ready_timeout)
        if stopping:
            return 0
        if not ready:
            exited = supervisor.first_exited()
            reason = f"{exited[0]} {exit_reason(exited[1])}" if exited else f"{url}healthz not healthy after {args.ready_timeout:g} s"
            print(f"composer: not ready: {reason}", file=sys.stderr, flush=True)
            return 1
        print(f"\ncomposer: ready at {url}\ncomposer: {login}\ncomposer: Ctrl-C stops everything.\n", flush=True)
        while not stopping:
            for name, code, again in supervisor.restart_exited():
                if not again:
                    print(f"composer: {name} {exit_reason(code)}, too often; stopping", file=sys.stderr, flush=True)
                    return 1
                print(f"composer: {name} {exit_reason(code)}; started it again", file=sys.stderr, flush=True)
                write_state()
            time.sleep(0.5)
        return 0
    finally:
        print("composer: stopping", flush=True)
        supervisor.stop_all()
        if listener is not None:
            listener.close()
        if redis:
            redis.stop()
        (var_dir / "up.json").unlink(missing_ok=True)
