"""The built front end is served compressed, hashed assets cached forever and the app shell revalidated.

Runs against the real build (``make frontend``: ``npm run build`` then ``whitenoise.compress``), in
both modes whitenoise has: files indexed at start (DEBUG off) and looked up per request (DEBUG on,
``make run``).
"""
import brotli
import gzip

import pytest
from django.conf import settings
from django.test import Client, override_settings

FOREVER = "max-age=315360000, public, immutable"


@pytest.fixture(scope="module")
def entry_script():
    """The app's entry chunk, the largest file the editor loads: ``assets/index-<hash>.js``."""
    assets = settings.FRONTEND_DIST / "assets"
    scripts = sorted(assets.glob("index-*.js")) if assets.is_dir() else []
    if not scripts:
        pytest.fail(f"{assets} has no index-*.js: build the front end first (make frontend)")
    script = scripts[0]
    for suffix in (".gz", ".br"):
        if not script.with_name(script.name + suffix).exists():
            pytest.fail(f"{script.name}{suffix} is missing: the build compresses its output (make frontend)")
    return script


@pytest.fixture(params=[False, True], ids=["indexed-at-start", "make-run-debug"])
def client(request):
    with override_settings(DEBUG=request.param):
        yield Client()  # a new client builds its middleware, so whitenoise reads DEBUG now


def _get(client, url, accept_encoding=None):
    headers = {"HTTP_ACCEPT_ENCODING": accept_encoding} if accept_encoding is not None else {}
    response = client.get(url, **headers)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


@pytest.mark.parametrize("accept, encoding, decode", [
    ("gzip, deflate", "gzip", gzip.decompress),
    ("gzip, deflate, br", "br", brotli.decompress),
])
def test_hashed_asset_is_compressed_and_cached_forever(client, entry_script, accept, encoding, decode):
    original = entry_script.read_bytes()
    response, body = _get(client, f"{settings.FRONTEND_ASSETS_URL}{entry_script.name}", accept)
    assert response.status_code == 200
    assert response["Content-Encoding"] == encoding
    assert response["Cache-Control"] == FOREVER
    assert "Accept-Encoding" in response["Vary"]
    assert len(body) < len(original) / 2
    assert decode(body) == original


def test_client_without_compression_gets_the_plain_file(client, entry_script):
    response, body = _get(client, f"{settings.FRONTEND_ASSETS_URL}{entry_script.name}")
    assert response.status_code == 200
    assert not response.has_header("Content-Encoding")
    assert response["Cache-Control"] == FOREVER
    assert body == entry_script.read_bytes()


def test_app_shell_is_revalidated(client, entry_script):
    response = client.get("/graphs/1")  # any client-side route answers index.html
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-cache"
    assert entry_script.name in response.content.decode()
    response, _ = _get(client, f"{settings.STATIC_URL}index.html", "gzip")
    assert "immutable" not in response["Cache-Control"]
