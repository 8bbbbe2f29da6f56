"""COCO label sets: the 80 classes YOLO models are trained on, and the TF Object Detection API's
90-id numbering that SSD-MobileNet uses.

Names are the ones Frigate, Home Assistant and ultralytics use ("motorcycle", "airplane", "couch",
"tv", "cell phone", "hair drier"), not darknet's ("motorbike", "aeroplane", "sofa", "tvmonitor"),
because Frigate's object filters and zones match on these strings. Frigate's own Coral label map
renames "truck" to "car"; that is a per-deployment choice it makes in its label map, so we report
the COCO class as it is and leave renaming to the client's configuration.
"""

from __future__ import annotations

# Index = YOLO class id (the order of COCO's 80 used categories).
COCO80: tuple[str, ...] = (
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
)

# The COCO paper defined 91 category ids (1..90 used in the TF OD API's label map); these ten were
# never annotated, so no 2017 detector predicts them and COCO-80 has no entry for them.
COCO90_UNUSED: frozenset[int] = frozenset({12, 26, 29, 30, 45, 66, 68, 69, 71, 83})


def _coco90_to_80() -> dict[int, int]:
    used = [i for i in range(1, 91) if i not in COCO90_UNUSED]
    assert len(used) == len(COCO80)
    return {tf_id: idx for idx, tf_id in enumerate(used)}


# TF OD API class id (1..90) → COCO-80 index; ids missing here have no COCO-80 class.
COCO90_TO_80: dict[int, int] = _coco90_to_80()

LABEL_SETS: dict[str, tuple[str, ...]] = {"coco80": COCO80}

_INDEX = {name: i for i, name in enumerate(COCO80)}


def labels_for(name: str) -> tuple[str, ...]:
    try:
        return LABEL_SETS[name]
    except KeyError:
        raise ValueError(f"unknown label set {name!r} (known: {', '.join(sorted(LABEL_SETS))})") from None


def class_ids_for(names: list[str] | tuple[str, ...], labels: tuple[str, ...] = COCO80) -> frozenset[int]:
    """Class ids of label names (case-insensitive); unknown names raise ValueError naming them."""
    index = _INDEX if labels is COCO80 else {n: i for i, n in enumerate(labels)}
    ids, unknown = set(), []
    for name in names:
        key = name.strip().lower()
        if key in index:
            ids.add(index[key])
        else:
            unknown.append(name)
    if unknown:
        raise ValueError(f"unknown label(s): {', '.join(unknown)}")
    return frozenset(ids)
