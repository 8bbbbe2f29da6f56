"""hailo-whisper's app: the core model app with OpenAI's audio routes and the Wyoming ASR server."""

from __future__ import annotations

from fastapi import FastAPI

from ..core import model_routes
from ..core.app import create_model_app
from ..core.errors import openai_error
from ..core.wyoming import wyoming_listener
from . import api
from .engine import WhisperEngine, WhisperModelSpec, load_catalog
from .settings import WYOMING_PORT, Settings
from .wyoming_asr import AsrHandler


def engine_factory(kind: str, settings: Settings):
    def make(spec: WhisperModelSpec) -> WhisperEngine:
        if kind == "hailo":
            from .hailo import HailoWhisperEngine

            return HailoWhisperEngine(group_id=settings.hailo.group_id)
        from .cpu import FasterWhisperEngine

        return FasterWhisperEngine(settings.threads, settings.transcription.beam_size)

    return make


def create_app(settings: Settings, *, exit_on_load_failure: bool = False) -> FastAPI:
    return create_model_app(
        settings,
        catalog=load_catalog(),
        engine_factory=engine_factory,
        render_error=openai_error,
        routers=[api.router, model_routes.router],
        listeners=[wyoming_listener(AsrHandler, default_port=WYOMING_PORT)],
        exit_on_load_failure=exit_on_load_failure,
    )
