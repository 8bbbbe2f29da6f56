"""ClipOnnxEngine on tiny encoders with the transformers.js exports' interfaces (tests/tiny_models.py)
and weights made so colour is the meaning (provision.py): a flat red picture and "a photo of a red
square" point the same way, so the right ranking is known in advance."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hailo_services.clip.cpu import ClipOnnxEngine
from hailo_services.clip.engine import load_catalog

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import provision

RED, GREEN, BLUE = (220, 30, 30), (30, 200, 30), (30, 30, 220)
CAPTIONS = ["a photo of a red square", "a photo of a green square", "a photo of a blue square"]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    workdir = tmp_path_factory.mktemp("clip")
    provision.provision(workdir)
    spec = load_catalog().get("clip_vit_b_32")
    return [workdir / "models" / a.file for a in spec.artifacts("cpu")[:2]] + [provision.vocab_path()]


@pytest.fixture
def engine(files: list[Path]) -> ClipOnnxEngine:
    e = ClipOnnxEngine(threads=1)
    e.load(load_catalog().get("clip_vit_b_32"), files)
    yield e
    e.unload()


def flat(colour, h=120, w=200) -> np.ndarray:
    return np.full((h, w, 3), colour, np.uint8)


def test_each_picture_ranks_its_own_caption_first(engine: ClipOnnxEngine):
    images = engine.embed_images([flat(RED), flat(GREEN), flat(BLUE)])
    texts = engine.texts(CAPTIONS)
    assert images.shape == (3, 512) and texts.vectors.shape == (3, 512)
    np.testing.assert_allclose(np.linalg.norm(images, axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(texts.vectors, axis=1), 1, atol=1e-5)
    sims = images @ texts.vectors.T
    assert list(sims.argmax(axis=1)) == [0, 1, 2]
    assert sims[0, 0] > 0.9 and sims[0, 1] < 0
    assert texts.tokens == [8, 8, 8] and texts.truncated == [False] * 3


def test_a_batch_is_the_same_as_its_items_alone(engine: ClipOnnxEngine):
    both = engine.embed_texts(["a red cat", "hello world of the blue dog"])
    alone = [engine.embed_texts([t]).vectors[0] for t in ("a red cat", "hello world of the blue dog")]
    np.testing.assert_allclose(both.vectors, np.stack(alone), atol=1e-6)  # padding to the longest changes nothing


def test_cached_texts_equal_fresh_ones_and_keep_request_order(engine: ClipOnnxEngine):
    first = engine.texts(["a red cat", "a blue dog"])
    again = engine.texts(["a blue dog", "a green car", "a red cat"])
    np.testing.assert_allclose(again.vectors[0], first.vectors[1])
    np.testing.assert_allclose(again.vectors[2], first.vectors[0])
    np.testing.assert_allclose(again.vectors[1], engine.embed_texts(["a green car"]).vectors[0])


def test_a_graph_without_the_exports_names_is_refused(files: list[Path], tmp_path: Path):
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 224, 224])
    y = helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 3, 224, 224])
    model = helper.make_model(
        helper.make_graph([helper.make_node("Identity", ["images"], ["out"])], "g", [x], [y]),
        opset_imports=[helper.make_opsetid("", 17)],
        ir_version=9,
    )
    bad = tmp_path / "bad.onnx"
    onnx.save(model, bad)
    with pytest.raises(ValueError, match="pixel_values"):
        ClipOnnxEngine().load(load_catalog().get("clip_vit_b_32"), [bad, files[1], files[2]])


def test_an_export_with_attention_mask_and_a_fixed_77_context_gets_both(files: list[Path], tmp_path: Path):
    # input_ids [1, 77] + attention_mask [1, 77] -> text_embeds = sum of mask (how many tokens it saw).
    ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, 77])
    mask = helper.make_tensor_value_info("attention_mask", TensorProto.INT64, [1, 77])
    out = helper.make_tensor_value_info("text_embeds", TensorProto.FLOAT, [1, 512])
    nodes = [
        helper.make_node("Cast", ["attention_mask"], ["m"], to=TensorProto.FLOAT),
        helper.make_node("ReduceSum", ["m", "ax"], ["count"], keepdims=1),
        helper.make_node("Cast", ["input_ids"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMax", ["f"], ["top"], axes=[1], keepdims=1),
        helper.make_node("Concat", ["count", "top"], ["two"], axis=1),
        helper.make_node("Pad", ["two", "pads"], ["text_embeds"]),
    ]
    inits = [
        numpy_helper.from_array(np.array([1], np.int64), "ax"),
        numpy_helper.from_array(np.array([0, 0, 0, 510], np.int64), "pads"),
    ]
    graph = helper.make_graph(nodes, "masked", [ids, mask], [out], initializer=inits)
    path = tmp_path / "text77.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9), path)
    engine = ClipOnnxEngine()
    engine.load(load_catalog().get("clip_vit_b_32"), [files[0], path, files[2]])
    v = engine.embed_texts(["a photo of a cat", "hello world"]).vectors  # run one by one (batch fixed at 1)
    np.testing.assert_allclose(v[:, :2], np.array([[7, 49407], [4, 49407]]) / np.hypot([[7], [4]], 49407), rtol=1e-5)
    assert engine.embed_texts(["word " * 300]).tokens == [77]
