"""Streaming benchmark with an image: hailo-vision (CPU engine) against the bare llama.cpp server that
xllamacpp embeds, both with the same GGUF and vision projector (mmproj).

llm.py's method (see README.md), with a photo in the user message:

* **baseline**: ``xllamacpp.Server(params)`` with the mmproj (``params.mmproj.path``), the threads and
  context of hailo_services.vision.cpu; it gets the picture as our engine hands it over: resized to the
  model's frame (336x336) and encoded as a data URI (BMP), by the service's own functions;
* **ours**: ``hailo-services run hailo-vision --engine cpu``, sent the client's JPEG: OpenAI
  ``/v1/chat/completions`` (SSE, an ``image_url`` data-URI part) and Ollama ``/api/chat`` (NDJSON, ``images``).

Decoding the JPEG, resizing it and encoding the PNG are work only ours does (a real cost, not serving
overhead); they are timed here in-process and reported apart. Goals: >= 1.0x the baseline's tokens/s,
and TTFT <= the baseline's + 10 ms + that image preparation.

    python bench/vision_llm.py [--model-dir DIR] [--rounds 5] [--max-tokens 64] [--threads 2] [--json out.json]

Without ``--model-dir`` it runs the test stand-in (tools/tiny_vision_model.py: SmolLM2-135M with a tiny
random Qwen2-VL projector), whose text is meaningless. Exit status: 0 when the benchmark ran (whether
or not the goals are met), non-zero on errors.
"""

from __future__ import annotations

import argparse
import base64
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

# bench/ is sys.path[0] when this runs as `python bench/vision_llm.py`.
from harness import (
    Proc,
    Service,
    bench_config,
    bench_main,
    photos_as_jpeg,
    start_service,
    time_calls,
    write_json,
)
from llm import (
    BASELINE,
    GOAL_TTFT_DELTA_MS,
    SYSTEM,
    Request,
    add_common_args,
    check_common_args,
    drive,
    environment,
    ollama_request,
    openai_request,
    print_report,
    start_baseline,
    summarise,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = "qwen2-vl:2b"
PHOTO = "chelsea"
PROMPT = "Describe this photo in detail: the animal, its fur, its eyes, and the background."
STAND_IN = "stand-in: SmolLM2-135M + random projector, meaningless text (tools/tiny_vision_model.py)"

OURS_OPENAI = "hailo-vision /v1/chat/completions"
OURS_OLLAMA = "hailo-vision /api/chat"
TARGETS = (BASELINE, OURS_OPENAI, OURS_OLLAMA)


# ------------------------------------------------------------------------------------------ the model


def model_files(model: str, model_dir: Path | None, workdir: Path) -> tuple[Path, Path, str]:
    """(GGUF, mmproj, description) at the catalog's file names: in ``model_dir``, or the stand-in
    written into ``workdir``."""
    from hailo_services.vision.catalog import catalog

    gguf, mmproj = (a.file for a in catalog().get(model).artifacts("cpu"))
    if model_dir is None:
        model_dir = workdir / "models"
        tool = ROOT / "tools" / "tiny_vision_model.py"
        subprocess.run([sys.executable, str(tool), str(model_dir)], check=True, stdout=subprocess.DEVNULL)
        what = STAND_IN
    else:
        what = f"{model} from {model_dir}"
    paths = model_dir / gguf, model_dir / mmproj
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise SystemExit(f"bench: {model} needs {', '.join(missing)} (hailo-services pull hailo-vision {model})")
    sizes = " + ".join(f"{p.name} {p.stat().st_size / 1e6:.1f} MB" for p in paths)
    return paths[0], paths[1], f"{what}: {sizes}"


# ------------------------------------------------------------------------------------------ the image


def image_prep(jpeg: bytes, frame_size: tuple[int, int], n: int = 30) -> tuple[str, dict[str, float]]:
    """What our service does to the client's image before llama.cpp sees it, step by step, with the
    service's own functions: (the data URI it produces, p50 ms of each step and their total)."""
    from hailo_services.core.images import decode_image
    from hailo_services.core.settings import ImageInputSettings
    from hailo_services.vision.processing import frame_data_uri, to_frame

    limits = ImageInputSettings()
    b64 = base64.b64encode(jpeg).decode("ascii")
    rgb = decode_image(base64.b64decode(b64), limits).rgb
    frame = to_frame(rgb, frame_size)
    steps = {
        "decode": lambda: decode_image(base64.b64decode(b64), limits),
        "resize": lambda: to_frame(rgb, frame_size),
        "encode": lambda: frame_data_uri(frame),
    }
    ms = {name: time_calls(fn, n, warmup=3).p50 for name, fn in steps.items()}
    ms["total"] = sum(ms.values())
    return frame_data_uri(frame), ms


def messages_for(mode: str, content: list[dict[str, Any]] | str, images: list[str] | None = None) -> list[dict]:
    # miss: a fresh id in the system message, before the image, so that no server has the image cached.
    system = SYSTEM if mode == "hit" else f"[request {uuid.uuid4().hex[:8]}] {SYSTEM}"
    user: dict[str, Any] = {"role": "user", "content": content}
    if images is not None:
        user["images"] = images
    return [{"role": "system", "content": system}, user]


def image_parts(url: str) -> list[dict[str, Any]]:
    # The image before the text, where our engine puts it (vision/cpu.py), so both prompts are the same.
    return [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": PROMPT}]


# ---------------------------------------------------------------------------------------------- main


def run(args: argparse.Namespace) -> int:
    from hailo_services.vision.catalog import catalog

    spec = catalog().get(args.model)
    (photo_name, jpeg), *_ = photos_as_jpeg((PHOTO,))
    png_uri, prep = image_prep(jpeg, spec.frame_size)
    jpeg_b64 = base64.b64encode(jpeg).decode("ascii")
    ttft_goal_ms = GOAL_TTFT_DELTA_MS + prep["total"]

    with tempfile.TemporaryDirectory(prefix="hailo-bench-vision-") as tmp:
        workdir = Path(tmp)
        gguf, mmproj, model_desc = model_files(args.model, args.model_dir, workdir)
        image = {
            "image": f"{photo_name} (scikit-image), {len(jpeg) / 1e3:.1f} kB JPEG q90; the baseline gets it "
            f"{spec.frame_size[0]}x{spec.frame_size[1]} as a {len(png_uri) / 1e3:.1f} kB BMP data URI",
            "image prep": f"ours only, p50 in-process: decode {prep['decode']:.2f} ms + resize "
            f"{prep['resize']:.2f} ms + encode {prep['encode']:.2f} ms = {prep['total']:.2f} ms",
        }
        cache = (
            "hit: identical prompt and image to every request (each server reuses its KV cache, image included)"
            if args.prompt_cache == "hit"
            else "miss: a fresh nonce in the system message, before the image (image encoded every time)"
        )
        env = environment(args, model_desc, dict(spec.defaults), cache, image)

        def start(servers: dict[str, Proc | Service]) -> Callable[[str], Request]:
            print(f"starting llama.cpp baseline and hailo-vision ({model_desc})...", flush=True)
            servers["baseline"], base_url = start_baseline(workdir, gguf, args.threads, args.num_ctx, mmproj)
            config = bench_config(workdir, gguf.parent, args.model, args.threads, num_ctx=args.num_ctx)
            servers["service"] = service = start_service("hailo-vision", config, workdir=workdir, engine="cpu")

            def request_for(target: str) -> Request:
                mode, n, seed = args.prompt_cache, args.max_tokens, args.seed
                if target == BASELINE:
                    messages = messages_for(mode, image_parts(png_uri))
                    return openai_request(base_url, messages, n, seed, dict(spec.defaults))
                if target == OURS_OPENAI:
                    messages = messages_for(mode, image_parts(f"data:image/jpeg;base64,{jpeg_b64}"))
                    return openai_request(service.url, messages, n, seed, {"model": args.model})
                messages = messages_for(mode, PROMPT, [jpeg_b64])
                return ollama_request(service.url, args.model, messages, n, seed)

            return request_for

        samples = drive(TARGETS, start, args.rounds, args.settle)
    if samples is None:
        return 1

    summaries = summarise(samples, TARGETS, BASELINE, ttft_goal_ms)
    goal = f"+{GOAL_TTFT_DELTA_MS:g} ms + image prep {prep['total']:.1f} ms = +{ttft_goal_ms:.1f} ms"
    print_report(env, summaries, BASELINE, goal)
    print()
    print(f"extra TTFT split (image prep measured in-process: {prep['total']:.1f} ms)")
    for s in summaries:
        if s.ttft_delta_ms is not None:
            print(
                f"  {s.target:<{len(BASELINE)}}  TTFT {s.ttft_delta_ms:+7.1f} ms = image prep {prep['total']:5.1f} ms "
                f"+ serving {s.ttft_delta_ms - prep['total']:+7.1f} ms (goal <= +{GOAL_TTFT_DELTA_MS:g})"
            )
    if args.json:
        write_json(
            args.json,
            {
                "environment": env,
                "image_prep_ms": prep,
                "summary": [asdict(s) for s in summaries],
                "samples": [asdict(s) for s in samples],
            },
        )
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(p, max_tokens=64)
    p.add_argument(
        "--model-dir",
        type=Path,
        help="directory with the model's GGUF and mmproj at the catalog's file names (default: the stand-in, "
        "SmolLM2-135M + a random projector, written to a temporary directory)",
    )
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"hailo-vision catalog model (default {DEFAULT_MODEL})")
    args = check_common_args(p, p.parse_args(argv))
    if args.model_dir is not None:
        args.model_dir = args.model_dir.expanduser().resolve()
        if not args.model_dir.is_dir():
            p.error(f"--model-dir: no such directory: {args.model_dir}")
    elif args.model != DEFAULT_MODEL:
        p.error(f"--model {args.model} needs --model-dir (the stand-in is written for {DEFAULT_MODEL} only)")
    return args


def main(argv: list[str] | None = None) -> int:
    return bench_main(run, parse_args, argv)


if __name__ == "__main__":
    sys.exit(main())
