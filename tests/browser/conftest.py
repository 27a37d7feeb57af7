"""Browser tests: the app started the way ``make run`` starts it, driven by Chromium.

One server for the session: ``manage.py migrate`` and ``manage.py load_examples`` into a
temporary COMPOSER_VAR_DIR, then ``composer up --port <free port>`` (daphne for HTTP and
websockets, one Celery worker, a private Redis), stopped at the end. Chromium is Debian's
(``/usr/bin/chromium``), launched by Python Playwright.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from composer.processes import free_port, http_ok

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("COMPOSER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
READY_TIMEOUT_S = 180
VIEWPORT = {"width": 1280, "height": 800}


def pytest_collection_modifyitems(items):
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)


def _server_env(var_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL", "DATABASE_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="composer.settings.base",  # what `make run` uses, not the pytest settings
        COMPOSER_VAR_DIR=str(var_dir),
        COMPOSER_DEVICE="cpu",
        PYTHONUNBUFFERED="1",
        DEBUG="1",
        COMPOSER_SIGNUP_RATE="1000/hour",  # every test signs a user up from 127.0.0.1
        COMPOSER_SMOKE_SUITE="1",  # a report-card suite that trains in seconds (workers/report_card.py)
    )
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return env


def _composer_command() -> list[str]:
    script = Path(sys.executable).with_name("composer")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from composer.cli import main; sys.exit(main())"]


@pytest.fixture(scope="session")
def app_url():
    if not (ROOT / "frontend" / "dist" / "index.html").exists():
        pytest.fail("frontend/dist is missing: run `cd frontend && npm ci && npm run build` first")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    var_dir = Path(tempfile.mkdtemp(prefix="composer-browser-"))
    env = _server_env(var_dir)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run([*manage, "load_examples"], cwd=ROOT, env=env, check=True, capture_output=True)
    port = free_port()
    log = open(var_dir / "up.log", "wb")
    proc = subprocess.Popen(
        [*_composer_command(), "up", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not http_ok(f"{base}/healthz"):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            log.close()
            pytest.fail(f"composer up did not become healthy:\n{(var_dir / 'up.log').read_text()[-4000:]}")
        time.sleep(0.5)
    # Load the block registry with one request before the browser sends several at once:
    # blocks.registry._ensure_loaded is not thread-safe (see the report), and daphne serves
    # sync views from a thread pool.
    with urllib.request.urlopen(f"{base}/api/blocks/", timeout=60) as response:
        assert json.loads(response.read()), "GET /api/blocks/ is empty"
    yield base
    proc.send_signal(signal.SIGTERM)  # composer up stops the processes it started
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    log.close()
    shutil.rmtree(var_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.browser_failed = report.failed


@pytest.fixture
def page(request, browser, app_url):
    context = browser.new_context(viewport=VIEWPORT, base_url=app_url)
    context.set_default_timeout(20_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    if getattr(request.node, "browser_failed", False):  # keep what the page looked like (gitignored)
        out = ROOT / "test-results"
        out.mkdir(exist_ok=True)
        pg.screenshot(path=str(out / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def sign_up(pg) -> str:
    """Sign up a fresh user through the form; returns the username."""
    username = f"u{uuid.uuid4().hex[:10]}"
    pg.goto("/signup")
    pg.get_by_test_id("auth-username").fill(username)
    pg.get_by_test_id("auth-password").fill("correct-horse-battery-9")
    pg.get_by_test_id("auth-submit").click()
    pg.get_by_test_id("current-user").wait_for()
    assert pg.get_by_test_id("current-user").inner_text() == username
    return username


def api(pg, method: str, url: str, body: dict | None = None) -> dict:
    """A JSON call with the page's session and CSRF token (as the front end makes it)."""
    pg.request.get("/api/auth/csrf/")
    token = next(c["value"] for c in pg.context.cookies() if c["name"] == "csrftoken")
    response = pg.request.fetch(url, method=method, data=body, headers={"X-CSRFToken": token})
    assert response.ok, f"{method} {url}: {response.status} {response.text()}"
    return response.json()


@pytest.fixture
def user_page(page):
    sign_up(page)
    return page
