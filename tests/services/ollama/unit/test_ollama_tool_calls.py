"""tool_calls: capabilities per engine, Ollama's refusal, and the two wire shapes of a call."""

from __future__ import annotations

import json

import pytest

from hailo_services.core.errors import BadRequest
from hailo_services.ollama.catalog import catalog
from hailo_services.ollama.engine import ToolCall
from hailo_services.ollama.tool_calls import capabilities, check_tools, history_message, to_ollama, to_openai


def test_tools_are_a_capability_where_the_template_and_the_engine_have_them():
    smollm2, r1 = catalog().resolve("smollm2:135m"), catalog().resolve("deepseek_r1_distill_qwen:1.5b")
    qwen2 = catalog().resolve("qwen2:1.5b")
    assert capabilities(smollm2, "cpu") == ["completion", "tools"]
    assert capabilities(smollm2, "hailo") == ["completion", "tools"]
    assert capabilities(r1, "cpu") == capabilities(r1, "hailo") == ["completion", "thinking"]
    assert capabilities(qwen2, "hailo") == ["completion"]  # Qwen2's template has no tools
    check_tools(smollm2, "cpu", "smollm2:135m")
    with pytest.raises(BadRequest, match=r"^deepseek_r1_distill_qwen:1\.5b does not support tools$"):
        check_tools(r1, "cpu", "deepseek_r1_distill_qwen:1.5b")
    with pytest.raises(BadRequest, match="does not support tools"):
        check_tools(qwen2, "hailo", "qwen2:1.5b")


def test_a_call_in_ollamas_shape_and_in_openais():
    calls = [ToolCall("AbCdEfGhIjK", "get_weather", '{"city": "Paris"}'), ToolCall("", "now", "")]
    assert to_ollama(calls) == [
        {"id": "call_abcdefgh", "function": {"index": 0, "name": "get_weather", "arguments": {"city": "Paris"}}},
        {"id": "call_00000001", "function": {"index": 1, "name": "now", "arguments": {}}},
    ]
    oai = to_openai(calls, with_index=True)
    assert oai[0] == {
        "index": 0,
        "id": "call_abcdefgh",
        "type": "function",
        "function": {"name": "get_weather", "arguments": json.dumps({"city": "Paris"})},
    }
    assert "index" not in to_openai(calls)[0]


def test_history_keeps_calls_and_results_in_either_shape():
    ollama_call = {"function": {"name": "f", "arguments": {"a": 1}}}
    openai_call = {"id": "call_9", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
    for call in (ollama_call, openai_call):
        m = history_message("assistant", "", {"tool_calls": [call]})
        assert m["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"a": 1}'}
    assert history_message("tool", "42", {"tool_name": "f"}) == {"role": "tool", "content": "42", "tool_call_id": "f"}
    with pytest.raises(BadRequest, match=r"function\.name"):
        history_message("assistant", "", {"tool_calls": [{"function": {"arguments": {}}}]})
