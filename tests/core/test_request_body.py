"""core.request_body.load_json: the one JSON parser of request bodies, strict where Python's json is not."""

from __future__ import annotations

import json

import pytest

from hailo_services.core.errors import BadRequest
from hailo_services.core.request_body import MAX_JSON_DEPTH, load_json


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_ordinary_json_parses_unchanged():
    doc = {"model": "m", "messages": [{"role": "user", "content": "héllo ☃"}], "n": 1, "t": 0.5, "ok": None}
    assert load_json(json.dumps(doc).encode()) == doc
    assert load_json(json.dumps(doc, ensure_ascii=False)) == doc


def test_nesting_up_to_the_limit_is_fine_and_past_it_is_a_400():
    assert load_json(nested(MAX_JSON_DEPTH)) is not None
    for depth in (MAX_JSON_DEPTH + 1, 5_000, 100_000):  # 100 000 levels made Python's json raise RecursionError
        with pytest.raises(BadRequest, match="nested too deeply"):
            load_json(nested(depth))
    deep_object = b'{"a":' * (MAX_JSON_DEPTH + 1) + b"1" + b"}" * (MAX_JSON_DEPTH + 1)
    with pytest.raises(BadRequest, match="nested too deeply"):
        load_json(deep_object)


@pytest.mark.parametrize("raw", [b"[NaN]", b'{"t": Infinity}', b"[-Infinity]", b"[1e400]", b"[-1e999]"])
def test_non_finite_numbers_are_refused(raw: bytes):
    with pytest.raises(BadRequest, match="not valid JSON"):
        load_json(raw)


def test_integers_past_pythons_digit_limit_are_a_400_not_a_crash():
    with pytest.raises(BadRequest, match="not valid JSON"):
        load_json(b"[" + b"9" * 5000 + b"]")
    assert load_json(str(2**64).encode()) == 2**64  # big but parseable: the schema's range decides


def test_invalid_utf8_is_named():
    with pytest.raises(BadRequest, match="not valid UTF-8"):
        load_json(b'{"prompt": "\xff\xfe"}')


def test_lone_surrogates_become_replacement_characters_as_gos_decoder_does():
    doc = load_json(b'{"prompt": "a\\ud800b", "\\udfff": ["x\\udc00"]}')
    assert doc == {"prompt": "a\ufffdb", "\ufffd": ["x\ufffd"]}
    json.dumps(doc).encode()  # and every string now encodes
    assert load_json(b'"\\ud83d\\ude00"') == "\U0001f600"  # a proper pair stays one emoji
