"""daphne, started as production starts it, refuses a body over the limit from its headers alone:
the 413 comes back while the client has sent none of the body (it asked ``Expect: 100-continue``
and is never told to go on); a multipart body within the limit reaches the API, which reads JSON
only (Twisted no longer parses forms itself)."""
from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request

import pytest

from composer.core.parsers import max_body_bytes

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _response(sock: socket.socket) -> tuple[str, dict]:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), json.loads(body)


def test_a_declared_body_over_the_limit_is_refused_before_it_is_sent(stack):
    size = max_body_bytes() * 100
    with socket.create_connection(("127.0.0.1", stack.http_port), timeout=30) as sock:
        sock.sendall(b"POST /api/graphs/validate/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % size)
        status, body = _response(sock)  # nothing of the body was sent
    assert status == "HTTP/1.1 413 Request Entity Too Large"
    assert body == {"message": f"Request body too large: {size} bytes, the limit is {max_body_bytes()} bytes.",
                    "extra": {"limit_bytes": max_body_bytes()}}


def test_a_multipart_body_within_the_limit_reaches_the_api_and_is_refused_as_not_json(stack):
    body = b"--xyz\r\nContent-Disposition: form-data; name=\"spec\"\r\n\r\n{}\r\n--xyz--\r\n"
    request = urllib.request.Request(f"http://127.0.0.1:{stack.http_port}/api/graphs/validate/", data=body,
                                     method="POST", headers={"Content-Type": "multipart/form-data; boundary=xyz"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 415
    assert set(json.loads(refused.value.read())) == {"message", "extra"}
