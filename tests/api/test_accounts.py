"""Sign up, log in / out, token for scripts, /api/me/, user pages, signup throttling."""
from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from composer.accounts.apis import INVALID_CREDENTIALS
from composer.accounts.services import USERNAME_TAKEN
from tests.api.conftest import PASSWORD, UserFactory, make_graph

pytestmark = pytest.mark.django_db


def test_signup_creates_account_and_logs_in():
    client = APIClient()
    response = client.post("/api/auth/signup/", {"username": "ada", "password": PASSWORD, "email": "ada@example.com"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["username"] == "ada"
    assert client.get("/api/me/").json()["username"] == "ada"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"password": PASSWORD}, "username"),
        ({"username": "ada"}, "password"),
        ({"username": "a b", "password": PASSWORD}, "username"),
        ({"username": "ada", "password": "short"}, "password"),
        ({"username": "ada", "password": "password123"}, "password"),  # a common password
        ({"username": "ada", "password": PASSWORD, "email": "not-an-email"}, "email"),
    ],
)
def test_bad_signup_is_400_naming_the_field(body, field):
    response = APIClient().post("/api/auth/signup/", body, format="json")
    assert response.status_code == 400
    assert response.json()["message"].startswith(f"Invalid input: {field}:"), response.json()


def test_signup_with_taken_username_is_400(owner):
    response = APIClient().post("/api/auth/signup/", {"username": "OWNER", "password": PASSWORD}, format="json")
    assert response.status_code == 400
    assert response.json()["extra"]["fields"]["username"] == [USERNAME_TAKEN]


def test_login_logout_session_cycle(owner):
    client = APIClient()
    assert client.get("/api/me/").status_code in (401, 403)
    response = client.post("/api/auth/login/", {"username": "owner", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    assert client.get("/api/me/").json()["username"] == "owner"
    assert client.post("/api/auth/logout/").status_code == 204
    assert client.get("/api/me/").status_code in (401, 403)


def test_login_with_wrong_password_is_refused(owner):
    response = APIClient().post("/api/auth/login/", {"username": "owner", "password": "wrong-password"}, format="json")
    assert response.status_code in (401, 403)
    assert response.json()["message"] == INVALID_CREDENTIALS


def test_token_for_scripts_authenticates_requests(owner):
    client = APIClient()
    response = client.post("/api/auth/token/", {"username": "owner", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    again = client.post("/api/auth/token/", {"username": "owner", "password": PASSWORD}, format="json").json()["token"]
    assert again == token  # stable: the CLI can store it
    script = APIClient()
    script.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert script.get("/api/me/").json()["username"] == "owner"


def test_token_for_logged_in_session(owner_client):
    response = owner_client.post("/api/auth/token/", {}, format="json")
    assert response.status_code == 200
    assert len(response.json()["token"]) == 40


def test_user_page_lists_only_public_graphs(owner, anon_client):
    public = make_graph(owner, visibility="public", title="shown")
    make_graph(owner, visibility="unlisted")
    make_graph(owner, visibility="private")
    body = anon_client.get("/api/users/owner/").json()
    assert body["user"]["username"] == "owner"
    assert [graph["id"] for graph in body["results"]] == [public.pk]
    assert body["count"] == 1
    assert anon_client.get("/api/users/nobody/").status_code == 404


def test_signup_is_throttled(monkeypatch):
    from composer.core.api import SignupRateThrottle

    monkeypatch.setattr(SignupRateThrottle, "THROTTLE_RATES", {"signup": "2/hour"})
    client = APIClient()
    codes = [
        client.post("/api/auth/signup/", {"username": f"bot{i}", "password": PASSWORD}, format="json").status_code
        for i in range(3)
    ]
    assert codes == [201, 201, 429]
    response = client.post("/api/auth/signup/", {"username": "bot9", "password": PASSWORD}, format="json")
    assert response.json()["extra"]["retry_after_seconds"] > 0


def test_writes_are_throttled_but_reads_are_not(owner_client, monkeypatch):
    from composer.core.api import WriteRateThrottle
    from tests.api.conftest import valid_spec

    monkeypatch.setattr(WriteRateThrottle, "THROTTLE_RATES", {"writes": "2/min"})
    codes = [owner_client.post("/api/graphs/", {"title": "t", "spec": valid_spec()}, format="json").status_code for _ in range(3)]
    assert codes == [201, 201, 429]
    assert all(owner_client.get("/api/graphs/").status_code == 200 for _ in range(5))


def test_factory_users_can_log_in():
    user = UserFactory()
    assert APIClient().login(username=user.username, password=PASSWORD)


def test_user_page_with_nul_in_name_is_404(anon_client):
    assert anon_client.get("/api/users/a%00b/").status_code == 404
