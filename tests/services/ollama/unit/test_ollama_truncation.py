"""fit_messages: Ollama's rule for a chat longer than the context, with a token count we control."""

from __future__ import annotations

from hailo_services.ollama.truncation import fit_messages


def words(messages) -> int:
    return sum(len(m["content"].split()) for m in messages)


def msg(role: str, n: int, tag: str) -> dict:
    return {"role": role, "content": " ".join([tag] * n)}


SYSTEM = msg("system", 5, "sys")
CHAT = [
    SYSTEM,
    msg("user", 10, "u1"),
    msg("assistant", 10, "a1"),
    msg("user", 10, "u2"),
    msg("assistant", 10, "a2"),
    msg("user", 10, "u3"),
]


def ollama_linear(messages, count, limit):
    """Ollama's own loop (server/prompt.go chatPrompt), for comparison."""
    for i in range(len(messages)):
        kept = [m for m in messages[:i] if m["role"] == "system"] + messages[i:]
        if count(kept) <= limit:
            return kept
    return [m for m in messages[:-1] if m["role"] == "system"] + messages[-1:]


def test_a_chat_that_fits_is_untouched():
    assert fit_messages(CHAT, words, 55) is CHAT


def test_oldest_messages_go_first_and_the_system_message_stays():
    fitted = fit_messages(CHAT, words, 40)  # 5 + 3 x 10
    assert fitted == [SYSTEM, CHAT[3], CHAT[4], CHAT[5]]


def test_when_nothing_fits_the_system_messages_and_the_last_message_are_kept():
    assert fit_messages(CHAT, words, 3) == [SYSTEM, CHAT[-1]]


def test_system_messages_in_the_middle_are_kept_too():
    chat = [msg("user", 10, "u0"), msg("system", 4, "rules"), *CHAT[1:]]
    fitted = fit_messages(chat, words, 30)
    assert fitted[0] == chat[1] and fitted[-1] == chat[-1] and words(fitted) <= 30


def test_the_binary_search_finds_what_ollamas_loop_finds():
    chat = [SYSTEM] + [msg("user" if i % 2 == 0 else "assistant", 3 + (i * 7) % 11, f"m{i}") for i in range(40)]
    calls = []

    def counting(messages):
        calls.append(1)
        return words(messages)

    for limit in range(1, words(chat) + 2):
        calls.clear()
        assert fit_messages(chat, counting, limit) == ollama_linear(chat, words, limit), limit
        assert len(calls) <= 8  # log2(40) + the first full render, not 40 renders


def test_thousands_of_tiny_messages_render_only_what_can_fit():
    # As the hostile suite's 10 000-message chat (3000 here, for the quadratic reference loop): every message is
    # at least a token, so no more than `limit` of them are ever rendered (a render of them all took seconds).
    chat = [SYSTEM] + [msg("user" if i % 2 == 0 else "assistant", 1, f"m{i}") for i in range(3000)]
    sizes: list[int] = []

    def counting(messages):
        sizes.append(len(messages))
        return words(messages)

    assert fit_messages(chat, counting, 512) == ollama_linear(chat, words, 512)
    assert max(sizes) <= 513 and len(sizes) <= 12
