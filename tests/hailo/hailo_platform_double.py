"""TEST DOUBLE of HailoRT's ``hailo_platform`` package (``hailo_platform`` + ``hailo_platform.genai``).

This is NOT HailoRT and not an NPU simulator. It exists so the Hailo engines can be tested on machines
without a Hailo-10H: the ``hailo_double`` fixture (tests/hailo/conftest.py) installs it into
``sys.modules`` as ``hailo_platform`` and ``hailo_platform.genai``. It

- records every call made on it (``STATE.calls``: ``(name, kwargs)`` tuples), and
- enforces the rules HailoRT 5.x documents for the calls we make (HailoRT 5.x pyhailort; docs/hailo-models.md), raising
  :class:`HailoRTException` like HailoRT does when they are broken:
  one generator at a time per LLM; system messages and tools only on a fresh context; non-empty
  prompts of ``str`` or a list of JSON-serialisable dicts; no use of a released LLM/VDevice; the
  VDevice outliving its LLMs and configured infer models; the context capacity (2048 tokens).

GenAI: its "model" replays scripted tokens (``STATE.script(...)``); a token in the stop-token list ends
the generation the way a HEF's stop tokens do (the token itself is still returned, as HailoRT does).
Tokenization is a whitespace/punctuation split: deterministic, not the model's tokenizer.

Speech2Text (``genai.Speech2Text``, HailoRT 5.x; docs/hailo-models.md): ``STATE.define_speech2text(path)`` makes a
Whisper HEF that ``Speech2Text(vdevice, path)`` opens; ``STATE.script_speech(...)`` queues what the next
``generate_all_segments`` calls return. HailoRT's documented input is enforced: a 1-D, C-contiguous,
little-endian float32 numpy array of 16 kHz mono PCM in [-1, 1); ``task`` a ``Speech2TextTask``;
``language`` None (detect) or an ISO 639-1 code; one call at a time; no use after ``release()``; the
VDevice outliving it. Stricter than HailoRT: at most ``STATE.speech_max_s`` (30 s, Whisper's window) per
call, so the engine's own windowing is what long audio goes through.

InferModel (the non-GenAI API, modelled on hailort v5.2.0 ``pyhailort.py``): tests describe a "HEF"
with ``STATE.define_hef(path, inputs=[...], outputs=[...])`` (names, shapes, quantisation, NMS) and
script what each frame's outputs are with ``STATE.script_infer(...)`` (float values; the double
quantises them for UINT8/UINT16 buffers and packs NMS results in HailoRT's NMS_BY_CLASS layout). On top
of HailoRT's own checks it is strict where HailoRT is merely tolerant, so our code cannot depend on
luck: buffers must match the configured shape and dtype exactly; format/NMS/batch setters are refused
after ``configure()``; ``run_async`` needs a preceding ``wait_for_async_ready`` for as many frames;
``create_infer_model`` is refused on a VDevice opened with the UNIQUE group id (HailoRT accepts it, but
then no other service process could open the Hailo-10H).
"""

from __future__ import annotations

import enum
import json
import re
import threading
import time
import types
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

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


class HailoRTTimeout(HailoRTException):
    # Real HailoRT defines it in hailo_platform.pyhailort.pyhailort and does not re-export it at the top.
    pass


class HailoRTNotFoundException(HailoRTException):
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
    # InferModel: the "HEF files" that exist (path -> what is in them), and what the next frames return.
    hefs: dict[str, HefSpec] = field(default_factory=dict)
    infer_scripts: deque[Any] = field(default_factory=deque)
    infer_models: list[InferModel] = field(default_factory=list)
    configured_models: list[ConfiguredInferModel] = field(default_factory=list)
    frames_seen: list[dict[str, np.ndarray]] = field(default_factory=list)  # input buffers, per frame run
    infer_delay_s: float = 0.0  # how long a job takes (a job longer than job.wait's timeout times out)
    async_queue_size: int = 4
    async_ready: bool = True  # False: wait_for_async_ready times out (a device busy with other processes)
    job_failures: deque[BaseException] = field(default_factory=deque)
    # Speech2Text: the Whisper HEFs that exist, what the next calls return, the audio each call got.
    speech_hefs: set[str] = field(default_factory=set)
    speech_scripts: deque[Any] = field(default_factory=deque)
    speech_calls: list[dict[str, Any]] = field(default_factory=list)
    speech_models: list[Speech2Text] = field(default_factory=list)
    speech_max_s: float = 30.0

    def script(self, *replies: list[str]) -> None:
        """Queue the token lists that the next ``generate`` calls will yield, one list per call."""
        self.scripts.extend(Script(list(r)) for r in replies)

    def define_hef(self, path: str, *, inputs: list[StreamSpec], outputs: list[StreamSpec]) -> HefSpec:
        """Make ``path`` a HEF that create_infer_model can open, with these streams."""
        spec = HefSpec(inputs=list(inputs), outputs=list(outputs))
        self.hefs[str(path)] = spec
        return spec

    def script_infer(self, *frames: dict[str, Any] | Callable[[dict[str, np.ndarray]], dict[str, Any]]) -> None:
        """Queue the outputs of the next frames, one item per frame (bindings), in order.

        An item maps output names to float values (an array of the output's shape; for an NMS output a list
        with one ``(n, 5)`` array per class of ``[y_min, x_min, y_max, x_max, score]``), or is a callable
        that gets the frame's inputs by name and returns that mapping. Outputs left out are zeros (no
        detections). Unscripted frames get all zeros.
        """
        self.infer_scripts.extend(frames)

    def define_speech2text(self, path: str) -> None:
        """Make ``path`` a Whisper HEF that Speech2Text can open."""
        self.speech_hefs.add(str(path))

    def script_speech(
        self, *calls: list[tuple[float, float, str]] | Callable[..., list[tuple[float, float, str]]]
    ) -> None:
        """Queue what the next ``generate_all_segments`` calls return: a list of ``(start_sec, end_sec, text)``
        per call, or a callable ``(audio, task, language) -> list``. Unscripted calls return no segments."""
        self.speech_scripts.extend(calls)

    def fail_next_job(self, exc: BaseException) -> None:
        """The next run_async job completes with this error (in its callback and from job.wait)."""
        self.job_failures.append(exc)

    def fail_next(self, method: str, exc: BaseException) -> None:
        self.failures[method] = exc

    def record(self, name: str, /, **kwargs: Any) -> None:  # positional-only: "name" can be a recorded kwarg
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
        self.configured: list[ConfiguredInferModel] = []
        self.speech: list[Speech2Text] = []
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
        speech = [m for m in self.speech if not m.released]
        if speech:
            raise HailoRTInvalidOperationException(
                f"VDevice released while {len(speech)} Speech2Text model(s) still use it (release them first)"
            )
        configured = [c for c in self.configured if not c.closed]
        if configured:
            raise HailoRTInvalidOperationException(
                f"VDevice released while {len(configured)} configured infer model(s) still use it "
                "(leave the ConfiguredInferModel context / shutdown() first)"
            )
        self.released = True

    def create_infer_model(self, hef_source: str | bytes, name: str = "") -> InferModel:
        STATE.record("VDevice.create_infer_model", hef_source=hef_source, name=name)
        if self.released:
            raise HailoRTInvalidOperationException("create_infer_model on a released VDevice")
        if self.group_id == HAILO_UNIQUE_VDEVICE_GROUP_ID:
            raise HailoRTInvalidOperationException(
                "VDevice opened with the UNIQUE group id: other processes could not share the Hailo-10H "
                "(open it with a shared group_id such as 'SHARED')"
            )
        if not isinstance(hef_source, (str, bytes)):
            raise ValueError("hef_source must be a str path or bytes")  # as pyhailort
        key = hef_source if isinstance(hef_source, str) else hef_source.decode(errors="replace")
        spec = STATE.hefs.get(key)
        if spec is None:
            raise HailoRTException(f"HAILO_OPEN_FILE_FAILURE: cannot open HEF {key!r}")
        model = InferModel(self, key, spec)
        STATE.infer_models.append(model)
        return model

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


# Qwen2-VL-2B-Instruct.hef's frame (VLM.input_frame_shape()) and what one frame costs in the context.
VLM_FRAME_SHAPE = (336, 336, 3)
VLM_FRAME_TOKENS = 144


class VLM(LLM):
    """``genai.VLM``: an LLM whose ``generate`` takes ``frames`` (required; ``[]`` = no vision input),
    one per ``{"type": "image"}`` placeholder in the chat content, each a uint8 array of
    ``input_frame_shape()``. HailoRT documents no tools for the VLM."""

    def __init__(self, vdevice: VDevice, model_path: str, optimize_memory_on_device: bool = False):
        super().__init__(vdevice, model_path, optimize_memory_on_device=optimize_memory_on_device)
        STATE.record("VLM", model_path=model_path)

    def generate(  # type: ignore[override]
        self,
        prompt: str | list[dict[str, Any]],
        frames: list[np.ndarray],
        videos: list[Any] | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        top_k: int | None = None,
        frequency_penalty: float | None = None,
        max_generated_tokens: int | None = None,
        do_sample: bool | None = None,
        seed: int | None = None,
    ) -> LLMGeneratorCompletion:
        self._check_alive()
        if not isinstance(frames, list):
            raise HailoRTInvalidArgumentException("frames must be a list of numpy arrays")
        for f in frames:
            if not isinstance(f, np.ndarray) or f.shape != VLM_FRAME_SHAPE or f.dtype != np.uint8:
                got = f"{f.shape} {f.dtype}" if isinstance(f, np.ndarray) else type(f).__name__
                raise HailoRTInvalidArgumentException(f"a frame must be uint8 {VLM_FRAME_SHAPE}, got {got}")
        placeholders = 0
        if isinstance(prompt, list):
            for m in prompt:
                content = m.get("content") if isinstance(m, dict) else None
                if isinstance(content, list):
                    placeholders += sum(1 for part in content if isinstance(part, dict) and part.get("type") == "image")
        if placeholders != len(frames):
            raise HailoRTInvalidArgumentException(
                f"the prompt has {placeholders} image placeholders but {len(frames)} frames were given"
            )
        STATE.record("VLM.generate", frames=[f.copy() for f in frames], prompt=prompt)
        gen = super().generate(
            prompt,
            temperature=temperature,
            top_p=top_p,
            top_k=top_k,
            frequency_penalty=frequency_penalty,
            max_generated_tokens=max_generated_tokens,
            do_sample=do_sample,
            seed=seed,
        )
        self._usage += VLM_FRAME_TOKENS * len(frames)
        if self._usage > self._capacity:
            gen.release()
            raise HailoRTInvalidOperationException("Context capacity exceeded, clear the context")
        return gen

    def input_frame_shape(self) -> tuple[int, int, int]:
        self._check_alive()
        return VLM_FRAME_SHAPE

    def input_frame_size(self) -> int:
        self._check_alive()
        return int(np.prod(VLM_FRAME_SHAPE))


# -- Speech2Text -----------------------------------------------------------------------------------

WHISPER_LANGUAGES = frozenset(
    [
        "en",
        "zh",
        "de",
        "es",
        "ru",
        "ko",
        "fr",
        "ja",
        "pt",
        "tr",
        "pl",
        "ca",
        "nl",
        "ar",
        "sv",
        "it",
        "id",
        "hi",
        "fi",
        "vi",
        "he",
        "uk",
        "el",
        "ms",
        "cs",
        "ro",
        "da",
        "hu",
        "ta",
        "no",
        "th",
        "ur",
        "hr",
        "bg",
        "lt",
        "la",
        "mi",
        "ml",
        "cy",
        "sk",
        "te",
        "fa",
        "lv",
        "bn",
        "sr",
        "az",
        "sl",
        "kn",
        "et",
        "mk",
        "br",
        "eu",
        "is",
        "hy",
        "ne",
        "mn",
        "bs",
        "kk",
        "sq",
        "sw",
        "gl",
        "mr",
        "pa",
        "si",
        "km",
        "sn",
        "yo",
        "so",
        "af",
        "oc",
        "ka",
        "be",
        "tg",
        "sd",
        "gu",
        "am",
        "yi",
        "lo",
        "uz",
        "fo",
        "ht",
        "ps",
        "tk",
        "nn",
        "mt",
        "sa",
        "lb",
        "my",
        "bo",
        "tl",
        "mg",
        "as",
        "tt",
        "haw",
        "ln",
        "ha",
        "ba",
        "jw",
        "su",
        "yue",
    ]
)
SPEECH_RATE = 16000


class Speech2TextTask(enum.Enum):
    TRANSCRIBE = 0
    TRANSLATE = 1


@dataclass(frozen=True)
class SegmentInfo:
    start_sec: float
    end_sec: float
    text: str


class Speech2Text:
    def __init__(self, vdevice: VDevice, model_path: str):
        STATE.record("Speech2Text", vdevice=vdevice, model_path=model_path)
        if not isinstance(vdevice, VDevice) or vdevice.released:
            raise HailoRTInvalidArgumentException("Speech2Text needs an active VDevice")
        if not isinstance(model_path, str):
            raise HailoRTInvalidArgumentException("model_path must be a str")
        if model_path not in STATE.speech_hefs:
            raise HailoRTException(f"HAILO_OPEN_FILE_FAILURE: cannot open HEF {model_path!r}")
        self.vdevice = vdevice
        self.model_path = model_path
        self.released = False
        self._busy = threading.Lock()
        vdevice.speech.append(self)
        STATE.speech_models.append(self)

    def _check_alive(self) -> None:
        if self.released:
            raise HailoRTInvalidOperationException("Speech2Text used after release()")
        if self.vdevice.released:
            raise HailoRTInvalidOperationException("Speech2Text used after its VDevice was released")

    @staticmethod
    def _check_audio(audio_data: Any) -> None:
        if not isinstance(audio_data, np.ndarray):
            raise HailoRTInvalidArgumentException("audio_data must be a numpy array")
        if audio_data.dtype != np.dtype("<f4"):
            raise HailoRTInvalidArgumentException(
                f"audio_data must be float32 little-endian PCM, got {audio_data.dtype}"
            )
        if audio_data.ndim != 1 or not audio_data.size:
            raise HailoRTInvalidArgumentException(f"audio_data must be non-empty mono (1-D), got {audio_data.shape}")
        if not audio_data.flags.c_contiguous:
            raise HailoRTException("Buffer must be C_CONTIGUOUS")
        if float(audio_data.min()) < -1.0 or float(audio_data.max()) >= 1.0:
            raise HailoRTInvalidArgumentException("audio_data must be in [-1, 1)")
        if audio_data.size > STATE.speech_max_s * SPEECH_RATE:
            raise HailoRTInvalidArgumentException(
                f"the double takes at most {STATE.speech_max_s:g} s per call (Whisper's window); "
                f"got {audio_data.size / SPEECH_RATE:.1f} s"
            )

    def generate_all_segments(
        self,
        audio_data: np.ndarray,
        task: Speech2TextTask = Speech2TextTask.TRANSCRIBE,
        language: str | None = None,
        repetition_penalty: float = 1.0,
        timeout_ms: int = 10000,
    ) -> list[SegmentInfo]:
        STATE.record(
            "Speech2Text.generate_all_segments",
            task=task,
            language=language,
            repetition_penalty=repetition_penalty,
            timeout_ms=timeout_ms,
        )
        self._check_alive()
        self._check_audio(audio_data)
        if not isinstance(task, Speech2TextTask):
            raise TypeError(f"task must be a Speech2TextTask, got {task!r}")  # as pybind11 rejects it
        if language is not None and (not isinstance(language, str) or language not in WHISPER_LANGUAGES):
            raise HailoRTInvalidArgumentException(f"language must be None or an ISO 639-1 code, got {language!r}")
        if not isinstance(timeout_ms, int) or timeout_ms <= 0:
            raise HailoRTInvalidArgumentException(f"invalid timeout_ms {timeout_ms!r}")
        if not self._busy.acquire(blocking=False):
            raise HailoRTInvalidOperationException("another generation is in progress on this Speech2Text")
        try:
            STATE.speech_calls.append({"audio": audio_data.copy(), "task": task, "language": language})
            script = STATE.speech_scripts.popleft() if STATE.speech_scripts else []
            found = script(audio_data, task, language) if callable(script) else script
            return [SegmentInfo(float(a), float(b), str(t)) for a, b, t in found]
        finally:
            self._busy.release()

    def generate_all_text(self, audio_data: np.ndarray, **kwargs: Any) -> str:
        return "".join(seg.text for seg in self.generate_all_segments(audio_data, **kwargs))

    def tokenize(self, text: str) -> list[int]:
        self._check_alive()
        return tokenize_text(text)

    def release(self) -> None:
        STATE.record("Speech2Text.release")
        self.released = True

    def __enter__(self) -> Speech2Text:
        return self

    def __exit__(self, *args: Any) -> bool:
        self.release()
        return False


genai = types.ModuleType("hailo_platform.genai")
genai.__doc__ = "TEST DOUBLE of hailo_platform.genai (see hailo_platform_double)."
genai.VDevice = VDevice  # type: ignore[attr-defined]
genai.LLM = LLM  # type: ignore[attr-defined]
genai.VLM = VLM  # type: ignore[attr-defined]
genai.Speech2Text = Speech2Text  # type: ignore[attr-defined]
genai.Speech2TextTask = Speech2TextTask  # type: ignore[attr-defined]
genai.__all__ = ["LLM", "Speech2Text", "Speech2TextTask", "VDevice", "VLM"]  # type: ignore[attr-defined]


# -- InferModel (non-GenAI inference) --------------------------------------------------------------


class FormatType(enum.IntEnum):
    AUTO = 0
    UINT8 = 1
    UINT16 = 2
    FLOAT32 = 3


class FormatOrder(enum.IntEnum):
    AUTO = 0
    NHWC = 1
    NC = 2
    HAILO_NMS_BY_CLASS = 3


BBOX_PARAMS = 5  # y_min, x_min, y_max, x_max, score (HailoRTDefaults.BBOX_PARAMS)
_DTYPES = {FormatType.UINT8: np.uint8, FormatType.UINT16: np.uint16, FormatType.FLOAT32: np.float32}


@dataclass
class QuantInfo:
    """As ``_pyhailort.QuantInfo``: ``float = (raw - qp_zp) * qp_scale``."""

    qp_zp: float = 0.0
    qp_scale: float = 1.0
    limvals_min: float = 0.0
    limvals_max: float = 0.0


@dataclass
class NmsShape:
    number_of_classes: int
    max_bboxes_per_class: int


@dataclass
class StreamSpec:
    """One HEF input or output. ``shape`` is HxWxC (or C for NC outputs); NMS outputs take theirs from ``nms``."""

    name: str
    shape: tuple[int, ...] = ()
    format_type: FormatType = FormatType.UINT8  # the HEF's default user format
    quant: QuantInfo = field(default_factory=QuantInfo)
    nms: NmsShape | None = None

    def host_shape(self) -> tuple[int, ...]:
        if self.nms is not None:
            # pyhailort's get_pybind_shape for HAILO_NMS_BY_CLASS: per class one count + max_bboxes * 5 values.
            return (self.nms.number_of_classes * (1 + BBOX_PARAMS * self.nms.max_bboxes_per_class),)
        return tuple(self.shape)


@dataclass
class HefSpec:
    inputs: list[StreamSpec]
    outputs: list[StreamSpec]


@dataclass
class StreamFormat:
    type: FormatType
    order: FormatOrder
    flags: int = 0


def _quantize(values: np.ndarray, quant: QuantInfo, dtype: Any) -> np.ndarray:
    info = np.iinfo(dtype)
    return np.clip(np.rint(values / quant.qp_scale + quant.qp_zp), info.min, info.max).astype(dtype)


def nms_pack(per_class: list[Any], nms: NmsShape) -> np.ndarray:
    """Per-class (n, 5) detections -> HailoRT's NMS_BY_CLASS float32 host buffer (count, boxes; class after class)."""
    if len(per_class) != nms.number_of_classes:
        raise ValueError(f"scripted NMS output has {len(per_class)} classes, the HEF {nms.number_of_classes}")
    flat = np.zeros(nms.number_of_classes * (1 + BBOX_PARAMS * nms.max_bboxes_per_class), dtype=np.float32)
    offset = 0
    for boxes in per_class:
        rows = np.asarray(boxes, dtype=np.float32).reshape(-1, BBOX_PARAMS)[: nms.max_bboxes_per_class]
        flat[offset] = len(rows)
        offset += 1
        flat[offset : offset + rows.size] = rows.reshape(-1)
        offset += rows.size
    return flat


def nms_unpack(flat: np.ndarray, number_of_classes: int) -> list[np.ndarray]:
    """As pyhailort's ``output_raw_buffer_to_nms_format_single_frame``."""
    out: list[np.ndarray] = []
    offset = 0
    for _ in range(number_of_classes):
        count = int(flat[offset])
        offset += 1
        if count == 0:
            out.append(np.empty([0, BBOX_PARAMS]))
        else:
            out.append(flat[offset : offset + BBOX_PARAMS * count].reshape(count, BBOX_PARAMS))
            offset += BBOX_PARAMS * count
    return out


class InferModel:
    class InferStream:
        def __init__(self, model: InferModel, spec: StreamSpec, is_input: bool):
            self._model, self._spec, self._is_input = model, spec, is_input
            self._type = spec.format_type if spec.nms is None else FormatType.FLOAT32
            self.nms_settings: dict[str, float] = {}

        def _check_settable(self, what: str) -> None:
            self._model._check_alive()
            if self._model.configured is not None:
                raise HailoRTInvalidOperationException(f"{what} on '{self._spec.name}' after configure()")

        @property
        def name(self) -> str:
            return self._spec.name

        @property
        def shape(self) -> list[int]:
            self._model._check_alive()
            return list(self._spec.host_shape())

        @property
        def format(self) -> StreamFormat:
            if self._spec.nms is not None:
                order = FormatOrder.HAILO_NMS_BY_CLASS
            else:
                order = FormatOrder.NHWC if len(self._spec.shape) == 3 else FormatOrder.NC
            return StreamFormat(self._type, order)

        @property
        def quant_infos(self) -> list[QuantInfo]:
            return [self._spec.quant]

        @property
        def is_nms(self) -> bool:
            return self._spec.nms is not None

        @property
        def dtype(self) -> Any:  # double-only helper: the numpy dtype of the user buffer
            return np.dtype(_DTYPES[self._type])

        def set_format_type(self, type: FormatType) -> None:
            STATE.record("InferStream.set_format_type", name=self.name, type=type)
            self._check_settable("set_format_type")
            if type not in _DTYPES:
                raise HailoRTInvalidArgumentException(f"invalid format type {type!r}")
            self._type = FormatType(type)

        def _set_nms(self, key: str, value: float) -> None:
            STATE.record(f"InferStream.set_nms_{key}", name=self.name, value=value)
            self._check_settable(f"set_nms_{key}")
            # HailoRT: accepted here, but configure() fails when the edge has no NMS on the CPU.
            self.nms_settings[key] = value

        def set_nms_score_threshold(self, threshold: float) -> None:
            self._set_nms("score_threshold", threshold)

        def set_nms_iou_threshold(self, threshold: float) -> None:
            self._set_nms("iou_threshold", threshold)

        def set_nms_max_proposals_per_class(self, max_proposals: int) -> None:
            self._set_nms("max_proposals_per_class", max_proposals)

    def __init__(self, vdevice: VDevice, hef_path: str, spec: HefSpec):
        self.vdevice = vdevice
        self.hef_path = hef_path
        self.batch_size: int | None = None
        self.configured: ConfiguredInferModel | None = None
        self._inputs = [self.InferStream(self, s, True) for s in spec.inputs]
        self._outputs = [self.InferStream(self, s, False) for s in spec.outputs]

    def _check_alive(self) -> None:
        if self.vdevice.released:
            raise HailoRTInvalidOperationException("InferModel used after its VDevice was released")

    @property
    def input_names(self) -> list[str]:
        return [s.name for s in self._inputs]

    @property
    def output_names(self) -> list[str]:
        return [s.name for s in self._outputs]

    @property
    def inputs(self) -> list[InferModel.InferStream]:
        return list(self._inputs)

    @property
    def outputs(self) -> list[InferModel.InferStream]:
        return list(self._outputs)

    @staticmethod
    def _pick(streams: list[InferModel.InferStream], name: str, kind: str) -> InferModel.InferStream:
        if name == "" and len(streams) == 1:
            return streams[0]
        for s in streams:
            if s.name == name:
                return s
        raise HailoRTNotFoundException(f"no {kind} named {name!r} (have {[s.name for s in streams]})")

    def input(self, name: str = "") -> InferModel.InferStream:
        return self._pick(self._inputs, name, "input")

    def output(self, name: str = "") -> InferModel.InferStream:
        return self._pick(self._outputs, name, "output")

    def set_batch_size(self, batch_size: int) -> None:
        STATE.record("InferModel.set_batch_size", batch_size=batch_size)
        self._check_alive()
        if self.configured is not None:
            raise HailoRTInvalidOperationException("set_batch_size after configure()")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise HailoRTInvalidArgumentException(f"invalid batch size {batch_size!r}")
        self.batch_size = batch_size

    def configure(self) -> ConfiguredInferModel:
        STATE.record("InferModel.configure")
        self._check_alive()
        for stream in self._outputs:
            if stream.nms_settings and not stream.is_nms:
                raise HailoRTInvalidOperationException(
                    f"NMS settings on '{stream.name}', which has no NMS on the CPU (HAILO_INVALID_OPERATION)"
                )
            if stream.is_nms and stream._type == FormatType.UINT8:
                raise HailoRTInvalidArgumentException(f"NMS output '{stream.name}' needs FLOAT32 or UINT16")
        configured = ConfiguredInferModel(self)
        self.configured = configured
        self.vdevice.configured.append(configured)
        STATE.configured_models.append(configured)
        return configured


class AsyncInferCompletionInfo:
    def __init__(self, exception: BaseException | None):
        self._exception = exception

    @property
    def exception(self) -> BaseException | None:
        return self._exception


class AsyncInferJob:
    def __init__(self, thread: threading.Thread, outcome: dict[str, BaseException | None]):
        self._thread, self._outcome = thread, outcome

    def wait(self, timeout_ms: int) -> None:
        STATE.record("AsyncInferJob.wait", timeout_ms=timeout_ms)
        self._thread.join(timeout_ms / 1000)
        if self._thread.is_alive():
            raise HailoRTTimeout(f"HAILO_TIMEOUT: async infer job did not finish within {timeout_ms} ms")
        if self._outcome.get("error") is not None:
            raise self._outcome["error"]  # type: ignore[misc]


class ConfiguredInferModel:
    class Bindings:
        class InferStream:
            def __init__(self, stream: InferModel.InferStream):
                self._stream = stream
                self._buffer: np.ndarray | None = None

            def set_buffer(self, buffer: np.ndarray) -> None:
                spec = self._stream
                if not isinstance(buffer, np.ndarray):
                    raise HailoRTInvalidArgumentException(f"buffer for '{spec.name}' must be a numpy array")
                if not buffer.flags.c_contiguous:
                    raise HailoRTException("Buffer must be C_CONTIGUOUS")
                want_shape, want_dtype = tuple(spec.shape), spec.dtype
                if buffer.dtype != want_dtype or tuple(buffer.shape) != want_shape:
                    raise HailoRTInvalidArgumentException(
                        f"buffer for '{spec.name}' is {buffer.dtype}{list(buffer.shape)}; the configured format "
                        f"needs {want_dtype}{list(want_shape)} (HAILO_INVALID_ARGUMENT)"
                    )
                self._buffer = buffer

            def get_buffer(self, tf_format: bool | None = False) -> Any:
                buffer = self._buffer
                if tf_format is None or buffer is None or not self._stream.is_nms:
                    return buffer
                if tf_format:
                    raise NotImplementedError("the double does not produce the TF NMS format")
                nms = self._stream._spec.nms
                assert nms is not None
                return nms_unpack(buffer, nms.number_of_classes)

        def __init__(self, model: InferModel):
            self._inputs = {s.name: self.InferStream(s) for s in model.inputs}
            self._outputs = {s.name: self.InferStream(s) for s in model.outputs}

        @staticmethod
        def _pick(streams: dict[str, Any], name: str, kind: str) -> Any:
            if name == "" and len(streams) == 1:
                return next(iter(streams.values()))
            if name not in streams:
                raise HailoRTNotFoundException(f"no {kind} named {name!r} (have {list(streams)})")
            return streams[name]

        def input(self, name: str = "") -> ConfiguredInferModel.Bindings.InferStream:
            return self._pick(self._inputs, name, "input")

        def output(self, name: str = "") -> ConfiguredInferModel.Bindings.InferStream:
            return self._pick(self._outputs, name, "output")

    def __init__(self, model: InferModel):
        self.model = model
        self.closed = False  # context left or shutdown(): the ConfiguredInferModel is unusable
        self.shut_down = False
        self._credit = 0  # frames announced by wait_for_async_ready and not yet run
        self.jobs: list[AsyncInferJob] = []

    def __enter__(self) -> ConfiguredInferModel:
        return self

    def __exit__(self, *args: Any) -> bool:
        STATE.record("ConfiguredInferModel.__exit__")
        self.closed = True
        return False

    def _check_alive(self) -> None:
        if self.model.vdevice.released:
            raise HailoRTInvalidOperationException("ConfiguredInferModel used after its VDevice was released")
        if self.closed:
            raise HailoRTInvalidOperationException("ConfiguredInferModel used after shutdown() / leaving its context")

    def create_bindings(
        self, input_buffers: dict[str, np.ndarray] | None = None, output_buffers: dict[str, np.ndarray] | None = None
    ) -> ConfiguredInferModel.Bindings:
        STATE.record("ConfiguredInferModel.create_bindings")
        self._check_alive()
        bindings = self.Bindings(self.model)
        for name, buf in (input_buffers or {}).items():
            bindings.input(name).set_buffer(buf)
        for name, buf in (output_buffers or {}).items():
            bindings.output(name).set_buffer(buf)
        return bindings

    def get_async_queue_size(self) -> int:
        self._check_alive()
        return STATE.async_queue_size

    def set_scheduler_priority(self, priority: int) -> None:
        STATE.record("ConfiguredInferModel.set_scheduler_priority", priority=priority)
        self._check_alive()

    def wait_for_async_ready(self, timeout_ms: int = 1000, frames_count: int = 1) -> None:
        STATE.record("ConfiguredInferModel.wait_for_async_ready", timeout_ms=timeout_ms, frames_count=frames_count)
        self._check_alive()
        if frames_count > STATE.async_queue_size or not STATE.async_ready:
            # HailoRT documents a timeout when frames_count exceeds get_async_queue_size().
            raise HailoRTTimeout(f"HAILO_TIMEOUT: not ready for {frames_count} frame(s) within {timeout_ms} ms")
        self._credit = frames_count

    def run_async(
        self, bindings: list[ConfiguredInferModel.Bindings], callback: Callable[..., Any] | None = None
    ) -> AsyncInferJob:
        STATE.record("ConfiguredInferModel.run_async", frames=len(bindings))
        self._check_alive()
        if not isinstance(bindings, list) or not bindings:
            raise HailoRTInvalidArgumentException("run_async needs a non-empty list of bindings")
        if len(bindings) > self._credit:
            raise HailoRTInvalidOperationException(
                f"run_async with {len(bindings)} frame(s) without wait_for_async_ready(frames_count>={len(bindings)})"
            )
        for b in bindings:
            for kind, streams in (("input", b._inputs), ("output", b._outputs)):
                unset = [n for n, s in streams.items() if s._buffer is None]
                if unset:
                    raise HailoRTInvalidOperationException(
                        f"{kind} buffer(s) {unset} not set (HAILO_INVALID_OPERATION)"
                    )
        self._credit -= len(bindings)
        scripts = [STATE.infer_scripts.popleft() if STATE.infer_scripts else {} for _ in bindings]
        failure = STATE.job_failures.popleft() if STATE.job_failures else None
        inputs = [{n: s._buffer.copy() for n, s in b._inputs.items()} for b in bindings]  # type: ignore[union-attr]
        STATE.frames_seen.extend(inputs)
        outcome: dict[str, BaseException | None] = {"error": failure}
        delay = STATE.infer_delay_s

        def work() -> None:
            if delay:
                time.sleep(delay)
            if failure is None:
                try:
                    for b, script, frame in zip(bindings, scripts, inputs, strict=True):
                        values = script(frame) if callable(script) else script
                        for name, stream in b._outputs.items():
                            self._fill(stream, values.get(name))
                except BaseException as exc:  # a bad script: surface it from job.wait
                    outcome["error"] = exc
            if callback is not None:
                callback(completion_info=AsyncInferCompletionInfo(outcome["error"]))

        thread = threading.Thread(target=work, name="hailo-double-job", daemon=True)
        job = AsyncInferJob(thread, outcome)
        self.jobs.append(job)
        thread.start()
        return job

    @staticmethod
    def _fill(stream: ConfiguredInferModel.Bindings.InferStream, value: Any) -> None:
        buf = stream._buffer
        assert buf is not None
        spec = stream._stream._spec
        if spec.nms is not None:
            packed = nms_pack(value if value is not None else [[]] * spec.nms.number_of_classes, spec.nms)
            buf[...] = packed.astype(buf.dtype)
            return
        floats = np.zeros(buf.shape, np.float32) if value is None else np.asarray(value, np.float32).reshape(buf.shape)
        if buf.dtype == np.float32:
            buf[...] = floats
        else:
            buf[...] = _quantize(floats, spec.quant, buf.dtype)

    def run(self, bindings: list[ConfiguredInferModel.Bindings], timeout: int) -> None:
        STATE.record("ConfiguredInferModel.run", frames=len(bindings), timeout=timeout)
        self._credit = max(self._credit, len(bindings))  # the synchronous call waits for readiness itself
        self.run_async(bindings).wait(timeout)

    def shutdown(self) -> None:
        STATE.record("ConfiguredInferModel.shutdown")
        if self.model.vdevice.released:
            raise HailoRTInvalidOperationException("shutdown() after the VDevice was released")
        self.shut_down = True
        self.closed = True
