"""Fixtures for the API tests: users, API clients logged in as each, specs and graphs."""
from __future__ import annotations

import copy

import factory
import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.test import APIClient

from composer.graphs.models import Visibility
from composer.graphs.services import graph_create

PASSWORD = "correct-horse-battery"

VALID_SPEC = {
    "version": 1,
    "model": {"d_model": 32, "max_seq_len": 64, "norm": "rmsnorm", "tie_embeddings": True},
    "nodes": [
        {"id": "in", "type": "input"},
        {"id": "a", "type": "mlp", "params": {}},
        {"id": "out", "type": "output"},
    ],
    "edges": [["in", "a"], ["a", "out"]],
    "layout": {"a": {"x": 0, "y": 120}},
}


def valid_spec() -> dict:
    return copy.deepcopy(VALID_SPEC)


def invalid_spec() -> dict:
    """Shape-valid but semantically wrong: an unknown block type."""
    spec = valid_spec()
    spec["nodes"][1]["type"] = "no_such_block"
    return spec


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password(PASSWORD)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counters and cached diagrams live in the cache: no test sees another's."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def owner(db):
    return UserFactory(username="owner")


@pytest.fixture
def other(db):
    return UserFactory(username="other")


def client_for(user=None, *, enforce_csrf: bool = False) -> APIClient:
    client = APIClient(enforce_csrf_checks=enforce_csrf)
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def owner_client(owner):
    return client_for(owner)


@pytest.fixture
def other_client(other):
    return client_for(other)


@pytest.fixture
def anon_client():
    return APIClient()


def make_graph(owner, *, visibility=Visibility.PRIVATE, title="A graph", spec=None, **fields):
    graph, _ = graph_create(owner=owner, title=title, spec=spec or valid_spec(), visibility=visibility, **fields)
    return graph


@pytest.fixture
def graph_factory(db):
    return make_graph
