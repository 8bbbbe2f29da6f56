"""Hostile input and overload, for every registered service, driven by its OpenAPI document alone.

For every POST operation (but those that download or delete models, ``x-hailo-fuzz: false``): bodies
nested 100 000 levels deep, just under the size limit, of the wrong media type, invalid UTF-8,
NaN / Infinity, integers past every field's documented range (and past 2^31, 2^63, 2^64), empty,
control-character and very long strings, 10 000-element lists, and for image fields zero-byte,
truncated, lying and bomb files. Each answer must be a 4xx in the API's own error shape (or, for
values that are legal but odd, any answer but a 5xx), within the client's deadline, and the service
must still serve the operation's good request afterwards. Also slow clients (a body at a byte every
half second is cut off with 408 without holding the model) and 200 idle connections.

The good request of each operation is its documented example (JSON) or a real JPEG (image routes),
so a service is covered as soon as its OpenAPI says what it takes.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
from conformance_support import API_KEY, BODY_TIMEOUT_S, MAX_BODY, Running, error_message
from hostile_support import BIG_INTS, Field, Operation, fields, post_operations, reachable, with_value

DEADLINE_S = 60  # every answer, even to the worst request, comes within this (httpx raises otherwise)
CONTROL = "".join(chr(c) for c in range(32) if chr(c) not in "\t\n\r") + "\x7f\u200b\u202e\ufeff\U0001f600"


def ops_of(service: Running) -> list[Operation]:
    ops, problems = post_operations(service.openapi)
    assert not problems, problems
    return ops


def client(service: Running) -> httpx.Client:
    return httpx.Client(
        base_url=service.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=httpx.Timeout(DEADLINE_S)
    )


def refused(r: httpx.Response, what: str) -> str:
    """A 4xx in the API's error shape; returns its message."""
    assert 400 <= r.status_code < 500, (what, r.status_code, r.text[:300])
    return error_message(r.json())


def answered(r: httpx.Response, what: str) -> None:
    """Anything but a server error: 2xx, a 4xx in shape, or a 503 that says when to come back."""
    if r.status_code == 503:
        assert "Retry-After" in r.headers, (what, r.text[:300])
        return
    assert r.status_code < 500, (what, r.status_code, r.text[:300])
    if r.status_code >= 400:
        error_message(r.json())


def still_serves(c: httpx.Client, service: Running, op: Operation, after: str) -> None:
    assert c.get("/health").status_code == 200, after
    if service.ready:
        r = c.post(op.path, **op.good_request())
        assert 200 <= r.status_code < 300, (f"{op.template}: the good request failed after {after}", r.text[:300])


def test_every_post_operation_has_a_good_request_that_works(service: Running):
    """The suite starts from it; it is also what /docs shows."""
    with client(service) as c:
        for op in ops_of(service):
            if service.ready:
                r = c.post(op.path, **op.good_request())
                assert 200 <= r.status_code < 300, (op.template, r.status_code, r.text[:300])


def test_every_integer_field_documents_its_range(service: Running):
    """Bounds in the schema are what keep 10**12 out of a C int (and show in /docs)."""
    missing = []
    for op in ops_of(service):
        for schema, example in ((op.json_schema, op.good_json() or {}), (op.multipart_schema, {})):
            for f in fields(schema or {}, example):
                integer = f.typed("integer")
                if integer is not None and ("maximum" not in integer or "minimum" not in integer):
                    missing.append(f"{op.template} {f.name}")
    assert not missing, f"integer fields without minimum/maximum: {sorted(set(missing))}"


def _json_cases(op: Operation) -> Iterator[tuple[str, bytes, str]]:
    """(what, body, content type) of bodies that are wrong as a whole: each must be a 4xx."""
    good = op.good_json() or {}
    yield "nested 100 000 levels", b"[" * 100_000 + b"]" * 100_000, "application/json"
    yield "an object nested 100 levels", b'{"a":' * 100 + b"1" + b"}" * 100, "application/json"
    yield "invalid UTF-8", json.dumps(good).encode()[:-1] + b', "x": "\xff\xfe\xc0"}', "application/json"
    yield "NaN", json.dumps({**good, "x": 1}).replace('"x": 1', '"x": NaN').encode(), "application/json"
    yield "Infinity", json.dumps({**good, "x": 1}).replace('"x": 1', '"x": -Infinity').encode(), "application/json"
    yield (
        "a number past a double",
        json.dumps({**good, "x": 1}).replace('"x": 1', '"x": 1e999').encode(),
        "application/json",
    )
    yield (
        "a 5000-digit integer",
        json.dumps({**good, "x": 1}).replace('"x": 1', '"x": ' + "9" * 5000).encode(),
        "application/json",
    )
    yield "a JSON array instead of an object", b"[1, 2, 3]", "application/json"
    yield "a JSON string", b'"hello"', "application/json"
    yield "truncated JSON", json.dumps(good).encode()[:-2], "application/json"
    yield "XML", b"<request><model>x</model></request>", "application/xml"
    yield "a form instead of JSON", b"model=x&prompt=y", "application/x-www-form-urlencoded"


def test_malformed_bodies_are_4xx_in_the_apis_shape(service: Running):
    with client(service) as c:
        for op in ops_of(service):
            if op.json_schema is None:
                continue
            for what, body, ctype in _json_cases(op):
                r = c.post(op.path, content=body, headers={"content-type": ctype})
                refused(r, f"{op.template}: {what}")
            still_serves(c, service, op, "malformed bodies")


def test_json_with_another_content_type_header_is_still_read_or_refused_cleanly(service: Running):
    """``curl -d`` sends form-urlencoded; Ollama reads the JSON anyway. Either way: no 5xx."""
    with client(service) as c:
        for op in ops_of(service):
            good = op.good_json()
            if good is None:
                continue
            for ctype in ("text/plain", "application/x-www-form-urlencoded", "", "application/octet-stream"):
                r = c.post(op.path, content=json.dumps(good).encode(), headers={"content-type": ctype})
                answered(r, f"{op.template}: JSON as {ctype!r}")


def test_a_body_just_under_the_limit_is_answered(service: Running):
    with client(service) as c:
        for op in ops_of(service):
            good = op.good_json()
            if good is not None:
                strings = [
                    f for f in fields(op.json_schema or {}, good) if f.typed("string") and reachable(good, f.path)
                ]
                target = next((f for f in strings if f.leaf not in ("model", "name")), strings[0] if strings else None)
                if target is not None:
                    size = len(json.dumps(with_value(good, target.path, "")).encode())
                    body = with_value(good, target.path, "a" * (MAX_BODY - size - 64))
                    data = json.dumps(body).encode()
                    assert MAX_BODY - 128 < len(data) <= MAX_BODY
                    r = c.post(op.path, content=data, headers={"content-type": "application/json"})
                    answered(r, f"{op.template}: {len(data)} bytes in {target.name}")
            files = op.good_files()
            if files is not None:
                name = next(iter(files))
                r = c.post(op.path, files={name: ("big.jpg", b"\xff\xd8" + b"\0" * (MAX_BODY - 4096), "image/jpeg")})
                refused(r, f"{op.template}: a {MAX_BODY - 4094}-byte file that is not an image")
            still_serves(c, service, op, "bodies just under the limit")


def _integer_fields(op: Operation) -> Iterator[tuple[str, Field, dict[str, Any]]]:
    """(shape, field, integer schema) of every integer field of the JSON and multipart bodies."""
    good = op.good_json()
    if good is not None:
        for f in fields(op.json_schema or {}, good):
            integer = f.typed("integer")
            if integer is not None and reachable(good, f.path):
                yield "json", f, integer
    if op.good_files() is not None:
        for f in fields(op.multipart_schema or {}, {}):
            integer = f.typed("integer")
            if integer is not None and len(f.path) == 1:
                yield "multipart", f, integer


def test_integers_out_of_their_range_are_400_naming_the_field(service: Running):
    checked = 0
    with client(service) as c:
        for op in ops_of(service):
            for shape, f, integer in _integer_fields(op):
                values = [v for v in BIG_INTS if v > integer.get("maximum", 2**62)]
                values += [int(integer["maximum"]) + 1, int(integer["minimum"]) - 1, -(2**63) - 1]
                for value in values:
                    if shape == "json":
                        r = c.post(op.path, json=with_value(op.good_json() or {}, f.path, value))
                    else:
                        r = c.post(op.path, files=op.good_files(), data={f.leaf: str(value)})
                    message = refused(r, f"{op.template} ({shape}): {f.name}={value}")
                    assert r.status_code in (400, 422), (op.template, f.name, value, r.status_code)
                    assert f.leaf in message, (op.template, f.name, value, message)
                    checked += 1
            still_serves(c, service, op, "out-of-range integers")
    # A service with integer parameters must have had them checked; one without has nothing to check.
    assert checked or not any(list(_integer_fields(op)) for op in ops_of(service))


def _string_values() -> list[tuple[str, str]]:
    return [("an empty string", ""), ("control characters", CONTROL * 3), ("100 000 characters", "word " * 20_000)]


def test_odd_strings_and_huge_lists_are_answered_without_a_server_error(service: Running):
    with client(service) as c:
        for op in ops_of(service):
            good = op.good_json()
            if good is not None:
                for f in fields(op.json_schema or {}, good):
                    if not reachable(good, f.path):
                        continue
                    if f.typed("string") is not None:
                        for what, value in _string_values():
                            r = c.post(op.path, json=with_value(good, f.path, value))
                            answered(r, f"{op.template}: {f.name} = {what}")
                    array = f.typed("array")
                    if array is not None:
                        current = _get(good, f.path)
                        item = current[0] if isinstance(current, list) and current else _item_for(array)
                        r = c.post(op.path, json=with_value(good, f.path, [item] * 10_000))
                        answered(r, f"{op.template}: {f.name} with 10 000 elements")
            if op.good_files() is not None:
                for f in fields(op.multipart_schema or {}, {}):
                    if len(f.path) == 1 and f.typed("string") is not None and f.schema.get("format") != "binary":
                        for what, value in _string_values():
                            r = c.post(op.path, files=op.good_files(), data={f.leaf: value})
                            answered(r, f"{op.template} (multipart): {f.name} = {what}")
                r = c.post(op.path, files=op.good_files(), data={f"field{i}": "x" for i in range(10_000)})
                answered(r, f"{op.template} (multipart): 10 000 form fields")
            still_serves(c, service, op, "odd strings and huge lists")


def _get(body: Any, path: tuple[str | int, ...]) -> Any:
    node = body
    for key in path:
        if isinstance(key, int):
            node = node[key] if isinstance(node, list) and len(node) > key else None
        else:
            node = node.get(key) if isinstance(node, dict) else None
    return node


def _item_for(array: dict[str, Any]) -> Any:
    kind = (array.get("items") or {}).get("type")
    return {"string": "x", "integer": 1, "number": 0.5, "boolean": True, "object": {}}.get(kind, "x")


def test_broken_and_bomb_images_are_4xx_in_every_request_shape(service: Running):
    with client(service) as c:
        for op in ops_of(service):
            if op.image_field is None:
                continue
            for what, data in op.hostile_media().items():
                if op.multipart_schema is not None:
                    r = c.post(op.path, files={op.image_field: ("f", data, op.media_type)})
                    refused(r, f"{op.template} (multipart): {what}")
                r = c.post(op.path, content=data, headers={"content-type": op.media_type})
                refused(r, f"{op.template} (raw {op.media_type}): {what}")
                if op.json_schema is not None:
                    r = c.post(op.path, json={op.image_field: base64.b64encode(data).decode()})
                    refused(r, f"{op.template} (JSON base64): {what}")
            for what, value in (
                ("not base64", "%%% not base64 %%%"),
                ("a data URI without data", "data:image/png;base64,"),
            ):
                if op.json_schema is not None:
                    refused(c.post(op.path, json={op.image_field: value}), f"{op.template}: {what}")
            still_serves(c, service, op, "broken images")


def _slow_upload(service: Running, path: str, stop: threading.Event) -> tuple[bytes, float]:
    """A request whose body comes a byte every half second; returns what the server sent and when."""
    host, port = service.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=DEADLINE_S)
    started = time.monotonic()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {API_KEY}\r\n"
        "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    )
    sock.sendall(head.encode())
    received = b""
    sock.settimeout(0.5)
    try:
        while not stop.is_set() and time.monotonic() - started < DEADLINE_S:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                try:
                    sock.sendall(b" ")
                except OSError:  # the server closed the connection under us
                    break
                continue
            except ConnectionResetError:
                # The server closed with our unread bytes in its buffer, so its kernel sent a reset,
                # which can overtake the 408 it had written: the cut-off is what matters here.
                break
            if not chunk:
                break
            received += chunk
    finally:
        sock.close()
    return received, time.monotonic() - started


def test_a_slow_body_is_cut_off_with_408_and_does_not_hold_the_model(service: Running):
    op = ops_of(service)[0]
    stop = threading.Event()
    result: dict[str, Any] = {}
    slow = threading.Thread(target=lambda: result.update(out=_slow_upload(service, op.path, stop)))
    slow.start()
    try:
        time.sleep(1.0)
        with client(service) as c:  # the model serves others while the slow body trickles in
            if service.ready:
                r = c.post(op.path, **op.good_request())
                assert 200 <= r.status_code < 300, r.text[:300]
    finally:
        slow.join(DEADLINE_S + 5)
        stop.set()
    received, elapsed = result["out"]
    assert elapsed < BODY_TIMEOUT_S + 10, elapsed  # cut off at the body deadline, not at the client's
    if received:  # unless a reset overtook it (see _slow_upload), the answer is a 408 in the API's shape
        status_line, _, rest = received.partition(b"\r\n")
        assert status_line.startswith(b"HTTP/1.1 408"), received[:300]
        headers, _, body = rest.partition(b"\r\n\r\n")
        assert b"connection: close" in headers.lower()
        assert "did not arrive" in error_message(json.loads(body))
    with client(service) as c:  # the server's own account: it answered 408
        assert 'code="408"' in c.get("/metrics").text


def test_200_idle_connections_do_not_stop_a_real_request(service: Running):
    host, port = service.url.removeprefix("http://").split(":")
    socks = []
    try:
        for i in range(200):
            s = socket.create_connection((host, int(port)), timeout=10)
            if i % 2:  # half of them stop in the middle of their headers
                s.sendall(b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Le")
            socks.append(s)
        op = ops_of(service)[0]
        with client(service) as c:
            assert c.get("/health").status_code == 200
            if service.ready:
                r = c.post(op.path, **op.good_request())
                assert 200 <= r.status_code < 300, r.text[:300]
    finally:
        for s in socks:
            s.close()
