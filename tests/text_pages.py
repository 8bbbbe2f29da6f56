"""Text pages for tests that read text (hailo-ocr), rendered by Pillow in real fonts: Pillow's own scalable font
(Aileron, embedded in Pillow >= 10.1, so every machine has it) and DejaVu Sans where the system has it.
Each page is white with black text; ``lines`` are drawn top to bottom at ``x``, a line a 1.7 x font size."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def font(size: int, path: Path | None = None) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size) if path else ImageFont.load_default(size=size)  # type: ignore[return-value]


def render(
    lines: Sequence[str],
    size: tuple[int, int] = (800, 300),
    *,
    font_size: int = 32,
    x: int = 30,
    y: int = 24,
    angle: float = 0.0,
    font_path: Path | None = None,
) -> np.ndarray:
    """An RGB page (H x W x 3 uint8) with ``lines``; ``angle`` rotates the page counter-clockwise (degrees)."""
    page = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(page)
    f = font(font_size, font_path)
    for i, line in enumerate(lines):
        draw.text((x, y + i * round(font_size * 1.7)), line, fill="black", font=f)
    if angle:
        page = page.rotate(angle, expand=True, fillcolor="white", resample=Image.Resampling.BICUBIC)
    return np.array(page)


def invoice(font_path: Path | None = None) -> np.ndarray:
    """An invoice-like page: a title, a date, a table of items with prices in a right-hand column, a total."""
    page = Image.new("RGB", (900, 620), "white")
    draw = ImageDraw.Draw(page)
    big, small = font(44, font_path), font(28, font_path)
    draw.text((40, 30), "INVOICE 1042", fill="black", font=big)
    draw.text((560, 44), "Date: 2025-03-14", fill="black", font=small)
    rows = [("Item", "Amount"), ("Widget", "$12.50"), ("Gadget", "$7.25"), ("Cable", "$3.99")]
    for i, (item, amount) in enumerate(rows):
        y = 150 + i * 70
        draw.text((40, y), item, fill="black", font=small)
        draw.text((640, y), amount, fill="black", font=small)
    draw.line((40, 440, 860, 440), fill="black", width=2)
    draw.text((40, 470), "Total", fill="black", font=small)
    draw.text((640, 470), "$23.74", fill="black", font=small)
    return np.array(page)


INVOICE_ROWS = [
    "INVOICE 1042 Date: 2025-03-14",
    "Item Amount",
    "Widget $12.50",
    "Gadget $7.25",
    "Cable $3.99",
    "Total $23.74",
]
