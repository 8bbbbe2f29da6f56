"""hailo-piper's engine: piper-tts (a VITS voice as ONNX through onnxruntime; espeak-ng's phonemizer data
comes in the piper-tts wheel), imported when a voice loads. ``PiperVoice.synthesize`` yields one chunk
per sentence, which is the streaming unit here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..core.models import EngineError
from .engine import EmitAudio, SpeechOptions, SpeechResult, TtsEngine, VoiceSpec


class PiperEngine(TtsEngine):
    kind = "cpu"

    def __init__(self, threads: int | None = None):
        self._threads = threads
        self._model: Any = None
        self._spec: VoiceSpec | None = None

    def load(self, spec: VoiceSpec, paths: list[Path]) -> None:
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig

        self.unload()
        onnx_path = next((p for p in paths if p.name.endswith(".onnx")), None)
        config_path = next((p for p in paths if p.name.endswith(".onnx.json")), None)
        if onnx_path is None or config_path is None:
            raise ValueError(f"voice '{spec.name}' needs a .onnx and a .onnx.json file, got {[p.name for p in paths]}")
        try:
            config = PiperConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{config_path.name} is not a Piper voice config: {exc}") from None
        options = onnxruntime.SessionOptions()
        if self._threads:
            options.intra_op_num_threads = self._threads
            options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(str(onnx_path), sess_options=options, providers=["CPUExecutionProvider"])
        self._model = PiperVoice(config=config, session=session)
        self._spec = spec

    @property
    def sample_rate(self) -> int:
        model, _ = self.held()
        return int(model.config.sample_rate)

    def speaker_names(self) -> list[str]:
        model, _ = self.held()
        return sorted(model.config.speaker_id_map, key=model.config.speaker_id_map.get)

    def speak(self, text: str, options: SpeechOptions, emit: EmitAudio) -> SpeechResult:
        from piper import SynthesisConfig

        model, _ = self.held()
        cfg = model.config
        syn = SynthesisConfig(
            speaker_id=options.speaker_id,
            length_scale=cfg.length_scale / options.speed,
            noise_scale=options.noise_scale,
            noise_w_scale=options.noise_w_scale,
        )
        result = SpeechResult(sample_rate=int(cfg.sample_rate))
        try:
            for chunk in model.synthesize(text, syn):
                audio = np.asarray(chunk.audio_float_array, dtype=np.float32)
                result.samples += audio.size
                result.sentences += 1
                if emit(audio):
                    break  # the client left: no more sentences
        except (RuntimeError, ValueError) as exc:  # onnxruntime's and the phonemizer's errors
            raise EngineError(f"piper: {exc}") from None
        return result
