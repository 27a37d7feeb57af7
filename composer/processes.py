"""Child processes that never outlive their parent: used by ``composer up`` and the embedded Redis.

Each child gets its own process group (so stopping it also stops anything it forked, such as a
Celery pool) and asks the kernel to send it SIGTERM if its parent dies (so even a SIGKILLed
``composer up`` leaves no orphan behind).
"""
from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def child_preexec() -> None:
    """Runs in the child between fork and exec."""
    os.setpgid(0, 0)
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie, exited but not reaped, counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return True  # no /proc: kill(0) is all we know


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float, process: subprocess.Popen | None = None) -> None:
    """Until something accepts connections on loopback ``port``; fails early if ``process`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args[:3]} exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on port {port} after {timeout:g} s")


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """Whether GET ``url`` answers 200 (health checks of servers we started)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def exit_reason(code: int) -> str:
    """Words for how a process ended, from its exit status: a ``Popen.returncode`` (``-9``: killed by
    signal 9) or the ``SystemExit`` code a Celery pool child raises on a signal (``-(256 - signum)``:
    ``-241`` for SIGTERM). "was stopped by SIGTERM", "was killed by SIGKILL", "exited with status 1"."""
    if code >= 0:
        return f"exited with status {code}"
    signum = 256 + code if code < -128 else -code
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    return f"was {'stopped' if signum in (signal.SIGTERM, signal.SIGINT) else 'killed'} by {name}"


def stop_reason(error: BaseException) -> str | None:
    """``exit_reason``'s words when ``error`` means this process is being stopped (``SystemExit``,
    ``KeyboardInterrupt``), as a job that catches everything sees it; ``None`` for any other error."""
    if isinstance(error, KeyboardInterrupt):
        return exit_reason(-signal.SIGINT)
    if isinstance(error, SystemExit):
        code = error.code
        return exit_reason(code if isinstance(code, int) else 0 if code is None else 1)
    return None


def stop_group(process: subprocess.Popen, timeout: float = 10.0, first_signal: int = signal.SIGTERM) -> None:
    """``first_signal`` to the child's process group, then SIGKILL whatever is left after ``timeout``."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, first_signal)
        except ProcessLookupError:
            pass
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        pass
    # The leader may be gone while members of its group (pool children) linger.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if process.poll() is None:
        process.wait()


@dataclass
class Supervisor:
    """Starts named children, starts again one that dies, and stops them all in reverse order.

    A child that keeps dying (more than ``max_restarts_per_minute`` restarts in a minute) is left
    dead: something is wrong that another start will not fix.
    """

    env: dict
    max_restarts_per_minute: int = 5
    children: dict[str, subprocess.Popen] = field(default_factory=dict)
    argvs: dict[str, tuple[list[str], object, tuple[int, ...]]] = field(default_factory=dict)
    restarted_at: dict[str, list[float]] = field(default_factory=dict)

    def start(self, name: str, argv: list[str], *, log_path=None, pass_fds: tuple[int, ...] = ()) -> subprocess.Popen:
        self.argvs[name] = (argv, log_path, pass_fds)
        stdout = open(log_path, "ab") if log_path else None
        process = subprocess.Popen(
            argv,
            env=self.env,
            stdout=stdout,
            stderr=subprocess.STDOUT if stdout else None,
            preexec_fn=child_preexec,
            pass_fds=pass_fds,
        )
        self.children[name] = process
        return process

    def restart(self, name: str) -> subprocess.Popen:
        """Start a child again with the argv it was started with (after it exited)."""
        stop_group(self.children[name])  # reaps it and anything left in its process group
        argv, log_path, pass_fds = self.argvs[name]
        return self.start(name, argv, log_path=log_path, pass_fds=pass_fds)

    def restart_exited(self) -> list[tuple[str, int, bool]]:
        """Start again every child that has exited: ``(name, exit status, started again)`` for each,
        ``False`` when it is past its restart budget (it stays dead)."""
        report = []
        now = time.monotonic()
        for name, process in list(self.children.items()):
            code = process.poll()
            if code is None:
                continue
            recent = [t for t in self.restarted_at.get(name, []) if now - t < 60]
            again = len(recent) < self.max_restarts_per_minute
            if again:
                self.restarted_at[name] = [*recent, now]
                self.restart(name)
            report.append((name, code, again))
        return report

    def first_exited(self) -> tuple[str, int] | None:
        for name, process in self.children.items():
            code = process.poll()
            if code is not None:
                return name, code
        return None

    def pids(self) -> dict[str, int]:
        return {name: process.pid for name, process in self.children.items()}

    def stop_all(self, timeout: float = 10.0) -> None:
        for name in reversed(list(self.children)):
            stop_group(self.children[name], timeout)

    def wait_until(self, predicate, timeout: float, interval: float = 0.2) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            if self.first_exited():
                return False
            time.sleep(interval)
        return False


__all__ = ["Supervisor", "alive", "child_preexec", "exit_reason", "free_port", "http_ok", "stop_group", "stop_reason", "wait_for_port"]
