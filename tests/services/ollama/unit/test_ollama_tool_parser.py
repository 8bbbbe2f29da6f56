"""The Hailo engine's tool-call parser on hand-made streams in the formats the models write."""

from __future__ import annotations

import json

import pytest

from hailo_services.ollama.tool_parser import ToolCallParser

NAMES = {"get_weather", "add"}


def parse(pieces: list[str]) -> tuple[str, list[tuple[str, dict]]]:
    out: list[str] = []
    parser = ToolCallParser(lambda t: out.append(t) or False, NAMES)
    for p in pieces:
        assert parser(p) is False
    parser.flush()
    return "".join(out), [(c.name, json.loads(c.arguments)) for c in parser.calls]


QWEN = 'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'


@pytest.mark.parametrize("size", [1, 2, 3, 4, 7, 11, 200])
def test_qwen_calls_in_any_chunking(size: int) -> None:
    pieces = [QWEN[i : i + size] for i in range(0, len(QWEN), size)]
    text, calls = parse(pieces)
    assert text == "Let me check.\n" and calls == [("get_weather", {"city": "Paris"})]


def test_two_calls_and_ids_that_differ() -> None:
    two = QWEN + '\n<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call>'
    out: list[str] = []
    parser = ToolCallParser(lambda t: out.append(t) or False, NAMES)
    parser(two)
    parser.flush()
    assert [c.name for c in parser.calls] == ["get_weather", "add"]
    assert parser.calls[0].id != parser.calls[1].id


def test_llama3_whole_reply_json_with_parameters() -> None:
    reply = '<|python_tag|>{"name": "add", "parameters": {"a": 2, "b": 3}}'
    text, calls = parse([reply[:5], reply[5:20], reply[20:]])
    assert text == "" and calls == [("add", {"a": 2, "b": 3})]


def test_json_that_is_not_a_call_of_these_tools_stays_text() -> None:
    assert parse(['{"name": "rm_rf", "parameters": {}}']) == ('{"name": "rm_rf", "parameters": {}}', [])
    assert parse(['{"answer": 42}']) == ('{"answer": 42}', [])
    bad = "<tool_call>\n{not json}\n</tool_call> ok"
    assert parse([bad]) == (bad, [])


def test_an_unclosed_call_comes_back_as_text() -> None:
    text, calls = parse(['Sure <tool_call>\n{"name": "add", "argu'])
    assert text == 'Sure <tool_call>\n{"name": "add", "argu' and calls == []


def test_plain_text_streams_without_delay() -> None:
    out: list[str] = []
    parser = ToolCallParser(lambda t: out.append(t) or False, NAMES)
    parser("Hello")
    parser(" world <tool")
    assert out == ["Hello", " world "]  # only the possible tag start is held back
    parser("ing> is not a tag")
    parser.flush()
    assert "".join(out) == "Hello world <tooling> is not a tag"
