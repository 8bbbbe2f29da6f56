"""core/geometry.py: letterbox and stretch, with hand-computed scales and paddings, and round trips."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from hailo_services.core.geometry import Letterbox, Stretch, letterbox, resize_stretch


def solid(width: int, height: int, colour: tuple[int, int, int] = (200, 30, 60)) -> np.ndarray:
    img = np.empty((height, width, 3), np.uint8)
    img[:] = colour
    return img


@pytest.mark.parametrize(
    ("src_wh", "dst_hw", "scale", "pad_x", "pad_y"),
    [
        # landscape 1280x720 into 640x640: scale 0.5 -> 640x360, (640-360)/2 = 140 rows above
        ((1280, 720), (640, 640), 0.5, 0, 140),
        # portrait 300x600 into 640x640: scale 640/600 -> 320x640, (640-320)/2 = 160 columns left
        ((300, 600), (640, 640), 640 / 600, 160, 0),
        # square 100x100 into 320x320: scale 3.2, no padding
        ((100, 100), (320, 320), 3.2, 0, 0),
        # square into a wide input 640x384 (h=384): scale 0.6 -> 384x384, 128 columns left
        ((640, 640), (384, 640), 0.6, 128, 0),
        # odd remainder: 100x51 into 64x64: scale 0.64 -> 64x33, 31 rows of padding = 15 above, 16 below
        ((100, 51), (64, 64), 0.64, 0, 15),
    ],
)
def test_letterbox_scale_and_padding(src_wh, dst_hw, scale, pad_x, pad_y):
    w, h = src_wh
    out, box = letterbox(solid(w, h), dst_hw)
    assert out.shape == (*dst_hw, 3) and out.dtype == np.uint8
    assert box == Letterbox(scale=pytest.approx(scale), pad_x=pad_x, pad_y=pad_y, src_w=w, src_h=h)
    new_w, new_h = round(w * scale), round(h * scale)
    # The image occupies exactly [pad_y, pad_y + new_h) x [pad_x, pad_x + new_w); the rest is 114 grey.
    inside = out[pad_y : pad_y + new_h, pad_x : pad_x + new_w]
    assert (inside == (200, 30, 60)).all()
    mask = np.ones(dst_hw, bool)
    mask[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = False
    assert (out[mask] == 114).all()
    assert mask.sum() == dst_hw[0] * dst_hw[1] - new_w * new_h


def test_odd_padding_puts_the_extra_row_at_the_bottom():
    out, _ = letterbox(solid(100, 51), (64, 64), pad_value=0)
    rows = out[:, 32, 0]
    assert (rows[:15] == 0).all() and (rows[15:48] == 200).all() and (rows[48:] == 0).all()


def test_landscape_boxes_and_points_map_back():
    _, lb = letterbox(solid(1280, 720), (640, 640))
    boxes = np.array([[100, 150, 300, 250], [-10, 100, 700, 600]], np.float32)
    back = lb.boxes_to_source(boxes)
    # (x - 0) / 0.5, (y - 140) / 0.5; the second box is clipped to the 1280x720 image.
    np.testing.assert_allclose(back, [[200, 20, 600, 220], [0, 0, 1280, 720]])
    np.testing.assert_allclose(lb.points_to_source(np.array([[320, 320], [0, 140]])), [[640, 360], [0, 0]])


def test_portrait_boxes_and_points_map_back():
    _, lb = letterbox(solid(300, 600), (640, 640))
    np.testing.assert_allclose(lb.boxes_to_source(np.array([[160, 0, 480, 640]])), [[0, 0, 300, 600]], atol=1e-4)
    # keypoints keep their score column and are not clipped
    pts = lb.points_to_source(np.array([[[320, 320, 0.9], [150, 0, 0.5]]]))
    np.testing.assert_allclose(pts, [[[150, 300, 0.9], [-9.375, 0, 0.5]]], atol=1e-4)


def test_square_points_map_back():
    _, lb = letterbox(solid(100, 100), (320, 320))
    np.testing.assert_allclose(lb.points_to_source(np.array([[32, 64]])), [[10, 20]])


@pytest.mark.parametrize("size", [(640, 640), (384, 640), (640, 320)])
@pytest.mark.parametrize(
    "crop", [(slice(0, 300), slice(0, 512)), (slice(0, 512), slice(100, 280)), (slice(None), slice(None))]
)
def test_round_trip_of_a_marker_in_a_real_photo(size, crop):
    # A square painted on the astronaut photo: its centre in the letterboxed frame (the centroid of what
    # painting changed, which linear resampling preserves), mapped back, lands where it was painted.
    photo = np.ascontiguousarray(data.astronaut()[crop])
    h, w = photo.shape[:2]
    x0, y0 = int(w * 0.3), int(h * 0.6)
    marked = photo.copy()
    marked[y0 : y0 + 20, x0 : x0 + 20] = (0, 255, 0)
    # Continuous coordinates (pixel i spans [i, i+1)), the ones network boxes use: the square's centre is +10.
    true_centre = np.array([x0 + 10.0, y0 + 10.0])
    plain_out, lb = letterbox(photo, size)
    marked_out, lb2 = letterbox(marked, size)
    assert lb == lb2
    change = np.abs(marked_out.astype(float) - plain_out.astype(float)).sum(axis=2)
    ys, xs = np.indices(change.shape)
    centre = np.array([(xs * change).sum(), (ys * change).sum()]) / change.sum() + 0.5
    # 0.6 px: sampling a 20 px square on a grid moves its centroid a little; a pad off by one model pixel
    # would move it 1/scale >= 0.8 source px at these scales (0.625 .. 1.25).
    np.testing.assert_allclose(lb.points_to_source(centre[None])[0], true_centre, atol=0.6)


def test_letterbox_resizes_like_cv2_inter_linear():
    photo = data.chelsea()  # 451 x 300
    out, lb = letterbox(photo, (640, 640))
    expected = cv2.resize(photo, (640, 426), interpolation=cv2.INTER_LINEAR)
    assert (lb.pad_x, lb.pad_y) == (0, 107)
    np.testing.assert_array_equal(out[107 : 107 + 426], expected)


def test_stretch_maps_back_with_its_own_scales():
    out, st = resize_stretch(solid(200, 100), (300, 300))
    assert out.shape == (300, 300, 3)
    assert st == Stretch(scale_x=1.5, scale_y=3.0, src_w=200, src_h=100)
    np.testing.assert_allclose(
        st.boxes_to_source(np.array([[30, 30, 150, 300], [-5, 0, 999, 999]])),
        [
            [20, 10, 100, 100],
            [0, 0, 200, 100],
        ],
    )
    np.testing.assert_allclose(st.points_to_source(np.array([[150, 150, 0.7]])), [[100, 50, 0.7]], rtol=1e-6)


def test_same_size_is_a_copy_not_a_view():
    src = solid(64, 64)
    out, lb = letterbox(src, (64, 64))
    assert lb.scale == 1 and (lb.pad_x, lb.pad_y) == (0, 0)
    out[0, 0] = 0
    assert (src[0, 0] == (200, 30, 60)).all()


@pytest.mark.parametrize(
    "bad", [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 4), np.uint8), np.zeros((10, 10, 3), np.float32)]
)
def test_rejects_what_is_not_hxwx3_uint8(bad):
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        letterbox(bad, (32, 32))
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        resize_stretch(bad, (32, 32))
