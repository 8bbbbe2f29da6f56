"""What both Whisper engines share: the request's options checked against the model, silence answered
without the model, long audio cut into the model's windows (Hailo), segment times put back in place,
and Whisper's language names (OpenAI's verbose_json says "english", not "en")."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import numpy as np

from ..core.audio import is_silent
from ..core.models import UnsupportedRequest
from .engine import SAMPLE_RATE, EmitSegment, Segment, TranscribeOptions, Transcription, WhisperEngine, WhisperModelSpec

# Whisper's 99 languages (openai/whisper tokenizer.py LANGUAGES), ISO 639-1 -> the name OpenAI reports.
LANGUAGES: dict[str, str] = {
    "en": "english", "zh": "chinese", "de": "german", "es": "spanish", "ru": "russian", "ko": "korean",
    "fr": "french", "ja": "japanese", "pt": "portuguese", "tr": "turkish", "pl": "polish", "ca": "catalan",
    "nl": "dutch", "ar": "arabic", "sv": "swedish", "it": "italian", "id": "indonesian", "hi": "hindi",
    "fi": "finnish", "vi": "vietnamese", "he": "hebrew", "uk": "ukrainian", "el": "greek", "ms": "malay",
    "cs": "czech", "ro": "romanian", "da": "danish", "hu": "hungarian", "ta": "tamil", "no": "norwegian",
    "th": "thai", "ur": "urdu", "hr": "croatian", "bg": "bulgarian", "lt": "lithuanian", "la": "latin",
    "mi": "maori", "ml": "malayalam", "cy": "welsh", "sk": "slovak", "te": "telugu", "fa": "persian",
    "lv": "latvian", "bn": "bengali", "sr": "serbian", "az": "azerbaijani", "sl": "slovenian", "kn": "kannada",
    "et": "estonian", "mk": "macedonian", "br": "breton", "eu": "basque", "is": "icelandic", "hy": "armenian",
    "ne": "nepali", "mn": "mongolian", "bs": "bosnian", "kk": "kazakh", "sq": "albanian", "sw": "swahili",
    "gl": "galician", "mr": "marathi", "pa": "punjabi", "si": "sinhala", "km": "khmer", "sn": "shona",
    "yo": "yoruba", "so": "somali", "af": "afrikaans", "oc": "occitan", "ka": "georgian", "be": "belarusian",
    "tg": "tajik", "sd": "sindhi", "gu": "gujarati", "am": "amharic", "yi": "yiddish", "lo": "lao",
    "uz": "uzbek", "fo": "faroese", "ht": "haitian creole", "ps": "pashto", "tk": "turkmen", "nn": "nynorsk",
    "mt": "maltese", "sa": "sanskrit", "lb": "luxembourgish", "my": "myanmar", "bo": "tibetan",
    "tl": "tagalog", "mg": "malagasy", "as": "assamese", "tt": "tatar", "haw": "hawaiian", "ln": "lingala",
    "ha": "hausa", "ba": "bashkir", "jw": "javanese", "su": "sundanese", "yue": "cantonese",
}  # fmt: skip
_BY_NAME = {name: code for code, name in LANGUAGES.items()}


def language_code(value: str | None) -> str | None:
    """An ISO 639-1 code from what clients send: "en", "EN", "en-US", "english"; None for none/auto."""
    if value is None:
        return None
    text = value.strip().lower()
    if text in ("", "auto", "detect"):
        return None
    if text in LANGUAGES:
        return text
    if text in _BY_NAME:
        return _BY_NAME[text]
    base = text.replace("_", "-").split("-", 1)[0]
    if base in LANGUAGES:
        return base
    raise UnsupportedRequest(f"unknown language {value!r}; use an ISO 639-1 code such as 'en' or 'de'")


def language_name(code: str | None) -> str:
    return LANGUAGES.get(code or "", code or "unknown")


def check_options(spec: WhisperModelSpec, options: TranscribeOptions) -> TranscribeOptions:
    """The options this model can honour, or UnsupportedRequest (a 400) saying why not."""
    language = language_code(options.language)
    if spec.english_only:
        if language not in (None, "en"):
            raise UnsupportedRequest(
                f"model '{spec.name}' is English-only and cannot take {language_name(language)} audio; "
                "use a multilingual model (base, small)"
            )
        # English-only models translate by transcribing: their output is English already.
        return replace(options, language="en", task="transcribe")
    if language is not None and spec.languages and language not in spec.languages:
        raise UnsupportedRequest(f"model '{spec.name}' does not know {language_name(language)} ({language})")
    return replace(options, language=language)


def windows(audio: np.ndarray, window_s: float, rate: int = SAMPLE_RATE) -> Iterator[tuple[float, np.ndarray]]:
    """(offset in seconds, samples) pieces of at most ``window_s``. Each cut falls at the quietest
    100 ms of the window's last fifth, so a word is rarely split between two windows."""
    size = int(window_s * rate)
    start = 0
    total = audio.shape[0]
    hop = rate // 10
    while start < total:
        end = min(start + size, total)
        if end < total:
            tail = audio[start + size * 4 // 5 : end]
            if tail.size >= 2 * hop:
                frames = tail[: tail.size // hop * hop].reshape(-1, hop)
                quietest = int(np.argmin(np.abs(frames).mean(axis=1)))
                end = start + size * 4 // 5 + quietest * hop + hop // 2
        yield start / rate, audio[start:end]
        start = end


def shifted(segment: Segment, offset: float, index: int) -> Segment:
    """A window's segment with times from the start of the whole audio."""
    words = tuple(replace(w, start=w.start + offset, end=w.end + offset) for w in segment.words)
    return replace(segment, id=index, start=segment.start + offset, end=segment.end + offset, words=words)


def transcribe(
    engine: WhisperEngine, audio: np.ndarray, options: TranscribeOptions, emit: EmitSegment | None = None
) -> Transcription:
    """One transcription on either engine: options checked against the loaded model; silent audio
    answered with no segments (Whisper hallucinates "Thank you." into silence) without running it."""
    _, spec = engine.held()
    options = check_options(spec, options)
    duration = audio.shape[0] / SAMPLE_RATE
    if is_silent(audio):
        return Transcription(language=options.language or "en", duration=duration, segments=[])
    result = engine.transcribe(audio, options, emit)
    result.duration = duration
    return result
