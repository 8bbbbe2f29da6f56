"""Contract tests of HailoVLMEngine against the HailoRT test double's ``genai.VLM``
(tests/hailo/hailo_platform_double.py), which enforces what HailoRT documents for it: ``frames`` on
every generate (``[]`` for text), one ``{"type": "image"}`` placeholder per frame, uint8 frames of
``input_frame_shape()``, image tokens in the context."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from hailo_services.ollama.engine import Sampling
from hailo_services.vision.catalog import catalog
from hailo_services.vision.hailo import HailoVLMEngine

HEF = Path("/models/Qwen2-VL-2B-Instruct.hef")
SPEC = catalog().get("qwen2-vl:2b")


def picture(h: int, w: int, colour: tuple[int, int, int]) -> np.ndarray:
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = colour
    img[: h // 4, : w // 4] = (255, 255, 255)  # a white top-left corner: shows orientation survives
    return img


class Sink:
    def __init__(self) -> None:
        self.chunks: list[str] = []

    def __call__(self, text: str) -> bool:
        self.chunks.append(text)
        return False

    @property
    def text(self) -> str:
        return "".join(self.chunks)


@pytest.fixture
def state(hailo_double: ModuleType) -> Any:
    return hailo_double.STATE


@pytest.fixture
def engine(hailo_double: ModuleType) -> Any:
    eng = HailoVLMEngine()
    eng.load(SPEC, [HEF], num_ctx=2048)
    yield eng
    eng.unload()


def chat(engine: HailoVLMEngine, messages: list[dict[str, Any]], **sampling: Any) -> tuple[Any, Sink]:
    sink = Sink()
    return engine.chat(messages, Sampling(**sampling), sink), sink


def vlm_calls(state: Any) -> list[dict[str, Any]]:
    return state.calls_of("VLM.generate")


def test_load_opens_a_vlm_on_the_shared_vdevice(engine: HailoVLMEngine, state: Any) -> None:
    assert state.calls_of("VLM")[0]["model_path"] == str(HEF)
    assert not state.calls_of("LLM") or state.calls_of("LLM")[0]["model_path"] == str(HEF)
    assert state.vdevices and not state.vdevices[0].released


def test_an_image_is_one_placeholder_and_one_rgb_frame_of_the_hefs_size(engine: HailoVLMEngine, state: Any) -> None:
    state.script(["A", " red", " square", "<|im_end|>"])
    img = picture(480, 640, (200, 30, 30))
    stats, sink = chat(engine, [{"role": "user", "content": "What is it?", "images": [img]}])
    call = vlm_calls(state)[-1]
    assert call["prompt"] == [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is it?"}]}]
    (frame,) = call["frames"]
    assert frame.shape == (336, 336, 3) and frame.dtype == np.uint8
    # RGB stays RGB (the seed swapped R and B), and the whole picture is kept (top-left stays white).
    assert tuple(frame[200, 300]) == (200, 30, 30) and tuple(frame[10, 10]) == (255, 255, 255)
    assert sink.text == "A red square" and stats.finish_reason == "stop"
    assert stats.prompt_tokens >= 144  # the frame's tokens are counted


def test_text_only_turns_send_no_frames(engine: HailoVLMEngine, state: Any) -> None:
    state.script(["Hi", "<|im_end|>"])
    chat(engine, [{"role": "user", "content": "Hello"}])
    assert vlm_calls(state)[-1]["frames"] == []


def test_several_images_in_order(engine: HailoVLMEngine, state: Any) -> None:
    state.script(["Two", "<|im_end|>"])
    a, b = picture(100, 100, (255, 0, 0)), picture(100, 100, (0, 0, 255))
    chat(engine, [{"role": "user", "content": "Compare", "images": [a, b]}])
    call = vlm_calls(state)[-1]
    assert [p["type"] for p in call["prompt"][0]["content"]] == ["image", "image", "text"]
    assert [tuple(f[200, 200]) for f in call["frames"]] == [(255, 0, 0), (0, 0, 255)]


def test_a_follow_up_about_the_same_picture_reuses_the_context(engine: HailoVLMEngine, state: Any) -> None:
    img = picture(336, 336, (0, 128, 0))
    first = [{"role": "user", "content": "What colour?", "images": [img]}]
    state.script(["Green", "<|im_end|>"], ["Yes", "<|im_end|>"])
    chat(engine, first)
    follow = [*first, {"role": "assistant", "content": "Green"}, {"role": "user", "content": "Sure?"}]
    stats, sink = chat(engine, follow)
    call = vlm_calls(state)[-1]
    assert call["prompt"] == [{"role": "user", "content": "Sure?"}] and call["frames"] == []
    assert stats.cached_tokens > 144 and sink.text == "Yes"


def test_the_same_text_with_another_picture_starts_afresh(engine: HailoVLMEngine, state: Any) -> None:
    state.script(["Green", "<|im_end|>"], ["Blue", "<|im_end|>"])
    chat(engine, [{"role": "user", "content": "What colour?", "images": [picture(50, 50, (0, 128, 0))]}])
    other = [
        {"role": "user", "content": "What colour?", "images": [picture(50, 50, (0, 0, 200))]},
        {"role": "assistant", "content": "Green"},
        {"role": "user", "content": "Sure?"},
    ]
    chat(engine, other)
    call = vlm_calls(state)[-1]
    assert len(call["prompt"]) == 3 and len(call["frames"]) == 1  # the whole chat, its picture again
    assert state.calls_of("LLM.generate")[-1]["fresh"]


def test_too_many_images_for_the_context_are_refused_before_hailort(engine: HailoVLMEngine, state: Any) -> None:
    from hailo_services.ollama.engine import UnsupportedRequest

    imgs = [picture(64, 64, (i, i, i)) for i in range(15)]  # 15 * 144 tokens > 2048
    with pytest.raises(UnsupportedRequest, match="2048"):
        chat(engine, [{"role": "user", "content": "All of them", "images": imgs}], truncate=False)
    assert vlm_calls(state) == []


def test_the_double_refuses_what_hailort_refuses(hailo_double: ModuleType) -> None:
    vd = hailo_double.VDevice()
    vlm = hailo_double.VLM(vd, str(HEF))
    user = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "hi"}]}]
    with pytest.raises(hailo_double.HailoRTInvalidArgumentException, match="placeholders"):
        vlm.generate(user, frames=[])
    with pytest.raises(hailo_double.HailoRTInvalidArgumentException, match="uint8"):
        vlm.generate(user, frames=[np.zeros((224, 224, 3), np.uint8)])
    with pytest.raises(TypeError):
        vlm.generate(user)  # frames is required
    vlm.release()
    vd.release()
