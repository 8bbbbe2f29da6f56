"""Vision benchmark: hailo-detect, hailo-pose and hailo-depth (CPU engine) over HTTP against the same engine in-process.

For each service one run starts ``hailo-services run NAME --engine cpu`` in a subprocess and loads, in
this process, the very engine class the service uses with the same files and threads. Both sides get
the same JPEG bytes (scikit-image's astronaut, chelsea and coffee photos, cycled), and the in-process
call does what the service does besides transport: ``decode_image`` of those bytes, then
``engine.detect(rgb, params)`` with the service's default params. So the ratio HTTP / in-process at p50
isolates HTTP + FastAPI + the per-model queue + JSON. Goal: at most 5 % overhead at p50.

Targets per service, timed in blocks of ``--n`` calls whose order rotates from round to round:

* ``in-process``: decode + engine, one call at a time;
* ``HTTP``: multipart ``image`` the way Frigate's deepstack detector posts it (hailo-detect:
  ``/v1/vision/detection``, plus the COCO route ``/v1/detect``; hailo-pose: ``/v1/pose/detect``), one at a
  time over a keep-alive ``httpx.Client``;
* ``HTTP c=4``: the same route from 4 threads at once. The per-model queue serialises them, so images/s
  should match the sequential row while latency grows about 4x.

hailo-pose has no packaged CPU weights: by default it runs the tiny graph of ``tests/tiny_models.py``
(the YOLOv8-pose export's interface with a constant answer), which measures the service's overhead
(decode, letterbox, HTTP) around a near-zero network, not a real network. ``--pose-model PATH`` takes a
real YOLOv8-pose ONNX instead.

hailo-depth likewise: by default the tiny network of ``tests/tiny_models.py`` (scdepthv3's layout,
one ReduceMean), so the rows measure decode, resize, post-processing, the map back at the source size
and its stats around a near-zero network. Its in-process call does what the route does for the
default ``output=stats`` answer: ``engine.estimate(rgb)`` then ``processing.stats`` of the map.
``--depth-model PATH`` takes the model zoo's real ``scdepthv3.zip`` instead.

    python bench/vision.py [--n 40] [--rounds 3] [--threads 2] [--services detect,pose,depth] \
        [--pose-model yolov8s-pose.onnx] [--depth-model scdepthv3.zip] [--json out.json]

Exit status: 0 when the benchmark ran (whether or not the goal is met), non-zero on errors.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

# bench/ is sys.path[0] when this runs as `python bench/vision.py`.
from harness import (
    Column,
    CpuMeter,
    Service,
    bench_config,
    bench_main,
    existing_file,
    fmt_opt,
    load_average,
    machine_environment,
    median_delta,
    median_ratio,
    photos_as_jpeg,
    place_pose_model,
    print_environment,
    print_table,
    start_service,
    time_calls,
    verdict,
    write_json,
)

GOAL_P50_RATIO = 1.05  # HTTP p50 / in-process p50, at most
NOISY_LOAD = 0.2  # cores used by other processes that make a run noisy
CONCURRENCY = 4
REQUEST_TIMEOUT_S = 120.0


IN_PROCESS = "in-process"


# --------------------------------------------------------------------------------------------- data


@dataclass
class Sample:
    """One timed block: ``n`` calls of one target in one round."""

    service: str
    target: str
    round: int
    concurrency: int
    n: int
    rate: float  # images/s over the block's wall time
    p50_ms: float
    p99_ms: float
    engine_ms_p50: float | None  # engine.detect alone: timed here in-process, reported by the service over HTTP
    cpu_ms_per_image: float | None  # CPU of the process running the engine (this one, or the service)
    client_cpu_ms_per_image: float | None  # CPU of this process during HTTP blocks (httpx, JSON)
    other_load: float | None  # cores used by other processes meanwhile
    latencies_ms: list[float] = field(repr=False)
    engine_ms: list[float] = field(repr=False)


@dataclass
class Row:
    service: str
    target: str
    concurrency: int
    n: int  # timed calls over all rounds
    rate: float
    p50_ms: float
    p99_ms: float
    engine_ms_p50: float | None
    cpu_ms_per_image: float | None
    other_load: float | None
    p50_ratio: float | None = None  # median over rounds of HTTP p50 / in-process p50 (same round)
    p50_delta_ms: float | None = None  # median over rounds of HTTP p50 - in-process p50
    rate_ratio: float | None = None  # median over rounds of HTTP images/s / in-process images/s
    passed: bool | None = None


@dataclass
class Target:
    name: str
    call: Callable[[], float | None]  # one image; returns the engine's ms for it when known
    concurrency: int = 1
    http: bool = True
    goal: bool = False  # judged against GOAL_P50_RATIO (sequential HTTP rows)


class Cycle:
    """The next image for whichever thread asks; reset before each block so every target gets the same
    sequence of images."""

    def __init__(self, images: list[tuple[str, bytes]]):
        self.images = images
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._it = itertools.cycle(self.images)

    def next(self) -> tuple[str, bytes]:
        with self._lock:
            return next(self._it)


# ------------------------------------------------------------------------------------------- services


@dataclass
class Setup:
    """One service under test: the running service, the in-process engine and how to call both."""

    service: str
    svc: Service
    engine: Any
    params: Any
    routes: list[str]  # HTTP routes; the first is the main one (the one with a c=4 row)
    model: str
    describe: str  # for the environment block
    count: Callable[[dict[str, Any]], int]  # objects in an HTTP answer
    engine_ms_of: Callable[[dict[str, Any]], float | None]  # the engine time an HTTP answer reports
    tiny: bool = False
    # The in-process call on a decoded image (default: engine.detect with params) and how many objects
    # its result holds (to compare with ``count`` of the HTTP answer).
    infer: Callable[[Any], Any] | None = None
    count_local: Callable[[Any], int] = len

    def run(self, rgb: Any) -> Any:
        return self.infer(rgb) if self.infer is not None else self.engine.detect(rgb, self.params)


def locate_paths(spec: Any, models_dir: Path) -> list[Path]:
    """The files the service resolves for ``spec``: models_dir first, then the shipping package."""
    from hailo_services.core.model_store import locate

    paths = []
    for artifact in spec.artifacts("cpu"):
        path = locate(models_dir, artifact)
        if path is None:
            raise SystemExit(f"bench: {spec.name}: {artifact.file} is neither in {models_dir} nor in its package")
        paths.append(path)
    return paths


def setup_detect(workdir: Path, threads: int) -> Setup:
    from hailo_services.detect.cpu import make_cpu_engine
    from hailo_services.detect.engine import DetectParams, load_catalog
    from hailo_services.services import SERVICES

    model = SERVICES["hailo-detect"].default_model["cpu"]
    spec = load_catalog().get(model)
    assert spec is not None, model
    # An empty store: the service and this process both find the packaged model the same way.
    models_dir = workdir / "models"
    models_dir.mkdir()
    paths = locate_paths(spec, models_dir)
    engine = make_cpu_engine(spec, threads)
    engine.load(spec, paths)
    svc = start_service("hailo-detect", bench_config(workdir, models_dir, model, threads), workdir=workdir)
    return Setup(
        service="hailo-detect",
        svc=svc,
        engine=engine,
        # Settings' min_confidence / iou_threshold defaults, what the service uses when a client sends none.
        params=DetectParams(confidence=0.4, iou_threshold=0.45),
        routes=["/v1/vision/detection", "/v1/detect"],
        model=model,
        describe=f"{model} ({type(engine).__name__}, {', '.join(p.name for p in paths)})",
        count=lambda body: len(body.get("predictions", body.get("detections", []))),
        engine_ms_of=lambda body: body.get("inferenceMs", body.get("inference_ms")),
    )


def setup_pose(workdir: Path, threads: int, pose_model: Path | None) -> Setup:
    from hailo_services.pose.cpu import make_cpu_engine
    from hailo_services.pose.engine import PoseParams, load_catalog

    model = "yolov8s_pose"
    spec = load_catalog().get(model)
    assert spec is not None, model
    artifact = spec.artifact("cpu")
    assert artifact is not None, model
    models_dir = workdir / "models"
    models_dir.mkdir()
    target = models_dir / artifact.file  # the file name the catalog expects, so the service finds it
    source = place_pose_model(target, pose_model)
    paths = locate_paths(spec, models_dir)
    engine = make_cpu_engine(spec, threads)
    engine.load(spec, paths)
    svc = start_service("hailo-pose", bench_config(workdir, models_dir, model, threads), workdir=workdir)
    return Setup(
        service="hailo-pose",
        svc=svc,
        engine=engine,
        params=PoseParams(),  # = PoseForm's defaults
        routes=["/v1/pose/detect"],
        model=model,
        describe=f"{model} as {artifact.file} ({type(engine).__name__}): {source}",
        count=lambda body: len(body["poses"]),
        engine_ms_of=lambda body: body.get("inference_ms"),
        tiny=pose_model is None,
    )


def setup_depth(workdir: Path, threads: int, depth_model: Path | None) -> Setup:
    from hailo_services.depth import processing
    from hailo_services.depth.cpu import DepthOnnxEngine
    from hailo_services.depth.engine import load_catalog

    model = "scdepthv3"
    spec = load_catalog().get(model)
    assert spec is not None, model
    artifact = spec.artifact("cpu")
    assert artifact is not None, model
    models_dir = workdir / "models"
    models_dir.mkdir()
    target = models_dir / artifact.file
    if depth_model is not None:
        target.symlink_to(depth_model)
        source = str(depth_model)
    else:
        # Appended, not prepended: tests/ has its own harness.py, and bench/'s must stay the one imported.
        sys.path.append(str(Path(__file__).resolve().parents[1] / "tests"))
        from tiny_models import DEPTH_TINY, depth_zoo_zip

        depth_zoo_zip(target, spec.onnx_member, **DEPTH_TINY[model])
        source = "tiny network (tests/tiny_models.py depth_network: scdepthv3's layout, one ReduceMean)"
    paths = locate_paths(spec, models_dir)
    engine = DepthOnnxEngine(threads)
    engine.load(spec, paths)
    svc = start_service("hailo-depth", bench_config(workdir, models_dir, model, threads), workdir=workdir)

    def infer(rgb: Any) -> Any:
        dm = engine.estimate(rgb)
        processing.stats(dm.values)  # the default answer's work besides transport
        return dm

    return Setup(
        service="hailo-depth",
        svc=svc,
        engine=engine,
        params=None,
        routes=["/v1/depth/estimate"],
        model=model,
        describe=f"{model} as {artifact.file} ({type(engine).__name__}): {source}",
        count=lambda body: body["depth_shape"][0] * body["depth_shape"][1],
        engine_ms_of=lambda body: body.get("inference_ms"),
        tiny=depth_model is None,
        infer=infer,
        count_local=lambda dm: dm.values.size,
    )


# ------------------------------------------------------------------------------------------- targets


def make_targets(s: Setup, client: httpx.Client, cycle: Cycle) -> list[Target]:
    from hailo_services.core.images import decode_image
    from hailo_services.core.settings import ImageInputSettings

    limits = ImageInputSettings()  # the service's defaults (its config sets no `images`)

    def in_process() -> float:
        _, jpeg = cycle.next()
        # content_type: what the multipart part carries, so decode_image makes the same checks.
        image = decode_image(jpeg, limits, content_type="image/jpeg")
        t0 = time.perf_counter()
        s.run(image.rgb)
        return (time.perf_counter() - t0) * 1000

    def http(route: str) -> Callable[[], float | None]:
        url = f"{s.svc.url}{route}"

        def post() -> float | None:
            name, jpeg = cycle.next()
            # Frigate's deepstack detector: one multipart file field `image`, nothing else by default.
            r = client.post(url, files={"image": (name, jpeg, "image/jpeg")})
            if r.status_code != 200:
                raise RuntimeError(f"{s.service} {route}: HTTP {r.status_code}: {r.text[:300]}")
            # Parsing the answer is the client's side of JSON, which the in-process call never pays.
            ms = s.engine_ms_of(r.json())
            return float(ms) if ms is not None else None

        return post

    main = s.routes[0]
    targets = [Target(IN_PROCESS, in_process, http=False), Target(f"HTTP {main}", http(main), goal=True)]
    targets += [Target(f"HTTP {route}", http(route), goal=True) for route in s.routes[1:]]
    targets.append(Target(f"HTTP {main} c={CONCURRENCY}", http(main), concurrency=CONCURRENCY))
    return targets


def check_agreement(s: Setup, client: httpx.Client, images: list[tuple[str, bytes]]) -> list[str]:
    """Same image, same params: both sides should find the same number of objects. A difference means
    the two sides do not run the same thing, and the ratio would not mean what it says."""
    from hailo_services.core.images import decode_image
    from hailo_services.core.settings import ImageInputSettings

    notes = []
    for name, jpeg in images:
        local = s.count_local(s.run(decode_image(jpeg, ImageInputSettings()).rgb))
        for route in s.routes:
            r = client.post(f"{s.svc.url}{route}", files={"image": (name, jpeg, "image/jpeg")})
            r.raise_for_status()
            remote = s.count(r.json())
            if remote != local:
                notes.append(f"{s.service} {route} {name}: {remote} objects over HTTP, {local} in-process")
    return notes


def measure(s: Setup, t: Target, rnd: int, n: int, cycle: Cycle, meter: CpuMeter, settle: float, warmup: int) -> Sample:
    if settle > 0:
        meter.wait_quiet(settle)
    s.svc.check_alive()
    engine_ms: list[float] = []

    def call() -> None:
        ms = t.call()
        if ms is not None:
            engine_ms.append(ms)  # list.append is atomic, so the c=4 threads may share the list

    cycle.reset()
    # With concurrency, one warm-up call per thread, so each thread's connection is open before timing.
    warm = max(warmup, t.concurrency)
    before = meter.snapshot()
    timings = time_calls(call, n, warmup=warm, concurrency=t.concurrency)
    after = meter.snapshot()
    engine_ms = engine_ms[warm:]  # the warm-up phase finishes before the timed one starts
    runner = "service" if t.http else "self"
    cpu = meter.delta_s(before, after, runner)
    client_cpu = meter.delta_s(before, after, "self") if t.http else None
    # The snapshots bracket warm-up too: spread the CPU over every call made, not just the timed ones.
    calls = n + warm
    return Sample(
        service=s.service,
        target=t.name,
        round=rnd,
        concurrency=t.concurrency,
        n=timings.n,
        rate=timings.rate,
        p50_ms=timings.p50,
        p99_ms=timings.p99,
        engine_ms_p50=statistics.median(engine_ms) if engine_ms else None,
        cpu_ms_per_image=cpu * 1000 / calls if cpu is not None else None,
        client_cpu_ms_per_image=client_cpu * 1000 / calls if client_cpu is not None else None,
        other_load=meter.other_load(before, after, timings.wall_s),
        latencies_ms=timings.latencies_ms,
        engine_ms=engine_ms,
    )


def _progress(rnd: int, x: Sample) -> None:
    print(
        f"  round {rnd + 1:<2} {x.service:<12} {x.target:<32} {x.rate:6.1f} img/s  p50 {x.p50_ms:7.1f} ms  "
        f"p99 {x.p99_ms:7.1f} ms  engine {fmt_opt(x.engine_ms_p50, 6, '.1f')} ms  "
        f"other load {fmt_opt(x.other_load, 4, '.2f')}",
        flush=True,
    )


# ------------------------------------------------------------------------------------------- results


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def summarise(samples: list[Sample], goals: dict[tuple[str, str], bool]) -> list[Row]:
    rows = []
    keys = list(dict.fromkeys((x.service, x.target) for x in samples))
    for service, target in keys:
        mine = [x for x in samples if x.service == service and x.target == target]
        base = {x.round: x for x in samples if x.service == service and x.target == IN_PROCESS}
        row = Row(
            service=service,
            target=target,
            concurrency=mine[0].concurrency,
            n=sum(x.n for x in mine),
            rate=statistics.median(x.rate for x in mine),
            p50_ms=statistics.median(x.p50_ms for x in mine),
            p99_ms=statistics.median(x.p99_ms for x in mine),
            engine_ms_p50=_median([x.engine_ms_p50 for x in mine]),
            cpu_ms_per_image=_median([x.cpu_ms_per_image for x in mine]),
            other_load=_median([x.other_load for x in mine]),
        )
        if target != IN_PROCESS:
            # Each HTTP block is paired with the in-process block of the same round, so slow drift of
            # a shared machine cancels out of the ratio.
            pairs = [(x, base[x.round]) for x in mine if x.round in base]
            row.rate_ratio = median_ratio((x.rate, b.rate) for x, b in pairs)
            if mine[0].concurrency == 1:
                # With c=4 the p50 includes the wait in the queue (~3 other images), so a latency ratio
                # against the sequential baseline would say nothing about overhead.
                row.p50_ratio = median_ratio((x.p50_ms, b.p50_ms) for x, b in pairs)
                row.p50_delta_ms = median_delta((x.p50_ms, b.p50_ms) for x, b in pairs)
        if goals.get((service, target)):
            row.passed = row.p50_ratio is not None and row.p50_ratio <= GOAL_P50_RATIO
        rows.append(row)
    return rows


def _signed(value: float | None) -> str | None:
    # harness.fmt_opt and Column put the width before the format spec, where a sign flag cannot go.
    return None if value is None else f"{value:+.1f}"


def print_report(
    models: dict[str, str], rows: list[Row], notes: list[str], tiny_pose: bool, tiny_depth: bool = False
) -> None:
    print()
    print("models")
    for service, text in models.items():
        print(f"  {service:<14} {text}")
    print()
    print_table(
        rows,
        [
            Column("service", align="<"),
            Column("target", align="<"),
            Column("n"),
            Column("rate", "img/s", ".1f"),
            Column("p50_ms", "p50 ms", ".1f"),
            Column("p99_ms", "p99 ms", ".1f"),
            Column("engine_ms_p50", "engine ms", ".1f"),
            Column("cpu_ms_per_image", "CPU ms/img", ".1f"),
            Column("other_load", "other load", ".2f"),
            Column("p50_ratio", "p50 ratio", ".3f"),
            Column(lambda r: _signed(r.p50_delta_ms), "p50 +ms"),
            Column("rate_ratio", "img/s ratio", ".3f"),
        ],
    )
    print(
        "  (medians over rounds; n = timed calls in all rounds; p99 of n/rounds calls is close to their max;\n"
        "   engine ms = engine.detect alone: timed here in-process, as the service reports it over HTTP (DeepStack\n"
        "   rounds it to whole ms); CPU ms/img = CPU of the process running the engine (this one, or the service);\n"
        "   ratios and +ms: HTTP against the in-process block of the same round, median over rounds)"
    )
    print()
    print(f"HTTP vs in-process at p50 (goal: <= {GOAL_P50_RATIO:.2f}x, i.e. at most {GOAL_P50_RATIO - 1:.0%} overhead)")
    for r in rows:
        if r.passed is None:
            continue
        extra = ""
        if (r.service == "hailo-pose" and tiny_pose) or (r.service == "hailo-depth" and tiny_depth):
            extra = "  (tiny graph: the ratio is against a near-zero network; +ms is the overhead)"
        print(
            f"  {r.service:<12} {r.target:<24} {fmt_opt(r.p50_ratio, 6, '.3f')}x  "
            f"{_signed(r.p50_delta_ms) or '-':>6} ms  {verdict(r.passed)}{extra}"
        )
    loads = [r.other_load for r in rows if r.other_load is not None]
    if loads and max(loads) > NOISY_LOAD:
        notes.append(
            f"other processes used up to {max(loads):.2f} cores during the blocks (median per row): the machine "
            "was not idle, so expect noise (rerun when idle, or raise --rounds)"
        )
    if tiny_pose:
        notes.append(
            "hailo-pose ran the tiny graph: it measures the service's overhead (decode, letterbox, HTTP), not a "
            "real network; pass --pose-model PATH (a YOLOv8-pose ONNX) for real numbers"
        )
    if tiny_depth:
        notes.append(
            "hailo-depth ran the tiny network: it measures the service's work around the network (decode, resize, "
            "post-processing, map at source size, stats, HTTP), not SC-DepthV3; pass --depth-model PATH (the zoo's "
            "scdepthv3.zip) for real numbers"
        )
    if notes:
        print()
        for note in notes:
            print(f"  note: {note}")


# ---------------------------------------------------------------------------------------------- main


def run(args: argparse.Namespace) -> int:
    import cv2
    import onnxruntime
    import PIL

    images = photos_as_jpeg()
    env = {
        **machine_environment(),
        "onnxruntime": onnxruntime.__version__,
        "opencv": cv2.__version__,
        "pillow": PIL.__version__,
        "threads": f"{args.threads} (service config and in-process engine)",
        "images": ", ".join(f"{name} {len(jpeg) / 1024:.0f} KB" for name, jpeg in images)
        + " (scikit-image photos, JPEG q90, cycled)",
        "calls": f"{args.n} per block, {args.rounds} rounds, block order rotates each round",
        "load average": load_average() + " (at start)",
    }
    print_environment(env)
    print(flush=True)

    samples: list[Sample] = []
    goals: dict[tuple[str, str], bool] = {}
    notes: list[str] = []
    models: dict[str, str] = {}
    tiny_pose = False
    tiny_depth = False
    timeout = httpx.Timeout(REQUEST_TIMEOUT_S, connect=10)
    cycle = Cycle(images)
    for service in args.services:
        with tempfile.TemporaryDirectory(prefix=f"hailo-bench-{service}-") as tmp:
            workdir = Path(tmp)
            setup: Setup | None = None
            try:
                print(f"starting hailo-{service} and loading the same engine in-process...", flush=True)
                if service == "detect":
                    setup = setup_detect(workdir, args.threads)
                elif service == "depth":
                    setup = setup_depth(workdir, args.threads, args.depth_model)
                    tiny_depth = setup.tiny
                else:
                    setup = setup_pose(workdir, args.threads, args.pose_model)
                    tiny_pose = setup.tiny
                models[setup.service] = setup.describe
                # Pool as large as the concurrency: every c=4 thread keeps its own connection alive.
                limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
                with httpx.Client(timeout=timeout, limits=limits) as client:
                    notes += check_agreement(setup, client, images)
                    targets = make_targets(setup, client, cycle)
                    goals.update({(setup.service, t.name): t.goal for t in targets})
                    meter = CpuMeter({"service": setup.svc.pid})
                    for rnd in range(args.rounds):
                        k = rnd % len(targets)
                        for t in targets[k:] + targets[:k]:
                            x = measure(setup, t, rnd, args.n, cycle, meter, args.settle, args.warmup)
                            samples.append(x)
                            _progress(rnd, x)
            except (RuntimeError, httpx.HTTPError) as exc:
                print(f"bench: error: {exc}", file=sys.stderr)
                return 1
            finally:
                if setup is not None:
                    setup.svc.stop()
                    setup.engine.unload()

    rows = summarise(samples, goals)
    print_report(models, rows, notes, tiny_pose, tiny_depth)
    if args.json:
        write_json(
            args.json,
            {
                "environment": env,
                "models": models,
                "goal_p50_ratio": GOAL_P50_RATIO,
                "summary": [asdict(r) for r in rows],
                "samples": [asdict(x) for x in samples],
            },
        )
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=40, help="timed requests per target per round (default 40)")
    p.add_argument("--rounds", type=int, default=3, help="rounds; the report takes medians over them (default 3)")
    p.add_argument("--threads", type=int, default=2, help="engine threads, service and in-process (default 2)")
    p.add_argument(
        "--services",
        default="detect,pose,depth",
        help="comma-separated: detect, pose, depth (default detect,pose,depth)",
    )
    p.add_argument(
        "--pose-model",
        type=Path,
        metavar="PATH",
        help="a real YOLOv8-pose ONNX for hailo-pose (default: the tiny graph of tests/tiny_models.py)",
    )
    p.add_argument(
        "--depth-model",
        type=Path,
        metavar="PATH",
        help="the model zoo's scdepthv3.zip for hailo-depth (default: the tiny network of tests/tiny_models.py)",
    )
    p.add_argument("--warmup", type=int, default=3, help="untimed calls before each block (default 3)")
    p.add_argument(
        "--settle",
        type=float,
        default=2.0,
        metavar="S",
        help="before each block, wait up to S seconds for other processes to go quiet (0 = off; default 2)",
    )
    p.add_argument("--json", metavar="PATH", help="also write the summary and the raw samples as JSON to PATH")
    args = p.parse_args(argv)
    args.services = [s.strip().removeprefix("hailo-") for s in args.services.split(",") if s.strip()]
    unknown = [s for s in args.services if s not in ("detect", "pose", "depth")]
    if unknown or not args.services:
        p.error(f"--services: detect, pose and/or depth, got {args.services}")
    if args.n < 2 or args.rounds < 1 or args.threads < 1 or args.warmup < 0:
        p.error("--n >= 2, --rounds >= 1, --threads >= 1 and --warmup >= 0 are required")
    args.pose_model = existing_file(p, args.pose_model, "--pose-model")
    args.depth_model = existing_file(p, args.depth_model, "--depth-model")
    return args


def main(argv: list[str] | None = None) -> int:
    return bench_main(run, parse_args, argv)


if __name__ == "__main__":
    sys.exit(main())
