"""clip/processing.py on hand-made inputs whose answer is known: CLIP's resize + centre crop,
normalisation, the HEF text input (token-embedding rows), the EOT projection and the zero-shot scores."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from skimage import data

from hailo_services.clip import processing
from hailo_services.clip.tokenizer import Encoded


@pytest.mark.parametrize(
    ("size", "resized"),
    [((640, 480), (298, 224)), ((480, 640), (224, 298)), ((224, 224), (224, 224)), ((451, 300), (336, 224))],
)
def test_shorter_side_to_224_longer_side_truncated(size, resized):
    assert processing.resized_size(*size) == resized


@pytest.mark.parametrize("photo", ["astronaut", "chelsea", "coffee"])
def test_crop_equals_a_full_bicubic_resize_then_the_centre_crop(photo):
    rgb = getattr(data, photo)()
    h, w = rgb.shape[:2]
    nw, nh = processing.resized_size(w, h)
    full = np.asarray(Image.fromarray(rgb).resize((nw, nh), Image.Resampling.BICUBIC)).astype(int)
    top, left = round((nh - 224) / 2), round((nw - 224) / 2)
    got = processing.center_crop(rgb)
    assert got.shape == (224, 224, 3) and got.dtype == np.uint8
    assert np.abs(full[top : top + 224, left : left + 224] - got).max() <= 1


def test_the_crop_keeps_the_centre():
    # 448 x 224: red | green | blue thirds -> the crop is the middle half: green in the middle.
    rgb = np.zeros((224, 672, 3), np.uint8)
    rgb[:, :224] = (255, 0, 0)
    rgb[:, 224:448] = (0, 255, 0)
    rgb[:, 448:] = (0, 0, 255)
    crop = processing.center_crop(rgb)
    assert (crop == (0, 255, 0)).all()
    assert processing.crop_box(672, 224) == (224.0, 0.0, 448.0, 224.0)


def test_an_extreme_aspect_ratio_resamples_only_the_crop():
    crop = processing.center_crop(np.full((1, 40_000, 3), 7, np.uint8))  # a full resize: 224 x 8 960 000
    assert crop.shape == (224, 224, 3) and (crop == 7).all()


def test_normalize_is_clips_mean_and_std_in_chw():
    mean_pixel = np.rint(processing.MEAN * 255).astype(np.uint8)
    x = processing.normalize(np.tile(mean_pixel, (224, 224, 1)))
    assert x.shape == (3, 224, 224) and x.dtype == np.float32
    assert np.abs(x).max() < 0.01
    white = processing.normalize(np.full((2, 2, 3), 255, np.uint8))
    np.testing.assert_allclose(white[:, 0, 0], (1 - processing.MEAN) / processing.STD, rtol=1e-6)


def test_hef_text_input_is_lut_rows_padded_with_id_0():
    lut = np.arange(49408 * 4, dtype=np.float32).reshape(49408, 4)
    enc = Encoded(ids=(49406, 320, 2368, 49407), eot=3, truncated=False)
    x = processing.lut_embeddings(enc, lut, 77)
    assert x.shape == (77, 4) and x.dtype == np.float32
    np.testing.assert_array_equal(x[:4], lut[[49406, 320, 2368, 49407]])
    np.testing.assert_array_equal(x[4:], np.tile(lut[0], (73, 1)))


def test_text_feature_is_the_eot_row_times_the_projection_in_openai_orientation():
    hidden = np.zeros((77, 2), np.float32)
    hidden[3] = (1.0, 2.0)
    projection = np.array([[1.0, 0.0, 5.0], [0.0, 10.0, 0.0]], np.float32)  # in x out: 2 -> 3
    np.testing.assert_allclose(processing.project_eot(hidden, 3, projection), (1.0, 20.0, 5.0))


def test_zero_shot_is_softmax_of_100_times_the_cosine():
    image = processing.l2_normalize(np.array([1.0, 0.0]))
    texts = processing.l2_normalize(np.array([[0.3, np.sqrt(1 - 0.09)], [0.25, np.sqrt(1 - 0.0625)]]))
    sims, probs = processing.zero_shot(image, texts, 100.0)
    np.testing.assert_allclose(sims, (0.3, 0.25), atol=1e-6)
    np.testing.assert_allclose(probs, (1 / (1 + np.exp(-5)), 1 - 1 / (1 + np.exp(-5))), atol=1e-6)


def test_l2_normalize_and_shorten():
    out = processing.l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])
    np.testing.assert_allclose(processing.shorten(np.array([[0.6, 0.0, 0.8]]), 2), [[1.0, 0.0]])
