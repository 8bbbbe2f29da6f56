"""hailo-clip benchmark (CPU engine): embeddings/s through ``POST /v1/embeddings`` against the same engine
in-process.

One run starts ``hailo-services run hailo-clip --engine cpu`` and loads, in this process, the engine class
the service uses with the same files and threads. Two workloads, each timed in ``--rounds`` blocks of
``--n`` calls (targets alternate within a round):

* ``text x8``: 8 texts per call, all different from every earlier call (so the service's text cache never
  answers and both sides run the encoder); in-process: ``engine.embed_texts``;
* ``image``: one photo per call (scikit-image's astronaut, chelsea, coffee as JPEG, cycled) as a data URI
  in ``input``; in-process: ``decode_image`` + ``engine.embed_images``.

The ratio HTTP / in-process isolates HTTP, JSON (512 floats per vector, base64 with the openai client's
default), the data URI, and the queue. No package ships CLIP weights: by default both sides run the tiny
encoders of tests/services/clip/provision.py (the real exports' interfaces, a near-zero network), which
measures the service's own cost, not CLIP's. ``--models DIR`` takes a directory holding the catalog's real
ONNX files (clip-vit-b-32-vision-q8.onnx, clip-vit-b-32-text-q8.onnx).

    python bench/clip.py [--n 30] [--rounds 3] [--threads 2] [--models DIR] [--json out.json]
"""

from __future__ import annotations

import argparse
import base64
import itertools
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

from harness import (
    TESTS_DIR,
    Column,
    bench_config,
    bench_main,
    machine_environment,
    photos_as_jpeg,
    print_environment,
    print_table,
    start_service,
    time_calls,
    write_json,
)

TEXTS_PER_CALL = 8
WORDS = ("red", "green", "blue", "cat", "dog", "car", "photo", "square", "street", "garden", "kitchen", "night")


def place_models(models_dir: Path, real: Path | None) -> str:
    from hailo_services.clip.engine import load_catalog

    spec = load_catalog().get("clip_vit_b_32")
    image, text, _ = spec.artifacts("cpu")
    if real is not None:
        for a in (image, text):
            (models_dir / a.file).symlink_to((real / a.file).resolve())
        return f"real ONNX from {real}"
    sys.path.append(str(TESTS_DIR))  # appended: bench/'s harness must stay the one imported
    sys.path.append(str(TESTS_DIR / "services" / "clip"))
    import provision

    provision.provision(models_dir.parent)
    return "tiny encoders (tests/services/clip/provision.py: the exports' interfaces, near-zero networks)"


def text_batches() -> Any:
    """Endless batches of 8 distinct texts, never repeated."""
    counter = itertools.count()

    def batch() -> list[str]:
        n = next(counter)
        return [f"a photo of a {WORDS[(n + i) % len(WORDS)]} number {n * TEXTS_PER_CALL + i}" for i in range(8)]

    return batch


def run(args: argparse.Namespace) -> int:
    from hailo_services.clip.cpu import ClipOnnxEngine
    from hailo_services.clip.engine import load_catalog
    from hailo_services.core.images import decode_image
    from hailo_services.core.model_store import locate
    from hailo_services.core.settings import ImageInputSettings

    env = machine_environment()
    print_environment(env)
    work = Path(tempfile.mkdtemp(prefix="hailo-bench-clip-"))
    models = work / "models"
    models.mkdir()
    what = place_models(models, args.models)
    print(f"model: {what}\n")
    spec = load_catalog().get("clip_vit_b_32")
    paths = [locate(models, a) for a in spec.artifacts("cpu")]
    engine = ClipOnnxEngine(args.threads)
    engine.load(spec, paths)  # type: ignore[arg-type]
    photos = photos_as_jpeg()
    uris = ["data:image/jpeg;base64," + base64.b64encode(b).decode() for _, b in photos]
    limits = ImageInputSettings()
    svc = start_service("hailo-clip", bench_config(work, models, "clip_vit_b_32", args.threads), workdir=work)
    rows: list[dict[str, Any]] = []
    try:
        client = httpx.Client(base_url=svc.url, timeout=120)
        texts_http, texts_local = text_batches(), text_batches()
        photo_http, photo_local = itertools.cycle(uris), itertools.cycle(photos)

        def http_text() -> None:
            r = client.post("/v1/embeddings", json={"input": texts_http(), "encoding_format": "base64"})
            r.raise_for_status()

        def local_text() -> None:
            engine.embed_texts(texts_local())

        def http_image() -> None:
            r = client.post("/v1/embeddings", json={"input": next(photo_http), "encoding_format": "base64"})
            r.raise_for_status()

        def local_image() -> None:
            engine.embed_images([decode_image(next(photo_local)[1], limits).rgb])

        targets = [
            ("text x8", "in-process", local_text, TEXTS_PER_CALL),
            ("text x8", "HTTP", http_text, TEXTS_PER_CALL),
            ("image", "in-process", local_image, 1),
            ("image", "HTTP", http_image, 1),
        ]
        samples: dict[tuple[str, str], list[Any]] = {(w, t): [] for w, t, _, _ in targets}
        for _ in range(args.rounds):
            for work_name, target, fn, per_call in targets:
                samples[(work_name, target)].append((time_calls(fn, args.n, warmup=2), per_call))
        for (work_name, target), runs in samples.items():
            per_call = runs[0][1]
            local = samples[(work_name, "in-process")]
            rows.append(
                {
                    "workload": work_name,
                    "target": target,
                    "n": sum(t.n for t, _ in runs),
                    "emb_s": statistics.median(t.rate * per_call for t, _ in runs),
                    "p50": statistics.median(t.p50 for t, _ in runs),
                    "p99": statistics.median(t.p99 for t, _ in runs),
                    "ratio": statistics.median(t.p50 / lt.p50 for (t, _), (lt, _) in zip(runs, local, strict=True)),
                }
            )
    finally:
        svc.stop()
        engine.unload()
    print_table(
        rows,
        [
            Column("workload", align="<"),
            Column("target", align="<"),
            Column("n", fmt="d"),
            Column("emb_s", "embeddings/s", fmt=".1f"),
            Column("p50", "p50 ms", fmt=".2f"),
            Column("p99", "p99 ms", fmt=".2f"),
            Column("ratio", "p50 / in-process", fmt=".2f"),
        ],
    )
    if args.json:
        write_json(args.json, {"environment": env, "model": what, "rows": rows})
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=30, help="timed calls per block")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--models", type=Path, default=None, help="directory with the catalog's real ONNX files")
    p.add_argument("--json", type=Path, default=None)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return bench_main(run, parse_args, argv)


if __name__ == "__main__":
    sys.exit(main())
