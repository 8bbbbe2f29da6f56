"""hailo-ocr's pipeline, written once for both engines (PaddleOCR's PP-OCR system, docs/hailo-models.md):

1. **Detection input**: the CPU engine scales the image so its longer side is at most ``det_max_side``
   and both sides are multiples of 32 (the DB network's stride), a stretch; the HEF has a fixed input,
   so the Hailo engine letterboxes into it (core/geometry.py). Either mapping takes points back.
2. **DB post-processing** (Differentiable Binarization, Liao et al. 2020, as PaddleOCR's
   ``DBPostProcess``): binarise the probability map at ``det_threshold``, dilate 2x2, take each
   contour's minimum-area rectangle, score it by the mean probability inside (kept from
   ``min_confidence``), then *unclip*: DB's maps shrink each text region by
   ``d = area x unclip_ratio / perimeter``, so the box grows by ``d`` on every side. The offset of a
   rectangle is a rounded rectangle whose minimum-area rectangle is the rectangle grown by ``d`` on
   each side, so no polygon clipper is needed.
3. **Reading order**: boxes into rows (centres within half a box height), rows top to bottom, boxes
   left to right.
4. **Recognition input**: each box is warped to an upright crop (perspective transform, so rotated
   lines come out level), resized to the recogniser's height keeping its aspect ratio; the CPU engine
   pads a batch to its widest crop, the HEF takes fixed 48x320 frames (hailo-apps' padding).
5. **CTC greedy decoding**: arg-max per time step, repeats merged, blanks (index 0) dropped; a line's
   score is the mean probability of its kept characters.

No model runtime is imported here: the engines hand in their networks' outputs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .engine import OcrParams, OcrResult, TextLine

if TYPE_CHECKING:
    from ..core.geometry import Letterbox, Stretch

    Mapping = Letterbox | Stretch

# PaddleOCR's ppocr/utils/en_dict.txt, in its order: '0'..'~' (ASCII 48-126), then '!'..'/' (33-47),
# then a space. hailo-apps decodes ocr.hef (97 classes) with blank + these + an appended space.
EN_DICT: tuple[str, ...] = (*(chr(c) for c in range(48, 127)), *(chr(c) for c in range(33, 48)), " ")

MIN_BOX_SIDE = 3.0  # DBPostProcess.min_size: a contour rectangle thinner than this is noise
MAX_CANDIDATES = 1000  # DBPostProcess.max_candidates
ROW_TOLERANCE = 0.5  # boxes share a row when their centres differ by less than this x the smaller height


def _cv2():
    import cv2

    return cv2


def make_charset(characters: Sequence[str]) -> tuple[str, ...]:
    """The decoder's table: the CTC blank (index 0, as ""), the dictionary, then a space (PaddleOCR's
    ``use_space_char``)."""
    return ("", *characters, " ")


def charset_from_metadata(value: str) -> tuple[str, ...]:
    """The table from a PaddleOCR rec ONNX's ``character`` metadata (one character per line)."""
    chars = value.split("\n")
    if chars and chars[-1] == "":
        chars = chars[:-1]
    if not chars:
        raise ValueError("the recogniser's character metadata is empty")
    return make_charset(chars)


# -- 1. detection input -------------------------------------------------------------------------------


def det_resize(image: np.ndarray, max_side: int) -> tuple[np.ndarray, Stretch]:
    """Scale so the longer side is at most ``max_side`` (never up), each side rounded to a multiple of
    32 (at least 32): PaddleOCR's ``limit_type: max`` resize."""
    from ..core.geometry import Stretch

    h, w = image.shape[:2]
    ratio = min(1.0, max_side / max(h, w))
    new_h = max(32, round(h * ratio / 32) * 32)
    new_w = max(32, round(w * ratio / 32) * 32)
    out = image if (new_h, new_w) == (h, w) else _cv2().resize(image, (new_w, new_h))
    return out, Stretch(scale_x=new_w / w, scale_y=new_h / h, src_w=w, src_h=h)


def normalise_nchw(image: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 -> [1, 3, H, W] float32 in [-1, 1] (PaddleOCR's mean = std = 0.5)."""
    x = image.astype(np.float32) * np.float32(2 / 255) - np.float32(1)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def probability_map(output: np.ndarray) -> np.ndarray:
    """The detector's output as an (H, W) float32 map: [1, 1, H, W] from the ONNX, (H, W, 1) from the HEF."""
    prob = np.asarray(output, dtype=np.float32)
    prob = prob.reshape([d for d in prob.shape if d != 1] or [1, 1]) if prob.ndim > 2 else prob
    if prob.ndim != 2:
        raise ValueError(f"expected a one-channel probability map, got shape {tuple(np.shape(output))}")
    return prob


# -- 2. DB post-processing ----------------------------------------------------------------------------


def order_box(points: np.ndarray) -> np.ndarray:
    """A rectangle's 4 corners as (4, 2) float32 clockwise from the top-left *of the text*.

    The text runs along the long side when the box is clearly elongated (ratio >= 1.5, what PaddleOCR
    uses to spot vertical crops), else along the side closest to horizontal; it reads left to right
    (rightwards component positive; straight up for a vertical line).
    """
    pts = np.asarray(points, dtype=np.float32).reshape(4, 2)
    centre = pts.mean(axis=0)
    e1, e2 = pts[1] - pts[0], pts[2] - pts[1]
    l1, l2 = float(np.hypot(*e1)), float(np.hypot(*e2))
    if max(l1, l2) >= 1.5 * max(min(l1, l2), 1e-6):
        u = e1 if l1 >= l2 else e2
    else:
        u = e1 if abs(e1[0]) * l2 >= abs(e2[0]) * l1 else e2  # the edge with the smaller angle to x
    u = u / max(float(np.hypot(*u)), 1e-6)
    if u[0] < -1e-6 or (abs(u[0]) <= 1e-6 and u[1] > 0):
        u = -u
    v = np.array([-u[1], u[0]], dtype=np.float32)  # u turned clockwise on screen (y down): "down the page"
    rel = pts - centre
    s, t = rel @ u, rel @ v
    out = np.empty((4, 2), np.float32)
    for i, (sign_s, sign_t) in enumerate(((-1, -1), (1, -1), (1, 1), (-1, 1))):  # tl, tr, br, bl
        out[i] = pts[int(np.argmax(sign_s * s + sign_t * t))]
    return out


def box_score(prob: np.ndarray, box: np.ndarray) -> float:
    """Mean probability inside the polygon ``box`` (PaddleOCR's ``box_score_fast``)."""
    cv2 = _cv2()
    h, w = prob.shape
    x0 = int(np.clip(np.floor(box[:, 0].min()), 0, w - 1))
    x1 = int(np.clip(np.ceil(box[:, 0].max()), 0, w - 1))
    y0 = int(np.clip(np.floor(box[:, 1].min()), 0, h - 1))
    y1 = int(np.clip(np.ceil(box[:, 1].max()), 0, h - 1))
    mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), dtype=np.uint8)
    shifted = (box - np.array([x0, y0], np.float32)).round().astype(np.int32)
    cv2.fillPoly(mask, shifted.reshape(1, -1, 2), 1)
    return float(cv2.mean(prob[y0 : y1 + 1, x0 : x1 + 1], mask)[0])


def unclip(rect: tuple, ratio: float) -> tuple:
    """Grow an OpenCV rotated rectangle ``((cx, cy), (w, h), angle)`` by DB's unclip distance on each side."""
    (cx, cy), (w, h), angle = rect
    d = (w * h * ratio) / (2 * (w + h)) if w + h > 0 else 0.0
    return ((cx, cy), (w + 2 * d, h + 2 * d), angle)


@dataclass(frozen=True)
class DetectedBox:
    box: np.ndarray  # (4, 2) float32 in probability-map pixels, ordered as order_box
    score: float


def db_boxes(
    prob: np.ndarray,
    det_threshold: float = 0.3,
    min_confidence: float = 0.5,
    unclip_ratio: float = 1.6,
    max_candidates: int = MAX_CANDIDATES,
) -> list[DetectedBox]:
    """Text boxes in a DB probability map (H, W), in map pixels (see the module doc, step 2)."""
    cv2 = _cv2()
    prob = np.asarray(prob, dtype=np.float32)
    bitmap = (prob > det_threshold).astype(np.uint8)
    bitmap = cv2.dilate(bitmap, np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(bitmap * 255, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    h, w = prob.shape
    out = []
    for contour in contours[:max_candidates]:
        rect = cv2.minAreaRect(contour)
        if min(rect[1]) < MIN_BOX_SIDE:
            continue
        score = box_score(prob, cv2.boxPoints(rect))
        if score < min_confidence:
            continue
        grown = unclip(rect, unclip_ratio)
        if min(grown[1]) < MIN_BOX_SIDE + 2:
            continue
        box = order_box(cv2.boxPoints(grown))
        box[:, 0] = box[:, 0].clip(0, w)
        box[:, 1] = box[:, 1].clip(0, h)
        out.append(DetectedBox(box, score))
    return out


def boxes_to_source(boxes: Sequence[DetectedBox], mapping: Mapping, width: int, height: int) -> list[DetectedBox]:
    """Boxes from probability-map pixels (= the network input's) to source pixels, clipped to the image."""
    out = []
    for b in boxes:
        pts = np.asarray(mapping.points_to_source(b.box), np.float32)
        pts[:, 0] = pts[:, 0].clip(0, width)
        pts[:, 1] = pts[:, 1].clip(0, height)
        out.append(DetectedBox(pts, b.score))
    return out


# -- 3. reading order ---------------------------------------------------------------------------------


def box_height(box: np.ndarray) -> float:
    return float(max(np.hypot(*(box[3] - box[0])), np.hypot(*(box[2] - box[1]))))


def reading_order(boxes: Sequence[np.ndarray]) -> list[list[int]]:
    """Indices of ``boxes`` (each (4, 2), ordered) in rows, top to bottom, each row left to right."""
    if not boxes:
        return []
    centres = np.array([b[:, 1].mean() for b in boxes])
    heights = np.array([max(box_height(b), 1.0) for b in boxes])
    rows: list[list[int]] = []
    row_y: list[float] = []
    row_h: list[float] = []
    for i in np.argsort(centres, kind="stable").tolist():
        if rows and abs(centres[i] - row_y[-1]) < ROW_TOLERANCE * min(heights[i], row_h[-1]):
            rows[-1].append(i)
            n = len(rows[-1])
            row_y[-1] += (centres[i] - row_y[-1]) / n
            row_h[-1] = max(row_h[-1], heights[i])
        else:
            rows.append([i])
            row_y.append(float(centres[i]))
            row_h.append(float(heights[i]))
    return [sorted(row, key=lambda i: float(boxes[i][0, 0])) for row in rows]


# -- 4. recognition input -----------------------------------------------------------------------------


def crop_line(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The text under ``box`` (tl, tr, br, bl) warped to an upright crop (PaddleOCR's get_rotate_crop_image)."""
    cv2 = _cv2()
    pts = np.asarray(box, np.float32)
    w = max(1, round(max(np.hypot(*(pts[1] - pts[0])), np.hypot(*(pts[2] - pts[3])))))
    h = max(1, round(max(np.hypot(*(pts[3] - pts[0])), np.hypot(*(pts[2] - pts[1])))))
    dst = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    matrix = cv2.getPerspectiveTransform(pts, dst)
    return cv2.warpPerspective(image, matrix, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def rec_batches(
    crops: Sequence[np.ndarray], height: int = 48, min_width: int = 320, batch: int = 8
) -> Iterator[tuple[list[int], np.ndarray]]:
    """CPU recognition batches: (indices into ``crops``, [n, 3, height, W] float32 in [-1, 1]).

    Crops are sorted by aspect ratio so a batch holds similar widths; each is resized to ``height``
    keeping its ratio and left-aligned, the rest of the batch's width zero (grey after normalising),
    as PaddleOCR's ``resize_norm_img``.
    """
    cv2 = _cv2()
    ratios = [c.shape[1] / max(c.shape[0], 1) for c in crops]
    order = np.argsort(np.array(ratios), kind="stable").tolist()
    for start in range(0, len(order), batch):
        idx = order[start : start + batch]
        width = max(min_width, math.ceil(height * max(ratios[i] for i in idx)))
        out = np.zeros((len(idx), 3, height, width), np.float32)
        for j, i in enumerate(idx):
            w = min(width, max(1, math.ceil(height * ratios[i])))
            resized = cv2.resize(crops[i], (w, height))
            out[j, :, :, :w] = normalise_nchw(resized)[0]
        yield idx, out


def rec_frame(crop: np.ndarray, size: tuple[int, int] = (48, 320), pad_value: int = 128) -> np.ndarray:
    """One fixed-size uint8 HWC frame for the HEF: resized to fit ``size`` = (height, width) keeping the
    aspect ratio, centred on ``pad_value`` grey (hailo-apps' ``resize_with_padding``)."""
    cv2 = _cv2()
    th, tw = size
    h, w = crop.shape[:2]
    scale = min(tw / w, th / h)
    nw, nh = max(1, int(w * scale)), max(1, int(h * scale))
    out = np.full((th, tw, 3), pad_value, np.uint8)
    top, left = (th - nh) // 2, (tw - nw) // 2
    out[top : top + nh, left : left + nw] = cv2.resize(crop, (nw, nh), interpolation=cv2.INTER_CUBIC)
    return out


# -- 5. CTC decoding ----------------------------------------------------------------------------------


def _as_probabilities(x: np.ndarray) -> np.ndarray:
    """The recogniser's (B, T, C) output as probabilities: PaddleOCR's graphs end in a softmax; an output
    cut before it (logits) gets one here. The first time steps tell which it is: a full pass over
    (B, T, 18 710) scores would cost more than the decoding."""
    probe = x[:, :2]
    if probe.size and probe.min() >= -1e-3 and probe.max() <= 1 + 1e-3 and np.allclose(probe.sum(-1), 1, atol=0.05):
        return x
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def ctc_greedy(output: np.ndarray, charset: Sequence[str]) -> list[tuple[str, float]]:
    """Best-path CTC decoding of (B, T, C) (or (T, C)) scores: per sample (text, mean score of the kept
    characters; 0.0 for no text)."""
    x = np.asarray(output, dtype=np.float32)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise ValueError(f"expected a (batch, time, classes) recogniser output, got shape {x.shape}")
    if x.shape[-1] != len(charset):
        raise ValueError(f"the recogniser has {x.shape[-1]} classes, the character table {len(charset)}")
    probs = _as_probabilities(x)
    index = probs.argmax(axis=-1)
    best = np.take_along_axis(probs, index[..., None], axis=-1)[..., 0]
    keep = index != 0
    keep[:, 1:] &= index[:, 1:] != index[:, :-1]
    out = []
    for b in range(index.shape[0]):
        sel = index[b][keep[b]]
        text = "".join(charset[i] for i in sel.tolist())
        out.append((text, float(best[b][keep[b]].mean()) if sel.size else 0.0))
    return out


# -- the whole read -----------------------------------------------------------------------------------

Detect = Callable[[np.ndarray], "tuple[np.ndarray, Mapping]"]  # image -> (probability map, map->source)
Recognise = Callable[[list[np.ndarray]], "list[tuple[str, float]]"]  # crops -> (text, score) each


def read(image: np.ndarray, detect: Detect, recognise: Recognise, params: OcrParams, unclip_ratio: float) -> OcrResult:
    """Steps 1-5 with the engine's two networks: ``detect`` runs the detector on ``image``, ``recognise``
    the recogniser on crops of ``image``; both see the image in the channel order their network takes."""
    height, width = image.shape[:2]
    started = time.perf_counter()
    prob, mapping = detect(image)
    found = db_boxes(probability_map(prob), params.det_threshold, params.min_confidence, unclip_ratio)
    found = boxes_to_source(found, mapping, width, height)
    found = [b for b in found if box_height(b.box) >= 1 and np.ptp(b.box[:, 0]) >= 1]
    if len(found) > params.max_lines:
        found = sorted(found, key=lambda b: -b.score)[: params.max_lines]
    detected = time.perf_counter()
    rows = reading_order([b.box for b in found])
    order = [i for row in rows for i in row]
    results = recognise([crop_line(image, found[i].box) for i in order]) if order else []
    recognised = time.perf_counter()

    lines: list[TextLine] = []
    row_texts = []
    position = 0
    for row in rows:
        words = []
        for _ in row:
            i = order[position]
            text, score = results[position]
            position += 1
            text = text.strip()
            if not text or score < params.rec_threshold:
                continue
            lines.append(TextLine(text, score, found[i].box, found[i].score))
            words.append(text)
        if words:
            row_texts.append(" ".join(words))
    return OcrResult(lines, "\n".join(row_texts), detected - started, recognised - detected)
