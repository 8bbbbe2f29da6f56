"""Contract tests of HailoLLMEngine against the HailoRT test double (hailo_platform_double.py).

They check the calls the engine makes on HailoRT 5.x's ``hailo_platform.genai.LLM`` and what it
returns to the model manager; the double raises where HailoRT documents an error.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from hailo_services.core import hailo_device
from hailo_services.ollama.catalog import ModelSpec
from hailo_services.ollama.engine import EngineError, Sampling, Thinking, UnsupportedRequest
from hailo_services.ollama.generation import run_engine
from hailo_services.ollama.hailo import HailoLLMEngine

HEF = Path("/models/Qwen2.5-1.5B-Instruct.hef")
SPEC = ModelSpec(
    name="qwen2.5-instruct:1.5b",
    description="test",
    family="qwen2",
    parameter_size="1.5B",
    quantization="A8W4",
    context_length=2048,
    license="Apache-2.0",
    stop=("<|im_end|>", "<|endoftext|>"),
)
SYSTEM = {"role": "system", "content": "Be brief."}
USER1 = {"role": "user", "content": "Hi there"}
USER2 = {"role": "user", "content": "And then?"}


class Sink:
    """An ``emit`` that records chunks and reports the consumer gone after ``cancel_after`` chunks."""

    def __init__(self, cancel_after: int | None = None):
        self.chunks: list[str] = []
        self.cancel_after = cancel_after

    def __call__(self, text: str) -> bool:
        self.chunks.append(text)
        return self.cancel_after is not None and len(self.chunks) >= self.cancel_after

    @property
    def text(self) -> str:
        return "".join(self.chunks)


@pytest.fixture
def state(hailo_double: ModuleType) -> Any:
    return hailo_double.STATE


@pytest.fixture
def engine(hailo_double: ModuleType) -> Any:
    eng = HailoLLMEngine()
    eng.load(SPEC, [HEF], num_ctx=2048)
    yield eng
    eng.unload()


def generate_calls(state: Any) -> list[dict[str, Any]]:
    return state.calls_of("LLM.generate")


def chat(engine: HailoLLMEngine, messages: list[dict[str, Any]], **sampling: Any) -> tuple[Any, Sink]:
    sink = Sink(sampling.pop("cancel_after", None))
    stats = engine.chat(messages, Sampling(**sampling), sink)
    return stats, sink


# -- device and lifecycle --------------------------------------------------------------------------


def test_load_opens_a_shared_round_robin_vdevice_and_the_hef(state: Any, hailo_double: ModuleType) -> None:
    eng = HailoLLMEngine()
    eng.load(SPEC, [HEF], num_ctx=2048)
    try:
        assert len(state.vdevices) == 1
        vdev = state.vdevices[0]
        assert vdev.group_id == "SHARED"
        assert vdev.scheduling_algorithm == hailo_double.HailoSchedulingAlgorithm.ROUND_ROBIN
        (llm_call,) = state.calls_of("LLM")
        assert llm_call["vdevice"] is vdev
        assert llm_call["model_path"] == str(HEF)
        assert eng.context_length() == 2048
        assert eng.kind == "hailo"
    finally:
        eng.unload()


def test_group_id_is_configurable(state: Any) -> None:
    eng = HailoLLMEngine(group_id="hailo-services")
    eng.load(SPEC, [HEF], num_ctx=2048)
    try:
        assert state.vdevices[0].group_id == "hailo-services"
    finally:
        eng.unload()


def test_two_engines_share_one_vdevice_released_with_the_last(state: Any) -> None:
    a, b = HailoLLMEngine(), HailoLLMEngine()
    a.load(SPEC, [HEF], num_ctx=2048)
    b.load(SPEC, [Path("/models/Qwen2-1.5B-Instruct.hef")], num_ctx=2048)
    assert len(state.vdevices) == 1
    vdev = state.vdevices[0]
    assert [llm.vdevice for llm in state.llms] == [vdev, vdev]

    a.unload()
    assert state.llms[0].released and not state.llms[1].released
    assert not vdev.released

    b.unload()
    assert state.llms[1].released and vdev.released
    names = state.names()
    assert names.index("VDevice.release") > max(i for i, n in enumerate(names) if n == "LLM.release")


def test_num_ctx_is_ignored_and_logged(state: Any, caplog: pytest.LogCaptureFixture) -> None:
    eng = HailoLLMEngine()
    with caplog.at_level("INFO", logger="hailo_services.ollama.hailo"):
        eng.load(SPEC, [HEF], num_ctx=8192)
    try:
        assert eng.context_length() == 2048
        assert sum("num_ctx=8192 ignored" in r.getMessage() for r in caplog.records) == 1
    finally:
        eng.unload()


def test_unload_releases_llm_then_vdevice_and_is_idempotent(engine: HailoLLMEngine, state: Any) -> None:
    engine.unload()
    engine.unload()
    assert state.llms[0].released and state.vdevices[0].released
    assert state.names().count("VDevice.release") == 1
    assert hailo_device._vdevice is None
    with pytest.raises(EngineError):
        engine.chat([USER1], Sampling(), Sink())


def test_a_failed_load_surfaces_as_engine_error_and_releases_the_vdevice(state: Any, hailo_double: ModuleType) -> None:
    state.fail_next("LLM", hailo_double.HailoRTException("Invalid HEF. See hailort.log"))
    eng = HailoLLMEngine()
    with pytest.raises(EngineError, match="Invalid HEF"):
        eng.load(SPEC, [HEF], num_ctx=2048)
    assert state.vdevices[0].released
    assert hailo_device._users == 0


def test_memory_bytes_uses_the_published_npu_footprint(engine: HailoLLMEngine) -> None:
    assert engine.memory_bytes() == 0  # SPEC has no hailo artifact and the HEF path does not exist


# -- chat: prompt, sampling, output ----------------------------------------------------------------


def test_chat_sends_a_list_of_chat_dicts_so_the_hef_template_applies(engine: HailoLLMEngine, state: Any) -> None:
    stats, sink = chat(engine, [SYSTEM, USER1])
    (call,) = generate_calls(state)
    assert call["prompt"] == [SYSTEM, USER1]
    assert call["fresh"] is True
    assert sink.text == "Hello!"
    assert stats.finish_reason == "stop"


def test_counts_prompt_tokens_by_tokenize_and_completion_tokens_generated(
    engine: HailoLLMEngine, state: Any, hailo_double: ModuleType
) -> None:
    state.script(["One", " two", " three", "<|im_end|>"])
    stats, _ = chat(engine, [SYSTEM, USER1])
    assert stats.prompt_tokens == len(hailo_double.tokenize_text("Be brief.\nHi there"))
    assert stats.completion_tokens == 4
    assert stats.cached_tokens == 0
    assert stats.prompt_eval_s >= 0 and stats.eval_s >= 0


def test_sampling_maps_to_hailort_generate_arguments(engine: HailoLLMEngine, state: Any) -> None:
    chat(engine, [USER1], temperature=0.7, top_p=0.8, top_k=20, repeat_penalty=1.1, max_tokens=64, seed=42)
    call = generate_calls(state)[0]
    assert {k: call[k] for k in ("temperature", "top_p", "top_k", "frequency_penalty")} == {
        "temperature": 0.7,
        "top_p": 0.8,
        "top_k": 20,
        "frequency_penalty": 1.1,
    }
    assert call["max_generated_tokens"] == 64
    assert call["seed"] == 42
    assert call["do_sample"] is True
    assert call["tools"] is None


def test_unset_sampling_options_are_left_to_the_hef_defaults(engine: HailoLLMEngine, state: Any) -> None:
    chat(engine, [USER1])
    call = generate_calls(state)[0]
    for key in (
        "temperature",
        "top_p",
        "top_k",
        "frequency_penalty",
        "max_generated_tokens",
        "do_sample",
        "seed",
    ):
        assert call[key] is None, key


def test_temperature_zero_means_greedy_decoding(engine: HailoLLMEngine, state: Any) -> None:
    chat(engine, [USER1], temperature=0.0)
    call = generate_calls(state)[0]
    assert call["do_sample"] is False
    assert call["temperature"] is None


def test_frequency_penalty_is_used_without_repeat_penalty(engine: HailoLLMEngine, state: Any) -> None:
    chat(engine, [USER1], frequency_penalty=0.5)
    assert generate_calls(state)[0]["frequency_penalty"] == 0.5


def test_negative_seed_means_random(engine: HailoLLMEngine, state: Any) -> None:
    chat(engine, [USER1], seed=-1)
    assert generate_calls(state)[0]["seed"] is None


def test_model_end_tokens_are_filtered_from_the_output(engine: HailoLLMEngine, state: Any) -> None:
    state.script(["Fine", ".", "<|endoftext|>"])
    stats, sink = chat(engine, [USER1])
    assert sink.text == "Fine."
    assert all("<|" not in c for c in sink.chunks)
    assert stats.finish_reason == "stop"


def test_stop_string_split_across_tokens_trims_and_stops(engine: HailoLLMEngine, state: Any) -> None:
    state.script(["The", " answer", " is", " 42", ".\n\nQ", "uest", "ion:", " more", " text", "<|im_end|>"])
    stats, sink = chat(engine, [USER1], stop=["\n\nQuestion:"])
    assert sink.text == "The answer is 42."
    assert not any("\n" in c for c in sink.chunks)
    assert stats.finish_reason == "stop"
    gen = state.llms[0].generators[0]
    assert gen.released
    assert gen.tokens_read[-1] == "ion:"  # nothing read (nor emitted) after the stop
    assert state.llms[0].released_mid_generation == 1


def test_text_that_may_start_a_stop_string_is_held_back_until_it_cannot(engine: HailoLLMEngine, state: Any) -> None:
    state.script(["a", " ST", "b", " c", "<|im_end|>"])
    _, sink = chat(engine, [USER1], stop=["STOP"])
    assert sink.text == "a STb c"
    assert " ST" not in sink.chunks
    assert sink.chunks[0] == "a"


def test_nothing_is_emitted_after_a_stop_string(engine: HailoLLMEngine, state: Any) -> None:
    state.script(["A", "STOP", "B", "C", "<|im_end|>"])
    stats, sink = chat(engine, [USER1], stop=["STOP"])
    assert sink.chunks == ["A"]
    assert stats.completion_tokens == 2


def test_max_tokens_reports_length_and_hides_the_recovery_sequence(engine: HailoLLMEngine, state: Any) -> None:
    state.script(["w1", " w2", " w3", " w4", " w5", "<|im_end|>"])
    stats, sink = chat(engine, [USER1], max_tokens=3)
    assert sink.text == "w1 w2 w3"
    assert stats.finish_reason == "length"
    assert stats.completion_tokens == 3
    assert generate_calls(state)[0]["max_generated_tokens"] == 3


def test_text_held_back_for_a_stop_string_is_output_when_max_tokens_ends_the_reply(
    engine: HailoLLMEngine, state: Any
) -> None:
    state.script(["a", " b", " ST", " d", "<|im_end|>"])
    stats, sink = chat(engine, [USER1], max_tokens=3, stop=["STOP"])
    assert sink.text == "a b ST"
    assert stats.finish_reason == "length"


def test_the_hefs_own_token_limit_reports_length_without_the_recovery_sequence(
    engine: HailoLLMEngine, state: Any
) -> None:
    state.default_max_generated_tokens = 3
    state.script(["w1", " w2", " w3", " w4", "<|im_end|>"])
    stats, sink = chat(engine, [USER1])
    assert state.llms[0].generators[0].tokens_read[-1] == "<|im_end|>"  # HailoRT's recovery sequence
    assert sink.text == "w1 w2 w3"
    assert stats.finish_reason == "length"
    assert stats.completion_tokens == 3


def test_consumer_gone_stops_generation_and_releases_the_generator(engine: HailoLLMEngine, state: Any) -> None:
    state.script(["a", "b", "c", "d", "e", "<|im_end|>"])
    stats, sink = chat(engine, [USER1], cancel_after=2)
    assert stats.finish_reason == "cancelled"
    assert sink.chunks == ["a", "b"]
    assert state.llms[0].generators[0].released
    assert state.llms[0].released_mid_generation == 1

    # The next request can create a generator (HailoRT allows one at a time) and starts afresh,
    # since the context holds a partial reply.
    clears = state.names().count("LLM.clear_context")
    chat(engine, [USER1, {"role": "assistant", "content": "ab"}, USER2])
    assert state.names().count("LLM.clear_context") == clears + 1
    assert generate_calls(state)[-1]["fresh"] is True


def test_an_exception_from_emit_propagates_and_the_generator_is_released(engine: HailoLLMEngine, state: Any) -> None:
    def boom(_: str) -> bool:
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        engine.chat([USER1], Sampling(), boom)
    assert state.llms[0].generators[0].released
    chat(engine, [USER1])  # no "one generator at a time" error


def test_hailort_errors_surface_as_engine_error(engine: HailoLLMEngine, state: Any, hailo_double: ModuleType) -> None:
    state.fail_next("LLM.generate", hailo_double.HailoRTException("libhailort failed with error: 8 (HAILO_TIMEOUT)"))
    with pytest.raises(EngineError, match="HAILO_TIMEOUT"):
        chat(engine, [USER1])


def test_an_error_mid_stream_is_an_engine_error_and_the_next_call_starts_afresh(
    engine: HailoLLMEngine, state: Any, hailo_double: ModuleType
) -> None:
    chat(engine, [USER1])
    state.fail_next("LLMGeneratorCompletion.read", hailo_double.HailoRTException("HAILO_INVALID_OPERATION"))
    with pytest.raises(EngineError, match="HAILO_INVALID_OPERATION"):
        chat(engine, [USER1, {"role": "assistant", "content": "Hello!"}, USER2])
    assert all(g.released for g in state.llms[0].generators)
    chat(engine, [USER1, {"role": "assistant", "content": "Hello!"}, USER2])
    assert generate_calls(state)[-1]["fresh"] is True


def test_json_output_is_unsupported(engine: HailoLLMEngine) -> None:
    with pytest.raises(UnsupportedRequest):
        engine.chat([USER1], Sampling(json_mode=True), Sink())
    with pytest.raises(UnsupportedRequest):
        engine.chat([USER1], Sampling(json_schema={}), Sink())


def test_a_conversation_larger_than_the_context_is_rejected(engine: HailoLLMEngine, state: Any) -> None:
    huge = {"role": "user", "content": "word " * 3000}
    with pytest.raises(UnsupportedRequest, match="2048"):
        engine.chat([huge], Sampling(), Sink())
    assert generate_calls(state) == []


def test_a_long_chat_drops_its_oldest_messages_as_ollama_does(engine: HailoLLMEngine, state: Any) -> None:
    old = [{"role": "user", "content": "word " * 900}, {"role": "assistant", "content": "ok " * 900}]
    chat_ = [SYSTEM, *old, *old, USER2]  # ~3600 tokens of history on a 2048-token HEF
    state.script(["Fine", "<|im_end|>"])
    stats, sink = chat(engine, chat_)
    sent = generate_calls(state)[-1]["prompt"]
    assert sent[0] == SYSTEM and sent[-1] == USER2  # the system message and the last one stay
    assert 2 < len(sent) < len(chat_) and stats.prompt_tokens < 2048 and sink.text == "Fine"


def test_truncate_false_keeps_the_400(engine: HailoLLMEngine, state: Any) -> None:
    old = [{"role": "user", "content": "word " * 900}, {"role": "assistant", "content": "ok " * 900}]
    with pytest.raises(UnsupportedRequest, match="2048"):
        chat(engine, [*old, *old, USER2], truncate=False)
    assert generate_calls(state) == []


# -- KV-context reuse ------------------------------------------------------------------------------


def test_a_follow_up_sends_only_the_new_messages_on_the_kept_context(engine: HailoLLMEngine, state: Any) -> None:
    chat(engine, [SYSTEM, USER1])
    usage = state.llms[0].get_context_usage_size()
    clears = state.names().count("LLM.clear_context")

    stats, _ = chat(engine, [SYSTEM, USER1, {"role": "assistant", "content": "Hello!"}, USER2])

    call = generate_calls(state)[-1]
    assert call["prompt"] == [USER2]
    assert call["fresh"] is False
    assert state.names().count("LLM.clear_context") == clears
    assert stats.cached_tokens == usage
    assert stats.prompt_tokens == usage + len(state.llms[0].tokenize("And then?"))


def test_reuse_tolerates_whitespace_the_client_stripped_from_our_reply(engine: HailoLLMEngine, state: Any) -> None:
    state.script(["  Hello", " there\n", "<|im_end|>"])
    chat(engine, [USER1])
    chat(engine, [USER1, {"role": "assistant", "content": "Hello there"}, USER2])
    assert generate_calls(state)[-1]["prompt"] == [USER2]


def test_a_different_history_clears_and_sends_the_whole_conversation(engine: HailoLLMEngine, state: Any) -> None:
    chat(engine, [SYSTEM, USER1])
    clears = state.names().count("LLM.clear_context")
    edited = [
        SYSTEM,
        {"role": "user", "content": "Hi here"},
        {"role": "assistant", "content": "Hello!"},
        USER2,
    ]
    chat(engine, edited)
    assert state.names().count("LLM.clear_context") == clears + 1
    call = generate_calls(state)[-1]
    assert call["prompt"] == edited and call["fresh"] is True


def test_a_reply_we_did_not_produce_is_not_reused(engine: HailoLLMEngine, state: Any) -> None:
    chat(engine, [USER1])
    chat(engine, [USER1, {"role": "assistant", "content": "Something else"}, USER2])
    assert generate_calls(state)[-1]["fresh"] is True


def test_the_same_request_twice_starts_afresh(engine: HailoLLMEngine, state: Any) -> None:
    chat(engine, [SYSTEM, USER1])
    chat(engine, [SYSTEM, USER1])
    call = generate_calls(state)[-1]
    assert call["fresh"] is True and call["prompt"] == [SYSTEM, USER1]


def test_a_new_system_message_needs_a_fresh_context(engine: HailoLLMEngine, state: Any) -> None:
    chat(engine, [USER1])
    conv = [
        USER1,
        {"role": "assistant", "content": "Hello!"},
        {"role": "system", "content": "Now be formal."},
        USER2,
    ]
    chat(engine, conv)  # the double raises if a system message reaches a used context
    call = generate_calls(state)[-1]
    assert call["fresh"] is True and call["prompt"] == conv


@pytest.mark.parametrize(
    ("script", "options"),
    [
        (["A", "STOP", "B", "<|im_end|>"], {"stop": ["STOP"]}),
        (["a", "b", "c", "d", "<|im_end|>"], {"max_tokens": 2}),
    ],
    ids=["stop-string", "max-tokens"],
)
def test_no_reuse_after_a_generation_that_did_not_end_naturally(
    engine: HailoLLMEngine, state: Any, script: list[str], options: dict[str, Any]
) -> None:
    state.script(script)
    _, sink = chat(engine, [USER1], **options)
    chat(engine, [USER1, {"role": "assistant", "content": sink.text}, USER2])
    call = generate_calls(state)[-1]
    assert call["fresh"] is True and call["prompt"][0] == USER1


def test_a_nearly_full_context_is_cleared_and_the_conversation_resent(hailo_double: ModuleType, state: Any) -> None:
    state.capacity = 400
    eng = HailoLLMEngine()
    eng.load(SPEC, [HEF], num_ctx=400)
    try:
        chat(eng, [{"role": "user", "content": "word " * 100}])
        used = state.llms[0].get_context_usage_size()
        # Sized so that the estimate for extending the context passes 95 % of it, while the whole
        # conversation still fits once resent on a cleared one.
        words = int(0.95 * 400) - used
        follow = {"role": "user", "content": "more " * words}
        conv = [
            {"role": "user", "content": "word " * 100},
            {"role": "assistant", "content": "Hello!"},
            follow,
        ]
        clears = state.names().count("LLM.clear_context")
        chat(eng, conv)
        assert state.names().count("LLM.clear_context") == clears + 1
        assert generate_calls(state)[-1]["prompt"] == conv
    finally:
        eng.unload()


def test_a_follow_up_below_the_threshold_reuses(hailo_double: ModuleType, state: Any) -> None:
    state.capacity = 400
    eng = HailoLLMEngine()
    eng.load(SPEC, [HEF], num_ctx=400)
    try:
        chat(eng, [{"role": "user", "content": "word " * 100}])
        conv = [{"role": "user", "content": "word " * 100}, {"role": "assistant", "content": "Hello!"}, USER2]
        chat(eng, conv)
        assert generate_calls(state)[-1]["prompt"] == [USER2]
    finally:
        eng.unload()


# -- complete --------------------------------------------------------------------------------------


def test_complete_sends_the_raw_string_on_a_cleared_context(engine: HailoLLMEngine, state: Any) -> None:
    chat(engine, [USER1])
    state.script(["upon", " a", " time"])
    sink = Sink()
    clears = state.names().count("LLM.clear_context")
    stats = engine.complete("Once", Sampling(max_tokens=10), sink)
    call = generate_calls(state)[-1]
    assert call["prompt"] == "Once"
    assert state.names().count("LLM.clear_context") == clears + 1
    assert sink.text == "upon a time"
    assert stats.prompt_tokens == 1 and stats.completion_tokens == 3
    assert stats.finish_reason == "stop"

    # A chat after a raw completion cannot extend it.
    chat(engine, [USER1, {"role": "assistant", "content": "Hello!"}, USER2])
    assert generate_calls(state)[-1]["fresh"] is True


def test_complete_rejects_an_empty_prompt(engine: HailoLLMEngine) -> None:
    with pytest.raises(UnsupportedRequest):
        engine.complete("", Sampling(), Sink())


def test_max_tokens_past_the_hefs_context_asks_hailort_for_the_context_at_most(
    engine: HailoLLMEngine, state: Any
) -> None:
    chat(engine, [USER1], max_tokens=2**31 - 1)
    assert generate_calls(state)[0]["max_generated_tokens"] == engine.context_length()


def test_embeddings_are_a_clear_400_on_the_npu(engine: HailoLLMEngine) -> None:
    """genai.LLM only generates text: the API answers 400 saying so, not a 500."""
    with pytest.raises(UnsupportedRequest, match="HailoRT's LLM API only generates text"):
        engine.embed(["hello"], truncate=True, normalize=True)


# -- reasoning models: the HEF's text, thinking split from the answer by generation.run_engine -----


R1_END = "<\uff5cend\u2581of\u2581sentence\uff5c>"  # DeepSeek's end token, in full-width bars


def _run_r1(engine: HailoLLMEngine, think: bool) -> Sink:
    sink = Sink()
    sampling = Sampling(think=think, stop=[R1_END])
    run_engine(engine, "chat", messages=[USER1], prompt=None, sampling=sampling, emit=sink)
    return sink


def test_r1_thinking_from_the_hef_comes_apart_from_the_answer(engine: HailoLLMEngine, state: Any) -> None:
    # The HEF's template opens <think> (or the model writes it); tags arrive split across tokens.
    state.script(["<th", "ink>\n", "Hi back", ".\n</", "think>", "\n\n", "Hello", "!", R1_END])
    sink = _run_r1(engine, think=True)
    thinking = [c for c in sink.chunks if isinstance(c, Thinking)]
    assert "".join(thinking) == "Hi back.\n" and sink.text.endswith("Hello!")
    assert [c for c in sink.chunks if not isinstance(c, Thinking)] == ["Hello", "!"]


def test_r1_think_false_on_the_hef_drops_the_thinking_it_cannot_turn_off(engine: HailoLLMEngine, state: Any) -> None:
    state.script(["Hi back", ".", "</think>", "\n\n", "Hello", "!", R1_END])
    sink = _run_r1(engine, think=False)
    assert sink.chunks == ["Hello", "!"]
    # What HailoRT was asked: the chat as it is (the HEF's template decides how the prompt opens).
    assert generate_calls(state)[-1]["prompt"] == [USER1]


# -- tools: rendered by the HEF's template (HailoRT's tools=), the calls parsed from the text ------

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
CALL_TOKENS = ["<tool", "_call>", '\n{"name": "get_weather", ', '"arguments": {"city": ', '"Paris"}}\n', "</tool_call>"]


def test_tools_go_to_hailort_on_a_fresh_context_and_the_call_comes_back_parsed(
    engine: HailoLLMEngine, state: Any
) -> None:
    state.script([*CALL_TOKENS, "<|im_end|>"])
    stats, sink = chat(engine, [SYSTEM, USER1], tools=[WEATHER])
    call = generate_calls(state)[-1]
    assert call["tools"] == [WEATHER] and call["fresh"]
    assert sink.text == ""  # the call is not text
    assert stats.finish_reason == "tool_calls"
    assert [(c.name, json.loads(c.arguments)) for c in stats.tool_calls] == [("get_weather", {"city": "Paris"})]


def test_a_tool_round_trip_resends_the_whole_chat_with_tools(engine: HailoLLMEngine, state: Any) -> None:
    state.script([*CALL_TOKENS, "<|im_end|>"])
    stats, _ = chat(engine, [USER1], tools=[WEATHER])
    # The client runs the tool and sends the history back (arguments as OpenAI's JSON string).
    history = [
        USER1,
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "content": "18 C, sunny", "tool_call_id": "call_1"},
    ]
    state.script(["It is", " 18 C", " and sunny.", "<|im_end|>"])
    stats, sink = chat(engine, history, tools=[WEATHER])
    sent = generate_calls(state)[-1]
    # HailoRT refuses tools on a used context: the double would raise; the engine cleared it.
    assert sent["fresh"] and sent["tools"] == [WEATHER]
    assert sent["prompt"][1]["tool_calls"][0]["function"]["arguments"] == {"city": "Paris"}
    assert sent["prompt"][2] == {"role": "tool", "content": "18 C, sunny"}
    assert sink.text == "It is 18 C and sunny." and stats.finish_reason == "stop" and not stats.tool_calls


def test_llama3_style_json_calls_are_parsed_too(engine: HailoLLMEngine, state: Any) -> None:
    state.script(['{"name": "get_weather", ', '"parameters": {"city": "Oslo"}}', "<|eot_id|>"])
    stats, sink = chat(engine, [USER1], tools=[WEATHER], stop=["<|eot_id|>"])
    assert sink.text == "" and stats.tool_calls[0].name == "get_weather"
    assert json.loads(stats.tool_calls[0].arguments) == {"city": "Oslo"}


def test_tools_that_cannot_fit_the_hef_context_are_a_clear_400(engine: HailoLLMEngine, state: Any) -> None:
    many = [
        {"type": "function", "function": {"name": f"tool_{i}", "description": "word " * 40, "parameters": {}}}
        for i in range(36)
    ]
    with pytest.raises(UnsupportedRequest, match=r"36 tools .*more than this model's context.*Builtin Tools"):
        chat(engine, [USER1], tools=many)
