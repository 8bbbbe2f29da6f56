"""processing.py on hand-made tensors whose answer is known: DB boxes from a probability map, the unclip
distance, box order, reading order, the recogniser's inputs, CTC decoding."""

from __future__ import annotations

import numpy as np
import pytest

from hailo_services.core.geometry import Letterbox, Stretch
from hailo_services.ocr import processing
from hailo_services.ocr.engine import OcrParams


def two_rectangles() -> np.ndarray:
    prob = np.zeros((160, 320), np.float32)
    prob[30:50, 50:150] = 0.9  # 100 x 20
    prob[100:130, 180:300] = 0.8  # 120 x 30
    return prob


def test_a_map_with_two_rectangles_gives_two_boxes_grown_by_the_unclip_distance():
    boxes = processing.db_boxes(two_rectangles(), 0.3, 0.5, unclip_ratio=1.6)
    assert len(boxes) == 2
    found = sorted(boxes, key=lambda b: b.box[0, 1])
    for b, (x0, y0, w, h, p) in zip(found, [(50, 30, 100, 20, 0.9), (180, 100, 120, 30, 0.8)], strict=True):
        # The dilated region spans w x h pixel centres (x0 .. x0 + w); DB grows it by area x r / perimeter.
        d = w * h * 1.6 / (2 * (w + h))
        expected = np.array([[x0 - d, y0 - d], [x0 + w + d, y0 - d], [x0 + w + d, y0 + h + d], [x0 - d, y0 + h + d]])
        np.testing.assert_allclose(b.box, expected.clip(0, [320, 160]), atol=1.0)
        # The score is the mean inside the rectangle before unclipping: (w + 1) x (h + 1) pixels, the last
        # row and column the dilation's zeros.
        assert b.score == pytest.approx(p * w * h / ((w + 1) * (h + 1)), abs=1e-3)


def test_faint_regions_and_specks_are_not_text():
    prob = np.zeros((100, 200), np.float32)
    prob[10:30, 10:100] = 0.4  # above det_threshold, below min_confidence
    prob[60, 150] = 1.0  # one pixel: thinner than DB's min size
    assert processing.db_boxes(prob, 0.3, 0.5) == []
    (kept,) = processing.db_boxes(prob, 0.3, 0.35)
    assert kept.score == pytest.approx(0.4 * 90 * 20 / (91 * 21), abs=1e-3)


def test_unclip_grows_each_side_by_area_ratio_over_perimeter():
    (centre, (w, h), angle) = processing.unclip(((10.0, 20.0), (100.0, 20.0), 30.0), 1.5)
    d = 100 * 20 * 1.5 / 240
    assert centre == (10.0, 20.0) and angle == 30.0
    assert (w, h) == pytest.approx((100 + 2 * d, 20 + 2 * d))


def rotated_rect(cx: float, cy: float, w: float, h: float, degrees: float) -> np.ndarray:
    a = np.deg2rad(degrees)
    u = np.array([np.cos(a), -np.sin(a)])  # text direction, rising to the right (screen y down)
    v = np.array([np.sin(a), np.cos(a)])  # down the page
    c = np.array([cx, cy])
    return np.array(
        [c - u * w / 2 - v * h / 2, c + u * w / 2 - v * h / 2, c + u * w / 2 + v * h / 2, c - u * w / 2 + v * h / 2]
    )


@pytest.mark.parametrize("degrees", [0, 15, -30, 60])
def test_box_corners_start_at_the_texts_top_left_whatever_order_they_come_in(degrees: float):
    truth = rotated_rect(200, 100, 160, 30, degrees)
    for shift in range(4):
        shuffled = np.roll(truth, shift, axis=0)[::-1] if shift % 2 else np.roll(truth, shift, axis=0)
        np.testing.assert_allclose(processing.order_box(shuffled), truth, atol=1e-3)


def test_a_vertical_line_reads_bottom_to_top():
    # 30 wide, 160 high: the long side is the text's; it runs upwards, so its top-left is bottom-left on screen.
    box = processing.order_box(np.array([[0, 0], [30, 0], [30, 160], [0, 160]], np.float32))
    np.testing.assert_allclose(box, [[0, 160], [0, 0], [30, 0], [30, 160]])


def test_reading_order_is_rows_top_to_bottom_then_left_to_right():
    def box(x: float, y: float, w: float = 80, h: float = 20) -> np.ndarray:
        return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float32)

    boxes = [box(300, 104), box(10, 10), box(10, 100), box(300, 12), box(150, 8)]
    assert processing.reading_order(boxes) == [[1, 4, 3], [2, 0]]
    assert processing.reading_order([]) == []


def test_ctc_greedy_merges_repeats_and_drops_blanks():
    charset = processing.make_charset("ehlo")  # blank, e, h, l, o, space
    seq = [2, 2, 0, 1, 3, 0, 3, 4, 4, 0, 5, 0]  # h h _ e l _ l o o _ " " _
    probs = np.full((1, len(seq), len(charset)), 0.02, np.float32)
    best = np.linspace(0.9, 0.6, len(seq)).astype(np.float32)
    for t, (i, p) in enumerate(zip(seq, best, strict=True)):
        probs[0, t] = (1 - p) / (len(charset) - 1)
        probs[0, t, i] = p
    ((text, score),) = processing.ctc_greedy(probs, charset)
    assert text == "hello "
    kept = [0, 3, 4, 6, 7, 10]  # first h, e, l, l, first o, space
    assert score == pytest.approx(float(best[kept].mean()), abs=1e-5)
    # Logits (a graph cut before its softmax) decode to the same text.
    ((again, _),) = processing.ctc_greedy(np.log(probs) * 3, charset)
    assert again == "hello "
    assert processing.ctc_greedy(np.eye(len(charset), dtype=np.float32)[[0, 0, 0]], charset) == [("", 0.0)]


def test_ctc_refuses_a_table_of_the_wrong_size():
    with pytest.raises(ValueError, match="6 classes, the character table 97"):
        processing.ctc_greedy(np.zeros((1, 4, 6), np.float32), processing.make_charset(processing.EN_DICT))


def test_character_tables():
    assert len(processing.EN_DICT) == 95 and processing.EN_DICT[:3] == ("0", "1", "2")
    assert processing.EN_DICT[-2:] == ("/", " ")
    table = processing.make_charset(processing.EN_DICT)
    assert len(table) == 97 and table[0] == "" and table[-1] == " "  # hailo-apps' 97-class ocr.hef table
    assert processing.charset_from_metadata("a\nb\nc\n") == ("", "a", "b", "c", " ")


def test_det_resize_caps_the_long_side_at_multiples_of_32():
    out, mapping = processing.det_resize(np.zeros((500, 1000, 3), np.uint8), 960)
    assert out.shape == (480, 960, 3)
    assert isinstance(mapping, Stretch)
    np.testing.assert_allclose(mapping.points_to_source(np.array([[960.0, 480.0]])), [[1000, 500]])
    small, _ = processing.det_resize(np.zeros((40, 100, 3), np.uint8), 960)
    assert small.shape == (32, 96, 3)  # never up-scaled, only rounded to the network's stride


def test_cpu_rec_batches_sort_by_width_and_pad_to_the_widest():
    crops = [np.full((20, 400, 3), 255, np.uint8), np.full((30, 30, 3), 0, np.uint8), np.full((24, 48, 3), 0, np.uint8)]
    batches = list(processing.rec_batches(crops, height=48, min_width=320, batch=2))
    assert [idx for idx, _ in batches] == [[1, 2], [0]]
    (_, first), (_, second) = batches
    assert first.shape == (2, 3, 48, 320) and second.shape == (1, 3, 48, 960)
    assert first[0, :, :, :48].max() == pytest.approx(-1.0) and (first[0, :, :, 48:] == 0).all()
    assert second[0].min() == pytest.approx(1.0)  # white, 960 = ceil(48 x 400 / 20) wide


def test_hailo_rec_frames_are_fixed_size_and_centred_on_grey():
    frame = processing.rec_frame(np.zeros((24, 80, 3), np.uint8), (48, 320))
    assert frame.dtype == np.uint8 and frame.shape == (48, 320, 3)
    # 24 x 80 scaled x2 (the height binds) to 48 x 160, 80 px of grey each side
    assert (frame[:, :80] == 128).all() and (frame[:, 80:240] == 0).all() and (frame[:, 240:] == 128).all()


def test_crops_of_rotated_boxes_come_out_level():
    image = np.full((200, 300, 3), 255, np.uint8)
    box = rotated_rect(150, 100, 120, 30, 20).astype(np.float32)
    import cv2

    cv2.fillPoly(image, [box.round().astype(np.int32)], (0, 0, 0))
    crop = processing.crop_line(image, box)
    assert crop.shape[:2] == (30, 120)
    assert crop[4:-4, 4:-4].max() < 60  # the whole inside is the dark box


def test_read_wires_the_steps_and_drops_weak_lines():
    image = np.zeros((160, 320, 3), np.uint8)
    words = {0: ("top", 0.9), 1: ("weak", 0.2)}
    calls: list[int] = []

    def detect(img: np.ndarray):
        return two_rectangles()[None, None], Letterbox(scale=1.0, pad_x=0, pad_y=0, src_w=320, src_h=160)

    def recognise(crops: list[np.ndarray]):
        calls.append(len(crops))
        return [words[i] for i in range(len(crops))]

    result = processing.read(image, detect, recognise, OcrParams(), 1.6)
    assert calls == [2]
    assert result.text == "top" and [line.text for line in result.lines] == ["top"]
    assert result.lines[0].det_score == pytest.approx(0.9 * 100 * 20 / (101 * 21), abs=1e-3)
    assert result.detection_s >= 0 and result.recognition_s >= 0
