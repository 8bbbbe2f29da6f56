"""CLIP's byte-level BPE tokenizer, the one both engines use (the HEF's text side and the ONNX text encoder).

It follows OpenAI CLIP's ``simple_tokenizer``: the vocabulary is built from ``bpe_simple_vocab_16e6.txt.gz``
(256 byte symbols, the same with ``</w>``, 48 894 merges, ``<|startoftext|>`` 49406 and ``<|endoftext|>``
49407: 49 408 ids); text is cleaned (ftfy, HTML entities twice, whitespace collapsed) and lower-cased, split
with CLIP's pattern (``'s``, ``'t``..., runs of letters, single digits, runs of other symbols), each piece
byte-encoded and merged by rank. A text becomes ``[SOT] + tokens + [EOT]``, cut at the context (77) with
the last kept token replaced by EOT, as ``clip.tokenize(truncate=True)`` does, so the text feature is
always read at an EOT position.

Bounds that no natural text reaches, so a hostile body cannot make tokenising slow (BPE is quadratic
in a piece's length): only the first :data:`MAX_TEXT_CHARS` characters (after collapsing whitespace)
are tokenised, pieces longer than :data:`MAX_PIECE_UNITS` byte symbols are merged in chunks of that
length, and tokenising stops once the context is full.
"""

from __future__ import annotations

import gzip
import html
import itertools
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import ftfy
import regex

SOT = "<|startoftext|>"
EOT = "<|endoftext|>"
CONTEXT_LENGTH = 77
VOCAB_SIZE = 49408
NUM_MERGES = 49152 - 256 - 2  # the vocabulary file's merges CLIP uses (the file has more lines)
MAX_TEXT_CHARS = 8192
MAX_PIECE_UNITS = 1024
_CACHE_MAX = 20_000

_PATTERN = regex.compile(
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
    regex.IGNORECASE,
)
_SPACES = re.compile(r"\s+")


@cache
def byte_symbols() -> tuple[str, ...]:
    """The printable stand-in of each byte 0..255 (GPT-2's table: printable Latin-1 bytes stand for
    themselves, the others are mapped above U+0100 in byte order)."""
    kept = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table: dict[int, str] = {b: chr(b) for b in kept}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return tuple(table[b] for b in range(256))


def _order() -> list[int]:
    # The vocabulary lists the byte symbols in the table's construction order (kept bytes first).
    kept = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    return kept + [b for b in range(256) if b not in set(kept)]


def clean(text: str) -> str:
    """CLIP's text cleaning: whitespace collapsed, cut at MAX_TEXT_CHARS, ftfy, HTML entities, lower case."""
    text = _SPACES.sub(" ", text).strip()[:MAX_TEXT_CHARS]
    text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
    return _SPACES.sub(" ", text).strip().lower()


@dataclass(frozen=True)
class Encoded:
    """One text's ids: ``[SOT, ..., EOT]`` of at most the context length; ``eot`` is the EOT position."""

    ids: tuple[int, ...]
    eot: int
    truncated: bool


class ClipTokenizer:
    def __init__(self, merges: list[tuple[str, str]]):
        if len(merges) != NUM_MERGES:
            raise ValueError(f"CLIP's BPE needs {NUM_MERGES} merges, the vocabulary file has {len(merges)}")
        symbols = byte_symbols()
        base = [symbols[b] for b in _order()]
        vocab = [*base, *(s + "</w>" for s in base), *("".join(m) for m in merges), SOT, EOT]
        self.encoder: dict[str, int] = {token: i for i, token in enumerate(vocab)}
        if len(self.encoder) != VOCAB_SIZE:
            raise ValueError(f"the vocabulary has {len(self.encoder)} distinct tokens, expected {VOCAB_SIZE}")
        self.decoder = {i: token for token, i in self.encoder.items()}
        self.ranks: dict[tuple[str, str], int] = {m: i for i, m in enumerate(merges)}
        self.sot = self.encoder[SOT]
        self.eot = self.encoder[EOT]
        self._symbols = symbols
        self._cache: dict[str, tuple[int, ...]] = {}

    @classmethod
    def from_file(cls, path: str | Path) -> ClipTokenizer:
        """``bpe_simple_vocab_16e6.txt.gz``: a version line, then one merge ("a b") per line."""
        with gzip.open(path, "rt", encoding="utf-8") as f:
            lines = f.read().split("\n")
        merges = []
        for line in lines[1 : NUM_MERGES + 1]:
            parts = line.split()
            if len(parts) != 2:
                raise ValueError(f"{Path(path).name}: {line!r} is not a BPE merge")
            merges.append((parts[0], parts[1]))
        return cls(merges)

    # -- BPE -----------------------------------------------------------------------------------

    def _merge(self, units: list[str]) -> list[str]:
        """Merge the lowest-ranked adjacent pair everywhere (left to right), until no pair has a rank."""
        ranks = self.ranks
        while len(units) > 1:
            best, best_rank = None, None
            for pair in itertools.pairwise(units):
                rank = ranks.get(pair)
                if rank is not None and (best_rank is None or rank < best_rank):
                    best, best_rank = pair, rank
            if best is None:
                break
            first, second = best
            merged: list[str] = []
            i = 0
            while i < len(units):
                if i + 1 < len(units) and units[i] == first and units[i + 1] == second:
                    merged.append(first + second)
                    i += 2
                else:
                    merged.append(units[i])
                    i += 1
            units = merged
        return units

    def _piece_ids(self, piece: str) -> tuple[int, ...]:
        if piece in (SOT, EOT):
            return (self.encoder[piece],)
        cached = self._cache.get(piece)
        if cached is not None:
            return cached
        units = [self._symbols[b] for b in piece.encode("utf-8")]
        ids: list[int] = []
        for start in range(0, len(units), MAX_PIECE_UNITS):
            chunk = units[start : start + MAX_PIECE_UNITS]
            if start + MAX_PIECE_UNITS >= len(units):
                chunk[-1] += "</w>"  # the word's end
            ids.extend(self.encoder[t] for t in self._merge(chunk))
        out = tuple(ids)
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[piece] = out
        return out

    # -- texts ---------------------------------------------------------------------------------

    def tokens(self, text: str, limit: int | None = None) -> list[int]:
        """The BPE ids of ``text`` without SOT/EOT; with ``limit``, stops once it has more than that many."""
        out: list[int] = []
        for match in _PATTERN.finditer(clean(text)):
            out.extend(self._piece_ids(match.group()))
            if limit is not None and len(out) > limit:
                break
        return out

    def encode(self, text: str, context_length: int = CONTEXT_LENGTH) -> Encoded:
        if context_length < 2:
            raise ValueError("the context must hold at least SOT and EOT")
        body = self.tokens(text, limit=context_length - 2)
        truncated = len(body) > context_length - 2
        ids = (self.sot, *body[: context_length - 2], self.eot)
        return Encoded(ids=ids, eot=len(ids) - 1, truncated=truncated)

    def decode(self, ids: list[int] | tuple[int, ...]) -> str:
        """Text back from ids (SOT/EOT dropped): for logs and tests."""
        symbols = {s: b for b, s in enumerate(self._symbols)}
        text = "".join(self.decoder[i] for i in ids if i not in (self.sot, self.eot)).replace("</w>", " ")
        # A plain space is no byte symbol (byte 32 has a stand-in), so it can only be a word end here.
        data = bytes(32 if c == " " else symbols[c] for c in text)
        return " ".join(data.decode("utf-8", "replace").split())
