"""How a process ended, in words: what composer up prints and what an interrupted run records."""
import signal
import subprocess
import sys
import time

import pytest

from composer.processes import Supervisor, exit_reason, stop_reason


@pytest.mark.parametrize("code, words", [
    (0, "exited with status 0"),
    (3, "exited with status 3"),
    (-signal.SIGKILL, "was killed by SIGKILL"),  # Popen.returncode of a killed child
    (-signal.SIGTERM, "was stopped by SIGTERM"),
    (-(256 - signal.SIGTERM), "was stopped by SIGTERM"),  # the SystemExit(-241) of a Celery pool child
])
def test_exit_reason(code, words):
    assert exit_reason(code) == words


def test_a_celery_pool_child_stopped_mid_job_says_sigterm():
    """billiard's own handler, as installed in a pool child, turns SIGTERM into SystemExit(-241)."""
    code = (
        "import os, signal, time; from billiard.common import _shutdown_cleanup;"
        "from composer.processes import stop_reason;"
        "signal.signal(signal.SIGTERM, _shutdown_cleanup)\n"
        "try:\n    os.kill(os.getpid(), signal.SIGTERM); time.sleep(5)\n"
        "except BaseException as error:\n    print(repr(error), stop_reason(error))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "SystemExit(-241) was stopped by SIGTERM", result.stderr


def test_stop_reason_is_none_for_ordinary_errors():
    assert stop_reason(ValueError("boom")) is None
    assert stop_reason(KeyboardInterrupt()) == "was stopped by SIGINT"


def test_supervisor_restarts_a_dead_child_until_its_budget_is_spent():
    supervisor = Supervisor(env={}, max_restarts_per_minute=2)
    try:
        supervisor.start("short", [sys.executable, "-c", "import sys; sys.exit(3)"])
        seen = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not seen or seen[-1][2]):
            seen += supervisor.restart_exited()
            time.sleep(0.05)
        assert seen == [("short", 3, True), ("short", 3, True), ("short", 3, False)]
    finally:
        supervisor.stop_all()
