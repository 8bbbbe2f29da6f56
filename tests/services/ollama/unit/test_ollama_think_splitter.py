"""The think splitter on hand-made streams: reasoning apart from the answer, whatever the chunking."""

from __future__ import annotations

import pytest

from hailo_services.ollama.engine import Thinking
from hailo_services.ollama.thinking import ThinkSplitter


def split(pieces: list[str], keep_thinking: bool = True) -> tuple[str, str, list[str]]:
    out: list[str] = []
    splitter = ThinkSplitter(lambda t: out.append(t) or False, keep_thinking=keep_thinking)
    for p in pieces:
        assert splitter(p) is False
    splitter.flush()
    thinking = "".join(t for t in out if isinstance(t, Thinking))
    answer = "".join(t for t in out if not isinstance(t, Thinking))
    return thinking, answer, out


TEXT = "<think>\nThe user greets me. I greet back.\n</think>\n\nHello there!"


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 8, 9, 64])
def test_every_chunking_gives_the_same_split(size: int) -> None:
    pieces = [TEXT[i : i + size] for i in range(0, len(TEXT), size)]
    thinking, answer, _ = split(pieces)
    assert thinking == "The user greets me. I greet back.\n"
    assert answer == "Hello there!"


def test_template_opened_tag_means_the_text_starts_as_thinking() -> None:
    # R1-Distill's template ends the prompt with "<think>\n": the model writes only the closing tag.
    thinking, answer, _ = split(["Two plus two ", "is four.</th", "ink>", "4"])
    assert (thinking, answer) == ("Two plus two is four.", "4")


def test_a_model_that_never_closes_is_all_thinking() -> None:
    thinking, answer, _ = split(["<think>hmm, let me see ", "... </thi"])
    assert thinking == "hmm, let me see ... </thi" and answer == ""


def test_empty_thinking_block_then_answer() -> None:
    # think: false on R1: the template writes "<think>\n\n</think>\n\n" and the model answers.
    thinking, answer, out = split(["<think>\n\n</think>\n\n", "Paris."])
    assert (thinking, answer) == ("", "Paris.") and out == ["Paris."]


def test_thinking_dropped_when_not_kept() -> None:
    thinking, answer, out = split([TEXT], keep_thinking=False)
    assert thinking == "" and answer == "Hello there!" and out == ["Hello there!"]


def test_lookalike_tags_stay_text() -> None:
    thinking, answer, _ = split(["<thinking about </thin> it", "</think>ok <think> stays"])
    assert thinking == "<thinking about </thin> it" and answer == "ok <think> stays"


def test_a_consumer_gone_stops_the_stream() -> None:
    splitter = ThinkSplitter(lambda t: True)
    assert splitter("<think>a</think>b") is True


def test_a_prompt_that_closed_the_block_starts_as_the_answer() -> None:
    out: list[str] = []
    splitter = ThinkSplitter(lambda t: out.append(t) or False, keep_thinking=False, opened=False)
    splitter("\nThe answer is 5")
    splitter.flush()
    assert out == ["The answer is 5"]
    out.clear()
    # ... unless the model opens one itself.
    splitter = ThinkSplitter(lambda t: out.append(t) or False, keep_thinking=True, opened=False)
    splitter("<thi")
    splitter("nk>why</think>5")
    splitter.flush()
    assert out == [Thinking("why"), "5"] and isinstance(out[0], Thinking)
