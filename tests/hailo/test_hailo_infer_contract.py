"""Contract tests of core/hailo_infer.py (HailoModel) against the HailoRT test double's InferModel API,
and tests that the double refuses what HailoRT (or our use of it) must not see."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import pytest

from hailo_services.core import hailo_device
from hailo_services.core.geometry import letterbox
from hailo_services.core.hailo_infer import HailoModel, NmsDetection, NmsSettings, dequantize, parse_nms_by_class

CLS_HEF = "/models/tiny_cls.hef"
DET_HEF = "/models/yolov8s.hef"
FEATS = "tiny_cls/conv5"
LOGITS = "tiny_cls/fc1"
NMS_OUT = "yolov8s/yolov8_nms_postprocess"


@pytest.fixture
def hrt(hailo_double: ModuleType) -> ModuleType:
    """The double with two "HEFs": a classifier (two quantised outputs) and a detector with on-chip NMS."""
    d = hailo_double
    d.STATE.define_hef(
        CLS_HEF,
        inputs=[d.StreamSpec("tiny_cls/input_layer1", (8, 8, 3))],
        outputs=[
            d.StreamSpec(FEATS, (2, 2, 4), quant=d.QuantInfo(qp_zp=128, qp_scale=0.05)),
            d.StreamSpec(LOGITS, (10,), quant=d.QuantInfo(qp_zp=0, qp_scale=0.1)),
        ],
    )
    d.STATE.define_hef(
        DET_HEF,
        inputs=[d.StreamSpec("yolov8s/input_layer1", (16, 16, 3))],
        outputs=[d.StreamSpec(NMS_OUT, nms=d.NmsShape(number_of_classes=3, max_bboxes_per_class=4))],
    )
    return d


def frame(value: int, shape: tuple[int, ...] = (8, 8, 3)) -> np.ndarray:
    return np.full(shape, value, np.uint8)


FEATS_A = np.linspace(-2, 3, 16, dtype=np.float32).reshape(2, 2, 4)
LOGITS_A = np.arange(10, dtype=np.float32) / 4


# -- HailoModel ------------------------------------------------------------------------------------


def test_runs_frames_on_the_shared_vdevice(hrt: ModuleType):
    state = hrt.STATE
    state.script_infer({FEATS: FEATS_A, LOGITS: LOGITS_A}, {LOGITS: -LOGITS_A})
    model = HailoModel(CLS_HEF)
    assert model.input_name == "tiny_cls/input_layer1" and model.input_shape == (8, 8, 3)
    assert model.output_names == [FEATS, LOGITS] and model.nms_outputs == []
    assert model.output_shapes == {FEATS: (2, 2, 4), LOGITS: (10,)}
    frames = [frame(1), frame(200)]
    out = model.run(frames)
    assert len(out) == 2
    np.testing.assert_array_equal(out[0][FEATS], FEATS_A)  # FLOAT32 outputs: HailoRT de-quantised
    np.testing.assert_array_equal(out[0][LOGITS], LOGITS_A)
    np.testing.assert_array_equal(out[1][FEATS], np.zeros((2, 2, 4)))  # unscripted output: zeros
    np.testing.assert_array_equal(out[1][LOGITS], -LOGITS_A)
    assert out[0][FEATS].dtype == np.float32
    # the frames reached the device as given
    assert [f["tiny_cls/input_layer1"].tolist() for f in state.frames_seen] == [f.tolist() for f in frames]
    (dev,) = state.vdevices
    assert dev.group_id == "SHARED"
    formats = {kw["name"]: kw["type"] for kw in state.calls_of("InferStream.set_format_type")}
    assert formats == {
        "tiny_cls/input_layer1": hrt.FormatType.UINT8,
        FEATS: hrt.FormatType.FLOAT32,
        LOGITS: hrt.FormatType.FLOAT32,
    }
    assert state.calls_of("InferModel.set_batch_size") == [{"batch_size": 1}]
    assert state.calls_of("ConfiguredInferModel.wait_for_async_ready") == [{"timeout_ms": 10000, "frames_count": 2}]
    assert state.calls_of("ConfiguredInferModel.run_async") == [{"frames": 2}]
    assert state.calls_of("AsyncInferJob.wait") == [{"timeout_ms": 10000}]
    model.close()


def test_uint8_outputs_are_dequantised_with_quant_infos(hrt: ModuleType):
    feats = np.array([-1.0, 0.5, 3.21, 7.0] * 4, np.float32).reshape(2, 2, 4)
    hrt.STATE.script_infer({FEATS: feats, LOGITS: LOGITS_A})
    with HailoModel(CLS_HEF, output_format="uint8") as model:
        (out,) = model.run([frame(3)])
    # raw = round(x / 0.05 + 128), clipped to 0..255: -1 -> 108, 0.5 -> 138, 3.21 -> 192 (3.2), 7 -> 255 (6.35)
    assert out[FEATS].dtype == np.float32
    np.testing.assert_allclose(out[FEATS][0, 0], [-1.0, 0.5, 3.2, 6.35], atol=1e-6)
    np.testing.assert_allclose(out[LOGITS], np.round(LOGITS_A / 0.1) * 0.1, atol=1e-6)
    formats = {kw["name"]: kw["type"] for kw in hrt.STATE.calls_of("InferStream.set_format_type")}
    assert formats[FEATS] == formats[LOGITS] == hrt.FormatType.UINT8


def test_dequantize_per_tensor_and_per_channel(hrt: ModuleType):
    q = hrt.QuantInfo
    raw = np.array([[0, 10, 255]], np.uint8)
    np.testing.assert_allclose(dequantize(raw, [q(qp_zp=10, qp_scale=0.5)]), [[-5.0, 0.0, 122.5]])
    per_channel = [q(qp_zp=0, qp_scale=1.0), q(qp_zp=10, qp_scale=2.0), q(qp_zp=255, qp_scale=0.1)]
    np.testing.assert_allclose(dequantize(raw, per_channel), [[0.0, 0.0, 0.0]])
    with pytest.raises(RuntimeError, match="quant infos"):
        dequantize(raw, per_channel[:2])


def test_nms_output_is_configured_and_parsed(hrt: ModuleType):
    person = [[0.10, 0.20, 0.50, 0.40, 0.91], [0.55, 0.60, 0.95, 0.90, 0.40]]  # y_min, x_min, y_max, x_max, score
    dog = [[0.25, 0.25, 0.75, 0.75, 0.66]]
    hrt.STATE.script_infer({NMS_OUT: [np.array(person), np.empty((0, 5)), np.array(dog)]})
    nms = NmsSettings(score_threshold=0.3, iou_threshold=0.6, max_proposals_per_class=50)
    with HailoModel(DET_HEF, nms=nms) as model:
        assert model.nms_outputs == [NMS_OUT]
        assert model.output_shapes[NMS_OUT] == (3 * (1 + 5 * 4),)  # HailoRT's flat NMS_BY_CLASS host shape
        (out,) = model.run([frame(9, (16, 16, 3))])
    calls = {n: kw["value"] for n, kw in hrt.STATE.calls if n.startswith("InferStream.set_nms_")}
    assert calls == {
        "InferStream.set_nms_score_threshold": 0.3,
        "InferStream.set_nms_iou_threshold": 0.6,
        "InferStream.set_nms_max_proposals_per_class": 50,
    }
    per_class = out[NMS_OUT]
    assert isinstance(per_class, list) and [a.shape for a in per_class] == [(2, 5), (0, 5), (1, 5)]
    dets = parse_nms_by_class(per_class, 3)
    assert [(d.class_id, round(d.score, 2)) for d in dets] == [(0, 0.91), (2, 0.66), (0, 0.4)]
    d0 = dets[0]
    assert isinstance(d0, NmsDetection) and d0.class_id == 0
    assert (d0.y_min, d0.x_min, d0.y_max, d0.x_max, d0.score) == pytest.approx((0.1, 0.2, 0.5, 0.4, 0.91))
    assert [d.class_id for d in parse_nms_by_class(per_class, 3, min_score=0.5)] == [0, 2]
    # a box on the 640x640 letterboxed input of a 1280x720 photo, back in the photo's pixels
    _, lb = letterbox(np.zeros((720, 1280, 3), np.uint8), (640, 640))
    x1, y1, x2, y2 = dets[1].xyxy(640, 640)
    np.testing.assert_allclose(lb.boxes_to_source(np.array([[x1, y1, x2, y2]])), [[320, 40, 960, 680]], atol=1e-3)


def test_parse_nms_reads_the_raw_hailort_buffer(hrt: ModuleType):
    shape = hrt.NmsShape(number_of_classes=3, max_bboxes_per_class=4)
    per_class = [np.empty((0, 5)), np.array([[0.1, 0.2, 0.3, 0.4, 0.8]]), np.array([[0.5, 0.5, 0.6, 0.6, 0.7]] * 2)]
    flat = hrt.nms_pack(per_class, shape)
    assert flat[:7].tolist() == pytest.approx([0, 1, 0.1, 0.2, 0.3, 0.4, 0.8])  # count, then the box
    dets = parse_nms_by_class(flat, 3)
    assert [(d.class_id, round(d.score, 2)) for d in dets] == [(1, 0.8), (2, 0.7), (2, 0.7)]
    assert parse_nms_by_class(flat, 3) == parse_nms_by_class(hrt.nms_unpack(flat, 3), 3)
    with pytest.raises(ValueError, match="expected 4"):
        parse_nms_by_class(per_class, 4)
    bad = flat.copy()
    bad[0] = 99  # a count past the end of the buffer
    with pytest.raises(ValueError, match="invalid box count"):
        parse_nms_by_class(bad, 3)


def test_a_job_that_takes_too_long_times_out_cleanly(hrt: ModuleType):
    hrt.STATE.infer_delay_s = 0.3
    model = HailoModel(CLS_HEF, timeout_ms=30)
    with pytest.raises(TimeoutError, match="did not finish within 30 ms"):
        model.run([frame(1)])
    hrt.STATE.infer_delay_s = 0
    hrt.STATE.script_infer({LOGITS: LOGITS_A})
    (out,) = model.run([frame(2)])  # the model still works afterwards
    np.testing.assert_array_equal(out[LOGITS], LOGITS_A)
    model.close()
    assert hrt.STATE.vdevices[0].released


def test_a_device_that_is_never_ready_times_out(hrt: ModuleType):
    hrt.STATE.async_ready = False
    with HailoModel(CLS_HEF, timeout_ms=50) as model, pytest.raises(TimeoutError):
        model.run([frame(1)])
    assert hrt.STATE.calls_of("ConfiguredInferModel.run_async") == []


def test_hailort_failures_become_runtime_errors(hrt: ModuleType):
    with HailoModel(CLS_HEF) as model:
        hrt.STATE.fail_next_job(hrt.HailoRTException("HAILO_STREAM_ABORTED_BY_USER"))
        with pytest.raises(RuntimeError, match=r"HailoRT inference failed on tiny_cls\.hef: HAILO_STREAM_ABORTED"):
            model.run([frame(1)])
        hrt.STATE.fail_next("ConfiguredInferModel.run_async", hrt.HailoRTException("HAILO_INTERNAL_FAILURE"))
        with pytest.raises(RuntimeError, match="HAILO_INTERNAL_FAILURE"):
            model.run([frame(1)])
        model.run([frame(1)])  # and recovers


def test_close_releases_the_vdevice_after_the_configured_model(hrt: ModuleType):
    a = HailoModel(CLS_HEF)
    b = HailoModel(DET_HEF)
    (dev,) = hrt.STATE.vdevices  # one VDevice per process, shared
    a.close()
    assert not dev.released and hailo_device._users == 1
    b.close()
    b.close()  # idempotent
    assert dev.released and hailo_device._users == 0
    assert all(c.closed for c in hrt.STATE.configured_models)
    with pytest.raises(RuntimeError, match="closed"):
        a.run([frame(1)])


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((8, 8, 4), np.uint8),
        np.zeros((9, 8, 3), np.uint8),
        np.zeros((3, 8, 8), np.uint8),  # NCHW
        np.zeros((8, 8, 3), np.float32),
        np.zeros((1, 8, 8, 3), np.uint8),  # a batch axis
        [[0]],
    ],
)
def test_a_wrong_frame_fails_clearly_before_reaching_the_device(hrt: ModuleType, bad: Any):
    with HailoModel(CLS_HEF) as model:
        with pytest.raises(ValueError, match=r"frame 1 is .*the network takes uint8 \(8, 8, 3\)"):
            model.run([frame(1), bad])
        with pytest.raises(ValueError, match="at least one frame"):
            model.run([])
    assert hrt.STATE.calls_of("ConfiguredInferModel.create_bindings") == []


def test_more_frames_than_the_async_queue_run_in_chunks(hrt: ModuleType):
    hrt.STATE.async_queue_size = 2
    hrt.STATE.script_infer(*({LOGITS: np.full(10, i, np.float32)} for i in range(5)))
    with HailoModel(CLS_HEF) as model:
        out = model.run([frame(i) for i in range(5)])
    assert [o[LOGITS][0] for o in out] == [0, 1, 2, 3, 4]
    assert [kw["frames"] for kw in hrt.STATE.calls_of("ConfiguredInferModel.run_async")] == [2, 2, 1]


def test_a_missing_hef_fails_clearly_and_releases_the_device(hrt: ModuleType):
    with pytest.raises(RuntimeError, match=r"cannot configure HEF /models/nope\.hef: HAILO_OPEN_FILE_FAILURE"):
        HailoModel("/models/nope.hef")
    assert hrt.STATE.vdevices[0].released and hailo_device._users == 0


def test_a_multi_input_hef_is_refused(hrt: ModuleType):
    s = hrt.StreamSpec
    hrt.STATE.define_hef("/m/two.hef", inputs=[s("a", (4, 4, 3)), s("b", (4, 4, 3))], outputs=[s("o", (2,))])
    with pytest.raises(RuntimeError, match="2 inputs"):
        HailoModel("/m/two.hef")
    assert hrt.STATE.vdevices[0].released


def test_a_unique_group_is_refused_by_the_double(hrt: ModuleType):
    with pytest.raises(RuntimeError, match="UNIQUE group id"):
        HailoModel(CLS_HEF, group_id=hrt.HAILO_UNIQUE_VDEVICE_GROUP_ID)
    assert hailo_device._users == 0


# -- the double refuses what HailoRT would (or what would break sharing) ---------------------------


def shared_vdevice(hrt: ModuleType) -> Any:
    params = hrt.VDevice.create_params()
    params.group_id = "SHARED"
    return hrt.VDevice(params)


def configured(hrt: ModuleType, hef: str = CLS_HEF) -> tuple[Any, Any, Any]:
    dev = shared_vdevice(hrt)
    model = dev.create_infer_model(hef)
    for out in model.outputs:
        out.set_format_type(hrt.FormatType.FLOAT32)
    return dev, model, model.configure()


def test_double_create_infer_model_needs_a_live_shared_vdevice(hrt: ModuleType):
    with pytest.raises(hrt.HailoRTException, match="UNIQUE"):
        hrt.VDevice().create_infer_model(CLS_HEF)
    dev = shared_vdevice(hrt)
    dev.release()
    with pytest.raises(hrt.HailoRTException, match="released VDevice"):
        dev.create_infer_model(CLS_HEF)
    with pytest.raises(hrt.HailoRTException, match="HAILO_OPEN_FILE_FAILURE"):
        shared_vdevice(hrt).create_infer_model("/models/missing.hef")


def test_double_bindings_must_match_the_configured_format(hrt: ModuleType):
    _, _, cim = configured(hrt)
    b = cim.create_bindings()
    b.input().set_buffer(np.zeros((8, 8, 3), np.uint8))  # right
    for wrong in (np.zeros((8, 8, 3), np.float32), np.zeros((8, 8, 4), np.uint8), np.zeros(192, np.uint8)):
        with pytest.raises(hrt.HailoRTException, match="configured format"):
            b.input().set_buffer(wrong)
    with pytest.raises(hrt.HailoRTException, match="C_CONTIGUOUS"):
        b.input().set_buffer(np.zeros((8, 8, 6), np.uint8)[:, :, ::2])
    b.output(LOGITS).set_buffer(np.zeros(10, np.float32))
    with pytest.raises(hrt.HailoRTException, match="float32"):
        b.output(LOGITS).set_buffer(np.zeros(10, np.uint8))  # the output was configured FLOAT32
    with pytest.raises(hrt.HailoRTException, match="no output named"):
        b.output()  # two outputs: a name is needed
    with pytest.raises(hrt.HailoRTException, match="configured format"):
        cim.create_bindings(output_buffers={FEATS: np.zeros((4, 4), np.float32)})


def test_double_setters_only_before_configure(hrt: ModuleType):
    _, model, _ = configured(hrt)
    with pytest.raises(hrt.HailoRTException, match="after configure"):
        model.input().set_format_type(hrt.FormatType.FLOAT32)
    with pytest.raises(hrt.HailoRTException, match="after configure"):
        model.set_batch_size(2)
    _, det, _ = configured(hrt, DET_HEF)
    with pytest.raises(hrt.HailoRTException, match="after configure"):
        det.output().set_nms_score_threshold(0.5)


def test_double_nms_settings_only_on_nms_outputs_and_in_float(hrt: ModuleType):
    dev = shared_vdevice(hrt)
    model = dev.create_infer_model(CLS_HEF)
    model.output(LOGITS).set_nms_iou_threshold(0.5)  # accepted here, as HailoRT does...
    with pytest.raises(hrt.HailoRTException, match="no NMS"):
        model.configure()  # ...and refused by configure()
    det = dev.create_infer_model(DET_HEF)
    det.output().set_format_type(hrt.FormatType.UINT8)
    with pytest.raises(hrt.HailoRTException, match="FLOAT32"):
        det.configure()


def test_double_run_async_needs_wait_for_async_ready(hrt: ModuleType):
    _, _, cim = configured(hrt)

    def full() -> Any:
        return cim.create_bindings(
            input_buffers={"tiny_cls/input_layer1": frame(1)},
            output_buffers={FEATS: np.zeros((2, 2, 4), np.float32), LOGITS: np.zeros(10, np.float32)},
        )

    with pytest.raises(hrt.HailoRTException, match="without wait_for_async_ready"):
        cim.run_async([full()])
    cim.wait_for_async_ready(timeout_ms=100, frames_count=1)
    with pytest.raises(hrt.HailoRTException, match="without wait_for_async_ready"):
        cim.run_async([full(), full()])  # more frames than announced
    cim.run_async([full()]).wait(1000)
    with pytest.raises(hrt.HailoRTException, match="without wait_for_async_ready"):
        cim.run_async([full()])  # the announcement is used up
    with pytest.raises(hrt.HailoRTTimeout):
        cim.wait_for_async_ready(timeout_ms=100, frames_count=hrt.STATE.async_queue_size + 1)
    cim.wait_for_async_ready(timeout_ms=100)
    with pytest.raises(hrt.HailoRTException, match=r"output buffer\(s\)"):
        cim.run_async([cim.create_bindings(input_buffers={"tiny_cls/input_layer1": frame(1)})])


def test_double_no_use_after_release_and_the_vdevice_outlives_configured_models(hrt: ModuleType):
    dev, model, cim = configured(hrt)
    with pytest.raises(hrt.HailoRTException, match="configured infer model"):
        dev.release()  # a ConfiguredInferModel still uses it
    cim.shutdown()
    with pytest.raises(hrt.HailoRTException, match="after shutdown"):
        cim.create_bindings()
    dev.release()
    with pytest.raises(hrt.HailoRTException, match="VDevice was released"):
        model.configure()
    with pytest.raises(hrt.HailoRTException, match="VDevice was released"):
        _ = model.input().shape

    dev2, _, cim2 = configured(hrt)
    with cim2:
        pass  # leaving the context ends the ConfiguredInferModel too
    with pytest.raises(hrt.HailoRTException, match="leaving its context"):
        cim2.wait_for_async_ready()
    dev2.release()


def test_double_nms_buffer_round_trips_like_pyhailort(hrt: ModuleType):
    _, _, cim = configured(hrt, DET_HEF)
    per_class = [np.array([[0.1, 0.2, 0.3, 0.4, 0.5]]), np.empty((0, 5)), np.array([[0.0, 0.0, 1.0, 1.0, 0.9]] * 2)]
    hrt.STATE.script_infer({NMS_OUT: per_class})
    b = cim.create_bindings(
        input_buffers={"yolov8s/input_layer1": frame(0, (16, 16, 3))},
        output_buffers={NMS_OUT: np.zeros(63, np.float32)},
    )
    cim.wait_for_async_ready()
    cim.run_async([b]).wait(1000)
    raw = b.output().get_buffer(None)
    assert raw[:8].tolist() == pytest.approx([1, 0.1, 0.2, 0.3, 0.4, 0.5, 0, 2])
    decoded = b.output().get_buffer()
    assert [a.shape for a in decoded] == [(1, 5), (0, 5), (2, 5)]
    np.testing.assert_allclose(decoded[2], per_class[2])
