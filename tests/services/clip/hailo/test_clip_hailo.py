"""HailoClipEngine against the HailoRT test double, set up as hailo-apps uses the Hailo-10H HEFs:
``clip_vit_b_32_image_encoder`` (224x224x3 uint8 in, the 512-d feature out as 1x1x512) and
``clip_vit_b_32_text_encoder`` (``input_layer1`` 1x77xW token embeddings in as FLOAT32,
``normalization25`` 1x77xW out). The double's text "encoder" is a causal bag of words (row t = the sum of
the input rows up to t), so the feature the host must read at the EOT and project is known in advance.
The token table is 16 wide here (the real one is 512) to keep the test small; the engine takes the width
from the HEF and checks the table and projection against it."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from hailo_services.clip import processing
from hailo_services.clip.engine import load_catalog
from hailo_services.clip.hailo import HailoClipEngine
from hailo_services.clip.tokenizer import ClipTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from provision import vocab_path

IMAGE_HEF, TEXT_HEF = Path("/models/clip_vit_b_32_image_encoder.hef"), Path("/models/clip_vit_b_32_text_encoder.hef")
IMAGE_IN, IMAGE_OUT = "clip_vit_b_32_image_encoder/input_layer1", "clip_vit_b_32_image_encoder/conv89"
TEXT_IN, TEXT_OUT = "clip_vit_b_32_text_encoder/input_layer1", "clip_vit_b_32_text_encoder/normalization25"
WIDTH = 16
COLOURS = {"red": 0, "green": 1, "blue": 2}


@pytest.fixture(scope="module")
def tok() -> ClipTokenizer:
    return ClipTokenizer.from_file(vocab_path())


@pytest.fixture
def tables(tmp_path: Path, tok: ClipTokenizer) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    lut = rng.normal(0, 0.01, (49408, WIDTH)).astype(np.float32)
    for word, axis in COLOURS.items():
        (token,) = tok.tokens(word)
        lut[token, axis] = 1.0
    projection = np.zeros((WIDTH, 512), np.float32)
    projection[:3, 100:103] = np.eye(3) * 2.0  # colour axes land in dims 100-102: not an identity, not square
    projection[3:, 200] = 1.0
    lut_path, proj_path = tmp_path / "lut.npy", tmp_path / "projection.npy"
    np.save(lut_path, lut)
    np.save(proj_path, projection)
    return lut_path, proj_path, lut, projection


@pytest.fixture
def hefs(hailo_double: ModuleType) -> ModuleType:
    d = hailo_double
    d.STATE.define_hef(
        str(IMAGE_HEF),
        inputs=[d.StreamSpec(IMAGE_IN, (224, 224, 3))],
        outputs=[d.StreamSpec(IMAGE_OUT, (1, 1, 512), d.FormatType.UINT8, d.QuantInfo(128, 0.01))],
    )
    d.STATE.define_hef(
        str(TEXT_HEF),
        inputs=[d.StreamSpec(TEXT_IN, (1, 77, WIDTH), d.FormatType.UINT16)],
        outputs=[d.StreamSpec(TEXT_OUT, (1, 77, WIDTH), d.FormatType.UINT8, d.QuantInfo(128, 0.01))],
    )
    return d


def causal_bag(frame: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {TEXT_OUT: np.cumsum(frame[TEXT_IN], axis=1)}


def colour_image(frame: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = np.zeros((1, 1, 512), np.float32)
    out[0, 0, 100:103] = frame[IMAGE_IN].reshape(-1, 3).mean(axis=0) / 255 - 0.5
    return {IMAGE_OUT: out}


@pytest.fixture
def engine(hefs: ModuleType, tables) -> HailoClipEngine:
    lut_path, proj_path, _, _ = tables
    e = HailoClipEngine("SHARED")
    e.load(load_catalog().get("clip_vit_b_32"), [IMAGE_HEF, TEXT_HEF, vocab_path(), lut_path, proj_path])
    yield e
    e.unload()


def test_load_configures_both_hefs_on_one_shared_vdevice(engine: HailoClipEngine, hefs: ModuleType):
    formats = {c["name"]: c["type"] for c in hefs.STATE.calls_of("InferStream.set_format_type")}
    assert formats == {
        IMAGE_IN: hefs.FormatType.UINT8,
        IMAGE_OUT: hefs.FormatType.FLOAT32,
        TEXT_IN: hefs.FormatType.FLOAT32,  # HailoRT quantises the token embeddings
        TEXT_OUT: hefs.FormatType.FLOAT32,
    }
    assert len(hefs.STATE.vdevices) == 1 and hefs.STATE.vdevices[0].group_id == "SHARED"
    assert len(hefs.STATE.configured_models) == 2


def test_a_batch_of_prompts_is_one_device_job_with_lut_rows_in_and_the_eot_row_projected(
    engine: HailoClipEngine, hefs: ModuleType, tables, tok: ClipTokenizer
):
    _, _, lut, projection = tables
    texts = ["a photo of a red square", "hello world", "a blue dog"]
    hefs.STATE.script_infer(*[causal_bag] * len(texts))
    out = engine.embed_texts(texts)
    assert [c["frames"] for c in hefs.STATE.calls_of("ConfiguredInferModel.run_async")] == [3]  # not one per prompt
    for text, frame, vector, tokens in zip(texts, hefs.STATE.frames_seen, out.vectors, out.tokens, strict=True):
        ids = list(tok.encode(text).ids)
        x = frame[TEXT_IN]
        assert x.shape == (1, 77, WIDTH) and x.dtype == np.float32
        np.testing.assert_array_equal(x[0, : len(ids)], lut[ids])
        np.testing.assert_array_equal(x[0, len(ids) :], np.tile(lut[0], (77 - len(ids), 1)))  # padded with id 0
        want = processing.l2_normalize(lut[ids].sum(axis=0) @ projection)  # the EOT row of the causal sum
        np.testing.assert_allclose(vector, want, atol=0.03)  # the double quantises the output to 0.01 steps
        assert tokens == len(ids)


def test_images_are_clip_crops_in_one_job_and_rank_their_caption_first(engine: HailoClipEngine, hefs: ModuleType):
    red, blue = np.zeros((300, 400, 3), np.uint8), np.zeros((300, 400, 3), np.uint8)
    red[..., 0], blue[..., 2] = 230, 230
    red[:, :40] = 255  # a white border CLIP's centre crop cuts away
    hefs.STATE.script_infer(colour_image, colour_image)
    images = engine.embed_images([red, blue])
    (job,) = hefs.STATE.calls_of("ConfiguredInferModel.run_async")
    assert job["frames"] == 2
    frame = hefs.STATE.frames_seen[0][IMAGE_IN]
    np.testing.assert_array_equal(frame, processing.center_crop(red))
    assert (frame[..., 1] == 0).all()  # the border is outside the crop
    hefs.STATE.script_infer(*[causal_bag] * 2)
    texts = engine.embed_texts(["a photo of a red square", "a photo of a blue square"]).vectors
    np.testing.assert_allclose(np.linalg.norm(images, axis=1), 1, atol=1e-5)
    assert list((images @ texts.T).argmax(axis=1)) == [0, 1]


def test_tables_that_do_not_fit_the_hef_fail_the_load_naming_the_file(hefs: ModuleType, tables, tmp_path: Path):
    lut_path, _, _, _ = tables
    wrong = tmp_path / "text_projection_RN50x4.npy"
    np.save(wrong, np.zeros((640, 640), np.float32))
    files = [IMAGE_HEF, TEXT_HEF, vocab_path(), lut_path, wrong]
    with pytest.raises(ValueError, match=r"text_projection_RN50x4\.npy"):
        HailoClipEngine().load(load_catalog().get("clip_vit_b_32"), files)
    assert not hefs.STATE.vdevices  # refused before the device was opened


def test_unload_shuts_both_models_down_and_releases_the_device(engine: HailoClipEngine, hefs: ModuleType):
    engine.unload()
    assert len(hefs.STATE.calls_of("ConfiguredInferModel.shutdown")) == 2
    assert hefs.STATE.vdevices[0].released and not engine.loaded
