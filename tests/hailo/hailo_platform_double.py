"""TEST DOUBLE of HailoRT's ``hailo_platform`` package (``hailo_platform`` + ``hailo_platform.genai``).

This is NOT HailoRT and not an NPU simulator. It exists so the Hailo engine can be tested on machines
without a Hailo-10H: the ``hailo_double`` fixture (tests/hailo/conftest.py) installs it into
``sys.modules`` as ``hailo_platform`` and ``hailo_platform.genai``. It

- records every call made on it (``STATE.calls``: ``(name, kwargs)`` tuples), and
- enforces the rules HailoRT 5.x documents for the calls we make (hailo-platform.md §6.1), raising
  :class:`HailoRTException` like HailoRT does when they are broken:
  one generator at a time per LLM; system messages and tools only on a fresh context; non-empty
  prompts of ``str`` or a list of JSON-serialisable dicts; no use of a released LLM/VDevice; the
  VDevice outliving its LLMs; the context capacity (2048 tokens).

Its "model" replays scripted tokens (``STATE.script(...)``); a token in the stop-token list ends the
generation the way a HEF's stop tokens do (the token itself is still returned, as HailoRT does).
Tokenization is a whitespace/punctuation split: deterministic, not the model's tokenizer.
"""

from __future__ import annotations

import enum
import json
import re
import types
from collections import deque
from dataclasses import dataclass, field
from typing import Any

HAILO_UNIQUE_VDEVICE_GROUP_ID = "UNIQUE"
DEFAULT_CAPACITY = 2048
DEFAULT_STOP_TOKENS = ["<|im_end|>", "<|endoftext|>"]
RECOVERY_SEQUENCE = "<|im_end|>"
PROMPT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


class HailoRTException(Exception):
    pass


class HailoRTInvalidOperationException(HailoRTException):
    pass


class HailoRTInvalidArgumentException(HailoRTException):
    pass


class HailoSchedulingAlgorithm(enum.IntEnum):
    NONE = 0
    ROUND_ROBIN = 1


class LLMGeneratorCompletionStatus(enum.Enum):
    GENERATING = 0
    MAX_TOKENS_REACHED = 1
    LOGICAL_END_OF_GENERATION = 2
    ABORTED = 3

    def __str__(self) -> str:  # pybind11 enums print as "Type.NAME"
        return f"LLMGeneratorCompletionStatus.{self.name}"


Status = LLMGeneratorCompletionStatus


@dataclass
class Script:
    """One scripted reply: the tokens the fake model yields, in order."""

    tokens: list[str]


@dataclass
class DoubleState:
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    vdevices: list[VDevice] = field(default_factory=list)
    llms: list[LLM] = field(default_factory=list)
    scripts: deque[Script] = field(default_factory=deque)
    default_reply: list[str] = field(default_factory=lambda: ["Hello", "!", "<|im_end|>"])
    capacity: int = DEFAULT_CAPACITY
    # Makes the named method raise this exception once (error injection): {"generate": exc, ...}
    failures: dict[str, BaseException] = field(default_factory=dict)
    # HailoRT returns its recovery sequence as a token when it cuts a generation at max tokens.
    emit_recovery_on_max_tokens: bool = True
    # The HEF's own max_generated_tokens, used when generate() is not given one.
    default_max_generated_tokens: int | None = None

    def script(self, *replies: list[str]) -> None:
        """Queue the token lists that the next ``generate`` calls will yield, one list per call."""
        self.scripts.extend(Script(list(r)) for r in replies)

    def fail_next(self, method: str, exc: BaseException) -> None:
        self.failures[method] = exc

    def record(self, name: str, **kwargs: Any) -> None:
        self.calls.append((name, kwargs))
        exc = self.failures.pop(name, None)
        if exc is not None:
            raise exc

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def calls_of(self, name: str) -> list[dict[str, Any]]:
        return [kw for n, kw in self.calls if n == name]


STATE = DoubleState()


def reset() -> DoubleState:
    global STATE
    STATE = DoubleState()
    return STATE


def tokenize_text(text: str) -> list[int]:
    # Stable across runs (no hash()): a word or a punctuation mark is one "token".
    return [sum(ord(c) for c in piece) % 50000 for piece in re.findall(r"\w+|[^\w\s]", text)]


# -- VDevice ---------------------------------------------------------------------------------------


class VDeviceParams:
    def __init__(self) -> None:
        self.group_id = HAILO_UNIQUE_VDEVICE_GROUP_ID
        self.scheduling_algorithm = HailoSchedulingAlgorithm.ROUND_ROBIN
        self.multi_process_service = False
        self.device_count = 1


class VDevice:
    def __init__(self, params: VDeviceParams | None = None, *, device_ids: list[str] | None = None):
        STATE.record("VDevice", params=params, device_ids=device_ids)
        self.params = params or VDeviceParams()
        # Snapshot: later edits to the params object must not change what the device was opened with.
        self.group_id = self.params.group_id
        self.scheduling_algorithm = self.params.scheduling_algorithm
        self.released = False
        self.llms: list[LLM] = []
        STATE.vdevices.append(self)

    @staticmethod
    def create_params() -> VDeviceParams:
        STATE.record("VDevice.create_params")
        return VDeviceParams()

    def release(self) -> None:
        STATE.record("VDevice.release")
        if self.released:
            return
        live = [llm for llm in self.llms if not llm.released]
        if live:
            raise HailoRTInvalidOperationException(
                f"VDevice released while {len(live)} LLM(s) still use it (release the LLM first)"
            )
        self.released = True

    def __enter__(self) -> VDevice:
        return self

    def __exit__(self, *args: Any) -> bool:
        self.release()
        return False


# -- LLM -------------------------------------------------------------------------------------------


class LLMGeneratorCompletion:
    def __init__(self, llm: LLM, tokens: list[str], max_generated_tokens: int | None):
        self._llm = llm
        self._queue = deque(tokens)
        self._max = max_generated_tokens
        self._generated = 0
        self._status = Status.GENERATING if tokens else Status.LOGICAL_END_OF_GENERATION
        self.released = False
        self.tokens_read: list[str] = []

    def _check_alive(self) -> None:
        if self.released:
            raise HailoRTInvalidOperationException("generator completion used after release()")

    @property
    def generation_status(self) -> Status:
        self._check_alive()
        return self._status

    def read(self, timeout_ms: int = 10000) -> str:
        self._check_alive()
        STATE.record("LLMGeneratorCompletion.read", timeout_ms=timeout_ms)
        if self._status != Status.GENERATING:
            raise HailoRTInvalidOperationException("read() after the generation ended")
        if self._max is not None and self._generated >= self._max:
            self._status = Status.MAX_TOKENS_REACHED
            token = RECOVERY_SEQUENCE if STATE.emit_recovery_on_max_tokens else ""
            self._llm._add_context(token)
            self.tokens_read.append(token)
            return token
        token = self._queue.popleft()
        self._generated += 1
        self._llm._add_context(token)
        self.tokens_read.append(token)
        if token in self._llm._stop_tokens or not self._queue:
            self._status = Status.LOGICAL_END_OF_GENERATION
        elif self._llm._usage >= self._llm._capacity or (
            self._max is not None and self._generated >= self._max and not STATE.emit_recovery_on_max_tokens
        ):
            self._status = Status.MAX_TOKENS_REACHED
        return token

    def read_all(self, timeout_ms: int = 10000) -> str:
        out = []
        while self.generation_status == Status.GENERATING:
            out.append(self.read(timeout_ms))
        return "".join(out)

    def __iter__(self) -> LLMGeneratorCompletion:
        return self

    def __next__(self) -> str:
        # As pyhailort: StopIteration as soon as the status is no longer GENERATING.
        if self.generation_status != Status.GENERATING:
            raise StopIteration("Generation complete")
        return self.read()

    def release(self) -> None:
        if self.released:
            return
        STATE.record("LLMGeneratorCompletion.release", status=self._status)
        if self._status == Status.GENERATING:
            self._llm.released_mid_generation += 1
        self.released = True
        if self._llm._active is self:
            self._llm._active = None

    def __enter__(self) -> LLMGeneratorCompletion:
        return self

    def __exit__(self, *args: Any) -> bool:
        self.release()
        return False


class LLM:
    def __init__(
        self,
        vdevice: VDevice,
        model_path: str,
        lora_name: str = "",
        optimize_memory_on_device: bool = False,
    ):
        STATE.record(
            "LLM",
            vdevice=vdevice,
            model_path=model_path,
            lora_name=lora_name,
            optimize_memory_on_device=optimize_memory_on_device,
        )
        if not isinstance(vdevice, VDevice) or vdevice.released:
            raise HailoRTInvalidArgumentException("LLM needs an active VDevice")
        if not isinstance(model_path, str):
            raise HailoRTInvalidArgumentException("model_path must be a str")
        self.vdevice = vdevice
        self.model_path = model_path
        self.released = False
        self.released_mid_generation = 0
        self.generators: list[LLMGeneratorCompletion] = []
        self._active: LLMGeneratorCompletion | None = None
        self._capacity = STATE.capacity
        self._usage = 0
        self._fresh = True
        self._stop_tokens = list(DEFAULT_STOP_TOKENS)
        self._recovery = RECOVERY_SEQUENCE
        vdevice.llms.append(self)
        STATE.llms.append(self)

    def _check_alive(self) -> None:
        if self.released:
            raise HailoRTInvalidOperationException("LLM used after release()")

    def _add_context(self, text: str) -> None:
        self._usage += len(tokenize_text(text))

    def _render(self, messages: list[dict[str, Any]]) -> str:
        return "".join(f"<|im_start|>{m['role']}\n{m.get('content', '')}<|im_end|>\n" for m in messages) + (
            "<|im_start|>assistant\n"
        )

    @property
    def context_is_fresh(self) -> bool:
        return self._fresh

    def generate(
        self,
        prompt: str | list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        top_k: int | None = None,
        frequency_penalty: float | None = None,
        max_generated_tokens: int | None = None,
        do_sample: bool | None = None,
        seed: int | None = None,
    ) -> LLMGeneratorCompletion:
        STATE.record(
            "LLM.generate",
            prompt=prompt,
            tools=tools,
            temperature=temperature,
            top_p=top_p,
            top_k=top_k,
            frequency_penalty=frequency_penalty,
            max_generated_tokens=max_generated_tokens,
            do_sample=do_sample,
            seed=seed,
            fresh=self._fresh,
            usage_before=self._usage,
        )
        self._check_alive()
        if self._active is not None:
            raise HailoRTInvalidOperationException(
                "Failed to generate. Make sure there is no other generation in progress "
                "(only one generator at a time per model; release the previous one first)"
            )
        if isinstance(prompt, str):
            if not prompt:
                raise HailoRTInvalidArgumentException("Prompt cannot be empty")
            rendered = prompt
        else:
            if not isinstance(prompt, list) or not all(isinstance(m, dict) for m in prompt):
                raise HailoRTException("prompt must be a list of dicts in chat format")
            if not prompt:
                raise HailoRTInvalidArgumentException("Prompt cannot be empty")
            for m in prompt:
                json.dumps(m)  # pyhailort json.dumps() each message; unserialisable ones fail here
            if not self._fresh:
                if tools:
                    raise HailoRTInvalidOperationException("Tools can only be provided on the first prompt")
                if any(m.get("role") == "system" for m in prompt):
                    raise HailoRTInvalidOperationException(
                        "System role messages can only be provided on the first prompt"
                    )
            rendered = self._render(prompt)
            self._fresh = False
        numbers = {"temperature": temperature, "top_p": top_p, "frequency_penalty": frequency_penalty}
        for name, value in numbers.items():
            if value is not None and not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number")  # as pybind11 rejects the argument
        needed = len(tokenize_text(rendered))
        if self._usage + needed > self._capacity:
            raise HailoRTInvalidOperationException("Context capacity exceeded, clear the context")
        self._usage += needed
        script = STATE.scripts.popleft().tokens if STATE.scripts else list(STATE.default_reply)
        if max_generated_tokens is None:
            max_generated_tokens = STATE.default_max_generated_tokens
        gen = LLMGeneratorCompletion(self, script, max_generated_tokens)
        self._active = gen
        self.generators.append(gen)
        return gen

    def generate_all(self, prompt: str | list[dict[str, Any]], **kwargs: Any) -> str:
        kwargs.pop("timeout_ms", None)
        with self.generate(prompt, **kwargs) as gen:
            return gen.read_all()

    def clear_context(self) -> None:
        STATE.record("LLM.clear_context")
        self._check_alive()
        if self._active is not None:
            raise HailoRTInvalidOperationException("clear_context() while a generator is alive")
        self._usage = 0
        self._fresh = True

    def get_context_usage_size(self) -> int:
        STATE.record("LLM.get_context_usage_size")
        self._check_alive()
        return self._usage

    def max_context_capacity(self) -> int:
        STATE.record("LLM.max_context_capacity")
        self._check_alive()
        return self._capacity

    def tokenize(self, text: str) -> list[int]:
        STATE.record("LLM.tokenize", text=text)
        self._check_alive()
        return tokenize_text(text)

    def set_stop_tokens(self, stop_tokens: list[str]) -> None:
        STATE.record("LLM.set_stop_tokens", stop_tokens=stop_tokens)
        self._check_alive()
        self._stop_tokens = list(stop_tokens)

    def get_stop_tokens(self) -> list[str]:
        STATE.record("LLM.get_stop_tokens")
        self._check_alive()
        return list(self._stop_tokens)

    def get_generation_recovery_sequence(self) -> str:
        STATE.record("LLM.get_generation_recovery_sequence")
        self._check_alive()
        return self._recovery

    def set_generation_recovery_sequence(self, sequence: str) -> None:
        STATE.record("LLM.set_generation_recovery_sequence", sequence=sequence)
        self._check_alive()
        self._recovery = sequence

    def prompt_template(self) -> str:
        STATE.record("LLM.prompt_template")
        self._check_alive()
        return PROMPT_TEMPLATE

    def release(self) -> None:
        STATE.record("LLM.release")
        if self.released:
            return
        if self._active is not None:
            self._active.release()
        self.released = True

    def __enter__(self) -> LLM:
        return self

    def __exit__(self, *args: Any) -> bool:
        self.release()
        return False


genai = types.ModuleType("hailo_platform.genai")
genai.__doc__ = "TEST DOUBLE of hailo_platform.genai (see hailo_platform_double)."
genai.VDevice = VDevice  # type: ignore[attr-defined]
genai.LLM = LLM  # type: ignore[attr-defined]
genai.__all__ = ["LLM", "VDevice"]  # type: ignore[attr-defined]
