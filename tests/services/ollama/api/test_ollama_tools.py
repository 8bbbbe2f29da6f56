"""Tool calling through the clients that use it: the `ollama` client, the official `openai` client
(streamed and not) and LangChain's ChatOllama.bind_tools, with a two-step round trip (the tool's
answer sent back as a ``tool`` message).

SmolLM2-135M calls a tool reliably only when the chat shows it how, so the conversations start with
earlier calls, one with its result and answer (few-shot, greedy decoding). After a result it tends to
echo the <tool_response> rather than phrase an answer (a 135M model); the round trips check that the
result reaches the model, not the quality of its prose. The template (ollama/templates/
smollm2-tools.jinja) renders the tools; llama.cpp parses the model's <tool_call> into a call.
"""

from __future__ import annotations

import json

import httpx
import ollama
import openai
import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_ollama import ChatOllama

MODEL = "smollm2:135m"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "the city"}},
            "required": ["city"],
        },
    },
}
# Earlier calls, one with its result and answer, in Ollama's shape (arguments an object) ...
FEW_SHOT_OLLAMA = [
    {"role": "user", "content": "What is the weather in Berlin?"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Berlin"}}}],
    },
    {"role": "tool", "content": "10 C and rain", "tool_name": "get_weather"},
    {"role": "assistant", "content": "It is 10 C and raining in Berlin."},
    {"role": "user", "content": "What is the weather in London?"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "London"}}}],
    },
]
# ... and in OpenAI's (arguments a JSON string, ids).
FEW_SHOT_OPENAI = [
    {"role": "user", "content": "What is the weather in Berlin?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Berlin"}'}}
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "10 C and rain"},
    {"role": "assistant", "content": "It is 10 C and raining in Berlin."},
    {"role": "user", "content": "What is the weather in London?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "London"}'}}
        ],
    },
]
ASK = {"role": "user", "content": "What is the weather in Paris?"}
GREEDY = {"temperature": 0, "num_predict": 40}


@pytest.fixture
def oclient(server) -> ollama.Client:
    return ollama.Client(host=server.url, timeout=120)


@pytest.fixture
def oai(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=120)


def test_show_lists_tools_among_the_capabilities(oclient):
    assert set(oclient.show(MODEL).capabilities) == {"completion", "tools"}


def test_ollama_client_gets_a_tool_call_and_round_trips_its_answer(oclient):
    r = oclient.chat(model=MODEL, messages=[*FEW_SHOT_OLLAMA, ASK], tools=[WEATHER], options=GREEDY)
    calls = r.message.tool_calls
    assert calls and calls[0].function.name == "get_weather"
    assert calls[0].function.arguments == {"city": "Paris"}
    assert r.done_reason == "stop"
    # The tool's answer goes back; the model now answers in words, using it.
    history = [
        *FEW_SHOT_OLLAMA,
        ASK,
        r.message,
        {"role": "tool", "content": "25 C and sunny", "tool_name": "get_weather"},
    ]
    final = oclient.chat(model=MODEL, messages=history, tools=[WEATHER], options=GREEDY)
    assert not final.message.tool_calls and "25" in final.message.content


def test_ollama_streaming_sends_the_calls_in_the_last_chunk(server):
    body = {"model": MODEL, "messages": [*FEW_SHOT_OLLAMA, ASK], "tools": [WEATHER], "options": GREEDY}
    with httpx.stream("POST", f"{server.url}/api/chat", json=body, timeout=120) as r:
        chunks = [json.loads(line) for line in r.iter_lines() if line]
    assert chunks[-1]["done"] is True and chunks[-1]["done_reason"] == "stop"
    call = chunks[-1]["message"]["tool_calls"][0]
    assert call["function"] == {"index": 0, "name": "get_weather", "arguments": {"city": "Paris"}}
    assert call["id"].startswith("call_")
    assert not any("tool_calls" in c["message"] for c in chunks[:-1])


def test_openai_client_tool_call_non_streamed_and_streamed(oai):
    messages = [*FEW_SHOT_OPENAI, ASK]
    resp = oai.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER], temperature=0, max_tokens=40)
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather" and call.id.startswith("call_")
    assert json.loads(call.function.arguments) == {"city": "Paris"}

    stream = oai.chat.completions.create(
        model=MODEL, messages=messages, tools=[WEATHER], temperature=0, max_tokens=40, stream=True
    )
    deltas, finish = [], None
    for chunk in stream:
        if chunk.choices:
            deltas.extend(chunk.choices[0].delta.tool_calls or [])
            finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls" and len(deltas) == 1
    assert deltas[0].index == 0 and deltas[0].function.name == "get_weather"
    assert json.loads(deltas[0].function.arguments) == {"city": "Paris"}

    # Round trip: the assistant's call and the tool's answer go back.
    history = [
        *messages,
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "25 C and sunny"},
    ]
    final = oai.chat.completions.create(model=MODEL, messages=history, tools=[WEATHER], temperature=0, max_tokens=40)
    assert final.choices[0].finish_reason in ("stop", "length") and "25" in final.choices[0].message.content


def test_tool_choice_none_leaves_the_tools_out(oai):
    resp = oai.chat.completions.create(
        model=MODEL, messages=[ASK], tools=[WEATHER], tool_choice="none", temperature=0, max_tokens=8
    )
    assert resp.choices[0].message.tool_calls is None and resp.choices[0].message.content


def test_langchain_bind_tools(server):
    @tool
    def get_weather(city: str) -> str:
        """Get the current weather for a city"""
        return "25 C and sunny"

    llm = ChatOllama(model=MODEL, base_url=server.url, temperature=0, num_predict=40).bind_tools([get_weather])
    few_shot = [
        HumanMessage("What is the weather in Berlin?"),
        AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "Berlin"}, "id": "c1"}]),
        ToolMessage("10 C and rain", tool_call_id="c1"),
        AIMessage("It is 10 C and raining in Berlin."),
        HumanMessage("What is the weather in London?"),
        AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "London"}, "id": "c2"}]),
        HumanMessage("What is the weather in Paris?"),
    ]
    msg = llm.invoke(few_shot)
    assert msg.tool_calls and msg.tool_calls[0]["name"] == "get_weather"
    assert msg.tool_calls[0]["args"] == {"city": "Paris"}


def test_a_named_tool_choice_must_name_one_of_the_tools(oai):
    with pytest.raises(openai.BadRequestError, match="not among the tools"):
        oai.chat.completions.create(
            model=MODEL,
            messages=[ASK],
            tools=[WEATHER],
            max_tokens=4,
            tool_choice={"type": "function", "function": {"name": "launch_rockets"}},
        )
    resp = oai.chat.completions.create(
        model=MODEL,
        messages=[*FEW_SHOT_OPENAI, ASK],
        tools=[WEATHER],
        temperature=0,
        max_tokens=40,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    assert resp.choices[0].message.tool_calls[0].function.name == "get_weather"
