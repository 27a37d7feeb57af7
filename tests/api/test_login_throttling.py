"""Per-account login throttling (issue 16, point 7): failures of one account lock further attempts
on it for a window that doubles; other accounts from the same address are never refused; login
and token endpoints share the count; passwords similar to the username are refused."""
from __future__ import annotations

import pytest
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from composer.accounts import throttling
from composer.accounts.apis import ACCOUNT_LOCKED, INVALID_CREDENTIALS
from tests.api.conftest import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

ENDPOINTS = ("/api/auth/login/", "/api/auth/token/")


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch, settings):
    settings.COMPOSER_LOGIN_FREE_ATTEMPTS = 3
    settings.COMPOSER_LOGIN_LOCKOUT_BASE_SECONDS = 60
    settings.COMPOSER_LOGIN_LOCKOUT_MAX_SECONDS = 200
    fake = Clock()
    monkeypatch.setattr(throttling, "time", fake)
    return fake


def attempt(username: str, password: str, endpoint: str = ENDPOINTS[0], client: APIClient | None = None):
    return (client or APIClient()).post(endpoint, {"username": username, "password": password}, format="json",
                                        REMOTE_ADDR="203.0.113.7")


def test_failures_lock_the_account_for_a_window_that_doubles(owner, clock):
    for endpoint in (*ENDPOINTS, ENDPOINTS[0]):  # both endpoints count towards one account
        response = attempt("owner", "wrong", endpoint)
        assert response.status_code in (401, 403) and response.json()["message"] == INVALID_CREDENTIALS
    assert attempt("owner", "wrong").status_code in (401, 403)  # the 4th failure starts a 60 s lock
    for endpoint in ENDPOINTS:
        locked = attempt("owner", PASSWORD, endpoint)  # even the right password waits: no answer to guesses
        assert locked.status_code == 429, locked.json()
        assert locked.json()["message"].startswith(ACCOUNT_LOCKED)
        assert locked.json()["extra"]["retry_after_seconds"] == 60 and locked["Retry-After"] == "60"

    clock.now += 61
    assert attempt("owner", "wrong").status_code in (401, 403)  # the 5th: 120 s
    assert attempt("owner", PASSWORD).json()["extra"]["retry_after_seconds"] == 120
    clock.now += 121
    assert attempt("owner", "wrong").status_code in (401, 403)  # the 6th: 240 s, capped at 200
    assert attempt("owner", PASSWORD).json()["extra"]["retry_after_seconds"] == 200

    clock.now += 201
    assert attempt("owner", PASSWORD).status_code == 200  # a success forgets the failures
    assert attempt("owner", "wrong").status_code in (401, 403)
    assert attempt("owner", PASSWORD).status_code == 200


def test_other_accounts_from_the_same_address_are_never_refused(owner, other, clock, monkeypatch):
    # A tiny per-address write rate: logins and tokens must not be counted by it.
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"writes": "3/min", "signup": "3/min", "runs": "3/min"})
    for _ in range(6):
        attempt("owner", "wrong")
    for n in range(30):  # password spraying over many names from this one address
        assert attempt(f"nobody{n}", "wrong").status_code in (401, 403)
    assert attempt("owner", PASSWORD).status_code == 429
    for endpoint in ENDPOINTS:
        assert attempt("other", PASSWORD, endpoint).status_code == 200
    # The per-address rate is live for other anonymous writes.
    client = APIClient()
    codes = [client.post("/api/auth/logout/", REMOTE_ADDR="203.0.113.7").status_code for _ in range(4)]
    assert codes[-1] == 429


def test_the_lock_is_per_account_whatever_the_case_of_the_name(owner, clock):
    for _ in range(4):
        attempt("OWNER", "wrong")
    assert attempt("owner", PASSWORD).status_code == 429


def test_a_password_like_the_username_is_refused():
    response = APIClient().post("/api/auth/signup/", {"username": "adalovelace", "password": "adalovelace1"}, format="json")
    assert response.status_code == 400
    assert response.json()["message"].startswith("Invalid input: password:")
    assert "similar to the username" in response.json()["message"]
    ok = APIClient().post("/api/auth/signup/", {"username": "adalovelace", "password": PASSWORD}, format="json")
    assert ok.status_code == 201


def test_a_logged_in_session_gets_its_token_without_credentials(owner, clock):
    for _ in range(4):
        attempt("owner", "wrong")
    client = APIClient()
    client.force_authenticate(owner)
    assert client.post("/api/auth/token/", {}, format="json").status_code == 200


def test_lockout_windows():
    from django.test import override_settings

    with override_settings(COMPOSER_LOGIN_FREE_ATTEMPTS=5, COMPOSER_LOGIN_LOCKOUT_BASE_SECONDS=1,
                           COMPOSER_LOGIN_LOCKOUT_MAX_SECONDS=900):
        assert [throttling.lockout_seconds(n) for n in (0, 5, 6, 7, 8, 15, 16, 10**6)] == [0, 0, 1, 2, 4, 512, 900, 900]
