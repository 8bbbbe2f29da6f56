"""OCR benchmark: hailo-ocr (CPU engine) over HTTP and in-process against rapidocr's own pipeline, in one run.

All three read the same PNG (a page of text rendered by Pillow, ``--lines`` lines) with the same ONNX
files (PP-OCRv6 small det + rec from the rapidocr wheel) and the same onnxruntime threads:

* ``rapidocr``: the baseline, ``rapidocr.RapidOCR`` in this process, given the PNG bytes, with the
  settings our service uses: no angle classifier (our pipeline has none), ``Det.limit_type: max`` with
  ``limit_side_len`` = the catalog's ``det_max_side`` (960), ``text_score`` 0.5 = our ``rec_threshold``;
* ``hailo-ocr in-process``: ``core.images.decode_image`` of the bytes, then the service's engine class
  (``ocr/cpu.py``) ``read`` with the API's default parameters: the service minus transport;
* ``hailo-ocr HTTP``: ``POST /v1/ocr`` with multipart ``image`` to ``hailo-services run hailo-ocr`` in a
  subprocess, one request at a time over a keep-alive ``httpx.Client``.

Each round times a block of ``--n`` calls per target, the order rotating from round to round so drift
hits all alike. Goals: hailo-ocr HTTP at least **1.0x** rapidocr's requests/s, and HTTP at most **5 %**
slower than in-process at p50. The texts read are compared word by word too.

rapidocr's own dependencies (omegaconf, colorlog, pyclipper, shapely, tqdm, six) are not in the project's
extras (it is installed ``--no-deps`` as a model carrier): ``pip install omegaconf colorlog pyclipper
shapely tqdm six`` into the venv to run the baseline.

    python bench/ocr.py [--n 10] [--rounds 3] [--threads 2] [--lines 12] [--json out.json]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
from pathlib import Path

import httpx

from harness import (
    Column,
    Timings,
    bench_config,
    bench_main,
    load_average,
    machine_environment,
    print_environment,
    print_table,
    ratio,
    start_service,
    time_calls,
    verdict,
)

PAGE_LINES = [
    "Invoice 2025-0412  Hailo Services Ltd",
    "Bill to: Jane Maker, 12 Workshop Lane",
    "Raspberry Pi 5 8GB            $80.00",
    "AI HAT+ 2 (Hailo-10H)         $130.00",
    "USB-C power supply 27W        $12.00",
    "microSD card 64GB             $9.50",
    "Active cooler                 $5.00",
    "Subtotal                      $236.50",
    "Shipping                      $7.90",
    "VAT 20%                       $48.88",
    "Total due                     $293.28",
    "Thank you for your order!",
]


def page_png(lines: int) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    text = (PAGE_LINES * (lines // len(PAGE_LINES) + 1))[:lines]
    font = ImageFont.load_default(size=28)
    page = Image.new("RGB", (1000, 60 + 48 * lines), "white")
    draw = ImageDraw.Draw(page)
    for i, line in enumerate(text):
        draw.text((40, 30 + 48 * i), line, fill="black", font=font)
    buf = io.BytesIO()
    page.save(buf, format="PNG")
    return buf.getvalue()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=10, help="calls per target per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads, every target")
    p.add_argument("--lines", type=int, default=12, help="lines of text on the page")
    p.add_argument("--json", type=Path, help="write the raw samples here")
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    from hailo_services.core.images import decode_image
    from hailo_services.core.model_store import locate
    from hailo_services.core.settings import ImageInputSettings
    from hailo_services.ocr.api import OcrForm
    from hailo_services.ocr.cpu import PaddleOcrOnnxEngine
    from hailo_services.ocr.engine import OcrParams, load_catalog

    try:
        from rapidocr import RapidOCR
    except ImportError as exc:
        print(f"rapidocr cannot be imported ({exc}); see this script's docstring for its dependencies")
        return 2

    spec = load_catalog().get("paddleocr")
    assert spec is not None
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        paths = [locate(workdir, a) for a in spec.artifacts("cpu")]
        if not all(paths):
            print("the rapidocr wheel's ONNX files are missing: pip install --no-deps -r requirements-models.txt")
            return 2
        det_path, rec_path = (str(p) for p in paths)
        png = page_png(args.lines)

        baseline = RapidOCR(
            params={
                "Global.use_cls": False,
                "Global.text_score": 0.5,
                "Global.log_level": "warning",
                "Det.model_path": det_path,
                "Det.limit_type": "max",
                "Det.limit_side_len": spec.det_max_side,
                "Rec.model_path": rec_path,
                "EngineConfig.onnxruntime.intra_op_num_threads": args.threads,
                "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            }
        )
        engine = PaddleOcrOnnxEngine(args.threads)
        engine.load(spec, paths)  # type: ignore[arg-type]
        defaults = OcrForm()
        params = OcrParams(
            det_threshold=defaults.det_threshold,
            min_confidence=defaults.min_confidence,
            rec_threshold=defaults.rec_threshold,
        )
        limits = ImageInputSettings()
        texts: dict[str, str] = {}

        def rapid() -> None:
            texts["rapidocr"] = "\n".join(baseline(png).txts or ())

        def in_process() -> None:
            texts["hailo-ocr in-process"] = engine.read(decode_image(png, limits).rgb, params).text

        config = bench_config(workdir, workdir / "models", "paddleocr", args.threads)
        service = start_service("hailo-ocr", config, workdir=workdir)
        client = httpx.Client(timeout=120)
        try:

            def http() -> None:
                r = client.post(f"{service.url}/v1/ocr", files={"image": ("page.png", png, "image/png")})
                r.raise_for_status()
                texts["hailo-ocr HTTP"] = r.json()["text"]

            targets = {"rapidocr": rapid, "hailo-ocr in-process": in_process, "hailo-ocr HTTP": http}
            samples: dict[str, list[float]] = {name: [] for name in targets}
            walls: dict[str, float] = dict.fromkeys(targets, 0.0)
            names = list(targets)
            for rnd in range(args.rounds):
                for name in names[rnd % len(names) :] + names[: rnd % len(names)]:
                    t: Timings = time_calls(targets[name], args.n, warmup=1 if rnd == 0 else 0)
                    samples[name] += t.latencies_ms
                    walls[name] += t.wall_s
                service.check_alive()
        finally:
            client.close()
            service.stop()
            engine.unload()

    rows = []
    for name, lat in samples.items():
        t = Timings(latencies_ms=lat, wall_s=walls[name], concurrency=1)
        rows.append({"target": name, "rate": t.rate, "p50": t.p50, "p99": t.p99, "n": t.n})
    by = {r["target"]: r for r in rows}
    print_environment(
        {
            **machine_environment(),
            "load average": load_average(),
            "threads": args.threads,
            "page": f"{args.lines} lines, {len(png)} bytes PNG",
            "det / rec": f"{Path(det_path).name} / {Path(rec_path).name}",
        }
    )
    print()
    print_table(
        rows,
        [
            Column("target", "target", align="<"),
            Column("rate", "req/s", ".2f"),
            Column("p50", "p50 ms", ".1f"),
            Column("p99", "p99 ms", ".1f"),
            Column("n", "n"),
        ],
    )
    speed = ratio(by["hailo-ocr HTTP"]["rate"], by["rapidocr"]["rate"])
    engine_speed = ratio(by["hailo-ocr in-process"]["rate"], by["rapidocr"]["rate"])
    overhead = ratio(by["hailo-ocr HTTP"]["p50"], by["hailo-ocr in-process"]["p50"])
    print()
    print(f"hailo-ocr HTTP / rapidocr throughput:        {speed:.2f}x  (goal >= 1.0x) {verdict(speed >= 1.0)}")
    print(f"hailo-ocr in-process / rapidocr throughput:  {engine_speed:.2f}x")
    print(
        f"HTTP overhead at p50 (HTTP / in-process):    {(overhead - 1) * 100:+.1f} %  (goal <= 5 %) "
        f"{verdict(overhead <= 1.05)}"
    )
    # rapidocr lists boxes, one per line of its txts; ours joins the boxes of a row: compare the words.
    same = len({tuple(text.split()) for text in texts.values()}) == 1
    print(f"same words from every target:                {'yes' if same else 'NO'}")
    if not same:
        for name, text in texts.items():
            print(f"  {name}: {text!r}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "samples": samples, "texts": texts}, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    return bench_main(run, parse_args, argv)


if __name__ == "__main__":
    sys.exit(main())
