"""hailo-piper's app: the core model app with OpenAI's speech route, the voice list and the Wyoming TTS server."""

from __future__ import annotations

from fastapi import FastAPI

from ..core.app import create_model_app
from ..core.errors import openai_error
from ..core.wyoming import wyoming_listener
from . import api
from .engine import TtsEngine, VoiceSpec, load_catalog
from .settings import WYOMING_PORT, Settings
from .wyoming_tts import TtsHandler


def engine_factory(kind: str, settings: Settings):
    # Piper has no NPU build: the "hailo" engine of this service is the CPU one (services.yaml: npu: false).
    def make(spec: VoiceSpec) -> TtsEngine:
        from .cpu import PiperEngine

        return PiperEngine(settings.threads)

    return make


def create_app(settings: Settings, *, exit_on_load_failure: bool = False) -> FastAPI:
    return create_model_app(
        settings,
        catalog=load_catalog(),
        engine_factory=engine_factory,
        render_error=openai_error,
        routers=[api.router],
        listeners=[wyoming_listener(TtsHandler, default_port=WYOMING_PORT)],
        exit_on_load_failure=exit_on_load_failure,
    )
