"""CLIP's BPE tokenizer (clip/tokenizer.py) on the real vocabulary (open-clip-torch's
bpe_simple_vocab_16e6.txt.gz) against token ids published by others: hailo-apps' clip_text_utils
("a photo of a cat"), the Hugging Face CLIPTokenizer tests ("hello world?"), transformers.js' tokenizer
tests ("hello world") and independent CLIP tokenizer ports (the rest)."""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import pytest

from hailo_services.clip.tokenizer import CONTEXT_LENGTH, VOCAB_SIZE, ClipTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from provision import vocab_path


@pytest.fixture(scope="module")
def tok() -> ClipTokenizer:
    return ClipTokenizer.from_file(vocab_path())


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("a photo of a cat", [49406, 320, 1125, 539, 320, 2368, 49407]),
        ("a photo of a dog", [49406, 320, 1125, 539, 320, 1929, 49407]),
        ("hello world", [49406, 3306, 1002, 49407]),
        ("Hello   World", [49406, 3306, 1002, 49407]),
        ("Hello world!", [49406, 3306, 1002, 256, 49407]),
        ("hello world?", [49406, 3306, 1002, 286, 49407]),
        ("Hello World 123", [49406, 3306, 1002, 272, 273, 274, 49407]),
        ("a cat & a dog", [49406, 320, 2368, 261, 320, 1929, 49407]),
        ("sunset over the beach", [49406, 3424, 962, 518, 2117, 49407]),
        ("caf\u00e9", [49406, 15304, 49407]),
        ("cafe\u0301", [49406, 15304, 49407]),  # ftfy composes the accent first
        ("", [49406, 49407]),
    ],
)
def test_known_token_ids(tok: ClipTokenizer, text: str, ids: list[int]):
    enc = tok.encode(text)
    assert list(enc.ids) == ids
    assert enc.eot == len(ids) - 1 and not enc.truncated


def test_vocabulary_and_specials(tok: ClipTokenizer):
    assert len(tok.encoder) == VOCAB_SIZE
    assert (tok.sot, tok.eot) == (49406, 49407)
    assert tok.decode(tok.encode("A photo of a CAT!").ids) == "a photo of a cat !"
    assert tok.decode(tok.encode("日本語のテキスト").ids) == "日本語のテキスト"  # multi-byte pieces survive


def test_long_text_is_cut_at_the_context_with_eot_last(tok: ClipTokenizer):
    enc = tok.encode("word " * 200)
    assert len(enc.ids) == CONTEXT_LENGTH and enc.ids[-1] == 49407 and enc.eot == CONTEXT_LENGTH - 1
    assert enc.truncated
    assert enc.ids[:5] == tok.encode("word word word word").ids[:5]


HOSTILE = ["a" * 1_000_000, "本" * 200_000, " ".join(f"w{i}x" for i in range(200_000)), " " * 10**6]


@pytest.mark.parametrize("text", HOSTILE, ids=["letters", "cjk", "words", "spaces"])
def test_hostile_texts_are_bounded(tok: ClipTokenizer, text: str):
    # One letter run of a million characters would take BPE hours unbounded (quadratic in its length).
    enc = tok.encode(text)
    assert 2 <= len(enc.ids) <= CONTEXT_LENGTH and enc.ids[-1] == 49407


def test_a_vocabulary_file_that_is_not_clips_is_refused(tmp_path: Path):
    bad = tmp_path / "bpe.txt.gz"
    with gzip.open(bad, "wt", encoding="utf-8") as f:
        f.write("#version: 0.2\na b\nc d\n")
    with pytest.raises(ValueError, match="merge"):
        ClipTokenizer.from_file(bad)
