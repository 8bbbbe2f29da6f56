"""Load check: N concurrent clients for M seconds against each service, with a no-leak verdict.

Not a comparison like llm.py and vision.py: it drives one service at a time, on its CPU engine, with
the request its clients really send, and asks two questions. Does every request get a proper answer
under sustained concurrency (200, or 503 "queue full" with Retry-After when the per-model queue is
full), and does the service's resident memory stay flat once it is warm?

Per service: start ``hailo-services run NAME --engine cpu`` (harness.start_service, an empty model
store so it finds its packaged model), run ``--warmup`` seconds of the same load, read its RSS, run
``--seconds`` of load from ``--clients`` threads (each with its own keep-alive ``httpx.Client``, looping
requests back to back), read its RSS again. Requests:

* hailo-ollama: ``POST /api/chat`` non-streamed, a short prompt, ``options.num_predict`` 16 (its CPU
  default model, smollm2:135m);
* hailo-detect: multipart ``image`` to ``/v1/vision/detection``, as Frigate posts it (real JPEGs:
  scikit-image's astronaut, chelsea and coffee photos);
* hailo-pose: multipart ``image`` to ``/v1/pose/detect``. It has no packaged CPU weights, so by default
  it runs the tiny graph of ``tests/tiny_models.py`` (the export's interface, a constant answer), which
  loads the service around a near-zero network; ``--pose-model PATH`` takes a real YOLOv8-pose ONNX.

Verdict per service: PASS when RSS after the run <= 1.1 x RSS after warm-up and every answer was 200
or 503 (no other 5xx, no 4xx for a request that is valid, no transport error or client timeout).

    python bench/load.py [--services ollama,detect,pose] [--clients 8] [--seconds 20] [--warmup 5] \
        [--threads 2] [--queue-max-waiting N] [--pose-model yolov8s-pose.onnx] [--json out.json]

Exit status: 0 when the benchmark ran (whether or not the goal is met), non-zero on errors (a service
that would not start or died under load).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

# bench/ is sys.path[0] when this runs as `python bench/load.py`.
from harness import (
    Column,
    CpuMeter,
    Service,
    bench_config,
    bench_main,
    existing_file,
    load_average,
    machine_environment,
    percentile,
    photos_as_jpeg,
    place_pose_model,
    print_environment,
    print_table,
    rss_bytes,
    start_service,
    verdict,
    write_json,
)

GOAL_RSS_RATIO = 1.1  # RSS after the run / RSS after warm-up, at most
NOISY_LOAD = 0.2  # cores used by other processes that make a run noisy
NUM_PREDICT = 16
# The client timeout by default exceeds the services' queue_timeout_s by this much, so a request stuck in
# the queue comes back as the service's own 504 rather than as a client-side ReadTimeout.
TIMEOUT_MARGIN_S = 10.0
SAMPLE_S = 0.5
LOG_TAIL_LINES = 40
MIB = 1024 * 1024
TIMES = "\N{MULTIPLICATION SIGN}"  # the status mix reads 200<times>412; the escape keeps the source ASCII


# --------------------------------------------------------------------------------------------- data


@dataclass
class Call:
    """One request as a client saw it."""

    phase: str  # "warmup" or "run"
    client: int
    start_s: float  # since the phase began
    latency_ms: float  # until the whole answer was read (and parsed, for a 200)
    status: str  # "200", "503"..., or the exception class name (ReadTimeout, ConnectError, JSONDecodeError)
    engine_ms: float | None = None  # the engine's own time for a 200, as the service reports it (no queue wait)


@dataclass
class Result:
    service: str
    model: str
    clients: int
    seconds: float  # the measured phase's planned length
    wall_s: float  # its real length: until the last in-flight request came back
    requests: int
    rate: float  # answers (any status) per second of wall time
    ok_rate: float  # 200s per second of wall time
    status_mix: dict[str, int]
    p50_ms: float | None  # of the 200s
    p99_ms: float | None
    engine_ms_p50: float | None  # of the engine times the 200s report: latency minus this = queue + serving
    rss_start: int | None  # bytes: ready, before any request
    rss_warm: int | None  # after the warm-up, once its requests have all come back
    rss_after: int | None  # after the measured run, likewise
    rss_peak: int | None  # the highest sample during warm-up and run
    rss_ratio: float | None  # rss_after / rss_warm
    service_cores: float | None  # CPU the service used during the run, in cores (CPU s / wall s)
    client_cores: float | None  # CPU this process (the clients) used meanwhile
    other_load: float | None  # cores used meanwhile by every other process on the machine
    passed: bool
    problems: list[str] = field(default_factory=list)
    examples: dict[str, str] = field(default_factory=dict)  # status -> one answer body / error text
    log_tail: str | None = None  # the service's log when something went wrong
    calls: list[Call] = field(default_factory=list, repr=False)
    # (s since warm-up began, RSS bytes, service cores, other processes' cores), every SAMPLE_S
    samples: list[tuple[float, int | None, float | None, float | None]] = field(default_factory=list, repr=False)


@dataclass
class Workload:
    """One service under load: how to start it and the request its clients send."""

    service: str
    model: str
    config: dict[str, Any]
    route: str
    describe: str  # for the report's "requests" block
    # (client index, sequence number) -> keyword arguments of httpx.Client.post
    request: Callable[[int, int], dict[str, Any]]
    engine_ms: Callable[[dict[str, Any]], float | None]  # from a 200's body
    workdir: Path
    tiny: bool = False


# ------------------------------------------------------------------------------------------ workloads


def base_config(workdir: Path, model: str, threads: int, queue_max_waiting: int | None) -> dict[str, Any]:
    # An empty store: the service finds its packaged model the way a fresh install does.
    models_dir = workdir / "models"
    models_dir.mkdir(exist_ok=True)
    extra = {} if queue_max_waiting is None else {"queue_max_waiting": queue_max_waiting}
    return bench_config(workdir, models_dir, model, threads, **extra)


def image_request(images: list[tuple[str, bytes]]) -> Callable[[int, int], dict[str, Any]]:
    def request(client: int, seq: int) -> dict[str, Any]:
        # Each client starts on a different photo, so at any moment the service decodes a mix.
        name, jpeg = images[(client + seq) % len(images)]
        # Frigate's deepstack detector: one multipart file field `image`, nothing else.
        return {"files": {"image": (name, jpeg, "image/jpeg")}}

    return request


def ollama_workload(workdir: Path, args: argparse.Namespace, images: list[tuple[str, bytes]]) -> Workload:
    from hailo_services.services import SERVICES

    model = SERVICES["hailo-ollama"].default_model["cpu"]

    def request(client: int, seq: int) -> dict[str, Any]:
        # A different number per request, so every prompt is evaluated afresh (a chat client does not
        # resend an identical prompt), yet all prompts are the same length and temperature 0 keeps the
        # answers' length steady from request to request.
        body = {
            "model": model,
            "messages": [{"role": "user", "content": f"Request {client}-{seq}: name one colour of the rainbow."}],
            "stream": False,
            "options": {"num_predict": NUM_PREDICT, "temperature": 0.0, "seed": 42},
        }
        return {"json": body}

    return Workload(
        service="hailo-ollama",
        model=model,
        config=base_config(workdir, model, args.threads, args.queue_max_waiting),
        route="/api/chat",
        describe=f"POST /api/chat, stream false, one short user message, num_predict {NUM_PREDICT}, temperature 0",
        request=request,
        engine_ms=ollama_engine_ms,
        workdir=workdir,
    )


def ollama_engine_ms(body: dict[str, Any]) -> float | None:
    """Prompt evaluation + generation (Ollama's durations are in ns); total_duration would include the
    wait in the queue."""
    durations = [body.get("prompt_eval_duration"), body.get("eval_duration")]
    if all(d is None for d in durations):
        return None
    return sum(d or 0 for d in durations) / 1e6


def detect_workload(workdir: Path, args: argparse.Namespace, images: list[tuple[str, bytes]]) -> Workload:
    from hailo_services.services import SERVICES

    model = SERVICES["hailo-detect"].default_model["cpu"]
    return Workload(
        service="hailo-detect",
        model=model,
        config=base_config(workdir, model, args.threads, args.queue_max_waiting),
        route="/v1/vision/detection",
        describe="POST /v1/vision/detection, multipart image (Frigate's deepstack shape)",
        request=image_request(images),
        engine_ms=lambda body: body.get("inferenceMs"),  # whole ms (DeepStack's shape)
        workdir=workdir,
    )


def pose_workload(workdir: Path, args: argparse.Namespace, images: list[tuple[str, bytes]]) -> Workload:
    from hailo_services.pose.engine import load_catalog
    from hailo_services.services import SERVICES

    model = SERVICES["hailo-pose"].default_model["cpu"]
    spec = load_catalog().get(model)
    artifact = spec.artifact("cpu") if spec is not None else None
    if artifact is None:
        raise RuntimeError(f"hailo-pose: the catalog has no CPU artifact for its default model {model}")
    config = base_config(workdir, model, args.threads, args.queue_max_waiting)
    target = Path(config["models_dir"]) / artifact.file  # the file name the catalog expects
    source = place_pose_model(target, args.pose_model)
    return Workload(
        service="hailo-pose",
        model=f"{model}: {source}",
        config=config,
        route="/v1/pose/detect",
        describe="POST /v1/pose/detect, multipart image",
        request=image_request(images),
        engine_ms=lambda body: body.get("inference_ms"),
        workdir=workdir,
        tiny=args.pose_model is None,
    )


# The services this script knows a realistic request for, by their name in services.yaml.
WORKLOADS: dict[str, Callable[[Path, argparse.Namespace, list[tuple[str, bytes]]], Workload]] = {
    "hailo-ollama": ollama_workload,
    "hailo-detect": detect_workload,
    "hailo-pose": pose_workload,
}


# ---------------------------------------------------------------------------------------------- load


class Sampler:
    """The service's RSS and the machine's CPU every SAMPLE_S in a thread. RSS start / warm / after are read
    at quiet moments; this catches the peak in between, and the CPU series shows when the service stalled
    because something else took the cores (another llama.cpp makes both crawl on 2 cores)."""

    def __init__(self, pid: int):
        self.pid = pid
        # (s since start, RSS bytes, cores used by the service, cores used by other processes) per interval
        self.samples: list[tuple[float, int | None, float | None, float | None]] = []
        self._meter = CpuMeter({"service": pid})
        self._stop = threading.Event()
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        last, t_last = self._meter.snapshot(), time.monotonic()
        while not self._stop.wait(SAMPLE_S):
            snap, now = self._meter.snapshot(), time.monotonic()
            service_s = CpuMeter.delta_s(last, snap, "service")
            self.samples.append(
                (
                    round(now - self._t0, 3),
                    rss_bytes(self.pid),
                    round(service_s / (now - t_last), 3) if service_s is not None else None,
                    self._meter.other_load(last, snap, now - t_last),
                )
            )
            last, t_last = snap, now

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak(self) -> int | None:
        return max((rss for _, rss, _, _ in self.samples if rss is not None), default=None)


def retry_after_s(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("retry-after", "1")))
    except ValueError:  # an HTTP date; the services send seconds
        return 1.0


def drive(
    pool: ThreadPoolExecutor,
    clients: list[httpx.Client],
    url: str,
    workload: Workload,
    phase: str,
    seconds: float,
    honour_retry_after: bool,
    examples: dict[str, str],
) -> tuple[list[Call], float]:
    """Every client loops requests until ``seconds`` have passed; requests in flight at the deadline are
    waited for and counted. Returns the calls and the phase's wall time (until the last answer)."""
    calls: list[Call] = []  # list.append is atomic: the client threads share it
    # Set when this thread is interrupted (Ctrl-C, SIGTERM), so the clients stop after their current
    # request instead of running to the deadline while the service waits to be stopped.
    abort = threading.Event()
    t0 = time.monotonic()
    deadline = t0 + seconds

    def loop(index: int, client: httpx.Client) -> None:
        seq = 0
        while (now := time.monotonic()) < deadline and not abort.is_set():
            kwargs = workload.request(index, seq)
            seq += 1
            started = time.perf_counter()
            response: httpx.Response | None = None
            engine_ms: float | None = None
            try:
                response = client.post(url, **kwargs)
                status = str(response.status_code)
                if response.status_code == 200:
                    # A client parses the answer; a 200 with a broken body is a failure.
                    engine_ms = workload.engine_ms(response.json())
            except (httpx.HTTPError, json.JSONDecodeError) as exc:
                status = type(exc).__name__
                examples.setdefault(status, str(exc)[:300])
            latency_ms = (time.perf_counter() - started) * 1000
            calls.append(Call(phase, index, round(now - t0, 4), latency_ms, status, engine_ms))
            if response is not None and status != "200":
                examples.setdefault(status, response.text[:300])
            if status == "503" and response is not None and honour_retry_after:
                # What a polite client does with "queue full": wait as told, not hammer the queue.
                abort.wait(max(0.0, min(retry_after_s(response), deadline - time.monotonic())))

    futures = [pool.submit(loop, i, c) for i, c in enumerate(clients)]
    try:
        for future in futures:
            future.result()  # a bug in the loop (not a failed request: those are data) surfaces here
    except BaseException:
        abort.set()
        raise
    return calls, time.monotonic() - t0


def status_key(status: str) -> tuple[int, str]:
    # HTTP codes in numeric order first, then exception names.
    return (int(status), "") if status.isdigit() else (1000, status)


def format_mix(mix: dict[str, int]) -> str:
    return " ".join(f"{status}{TIMES}{n}" for status, n in mix.items())


def judge(mix: dict[str, int], rss_ratio: float | None) -> tuple[bool, list[str]]:
    problems = []
    if rss_ratio is None:
        problems.append("RSS could not be read (/proc)")
    elif rss_ratio > GOAL_RSS_RATIO:
        problems.append(f"RSS grew {rss_ratio:.3f}x from after warm-up to after the run (goal <= {GOAL_RSS_RATIO}x)")
    bad = {s: n for s, n in mix.items() if s not in ("200", "503")}
    if bad:
        problems.append(f"answers other than 200 / 503: {format_mix(bad)}")
    if not mix.get("200"):
        problems.append("no request succeeded")
    return not problems, problems


def run_service(
    workload: Workload, args: argparse.Namespace, timeout: httpx.Timeout
) -> tuple[Result | None, str | None]:
    """Start the service, warm it up, load it, stop it. Returns (result, None), or (None, error text)
    when the service would not start or died under load."""
    svc: Service | None = None
    try:
        print(f"{workload.service}: starting ({workload.model})...", flush=True)
        t_start = time.monotonic()
        svc = start_service(workload.service, workload.config, workdir=workload.workdir)
        print(f"{workload.service}: ready in {time.monotonic() - t_start:.1f} s, pid {svc.pid}", flush=True)
        url = f"{svc.url}{workload.route}"
        examples: dict[str, str] = {}
        # One connection per client, kept alive across the phases: each thread is one camera / one user.
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        clients = [httpx.Client(timeout=timeout, limits=limits) for _ in range(args.clients)]
        try:
            with ThreadPoolExecutor(max_workers=args.clients) as pool:
                meter = CpuMeter({"service": svc.pid})
                if args.settle > 0:
                    meter.wait_quiet(args.settle)
                rss_start = rss_bytes(svc.pid)
                with Sampler(svc.pid) as sampler:
                    warm_calls, warm_wall = drive(
                        pool, clients, url, workload, "warmup", args.warmup, args.retry_after, examples
                    )
                    svc.check_alive()
                    rss_warm = rss_bytes(svc.pid)
                    print(
                        f"{workload.service}: warm-up {warm_wall:.1f} s, {len(warm_calls)} requests "
                        f"({format_mix(mix_of(warm_calls))}), RSS {mib(rss_warm)} MiB",
                        flush=True,
                    )
                    before = meter.snapshot()
                    calls, wall = drive(pool, clients, url, workload, "run", args.seconds, args.retry_after, examples)
                    after = meter.snapshot()
                    svc.check_alive()
                    rss_after = rss_bytes(svc.pid)
        finally:
            for client in clients:
                client.close()
        mix = mix_of(calls)
        ok = [c.latency_ms for c in calls if c.status == "200"]
        engine = [c.engine_ms for c in calls if c.status == "200" and c.engine_ms is not None]
        rss_ratio = rss_after / rss_warm if rss_after and rss_warm else None
        service_cpu, client_cpu = meter.delta_s(before, after, "service"), meter.delta_s(before, after, "self")
        passed, problems = judge(mix, rss_ratio)
        result = Result(
            service=workload.service,
            model=workload.model,
            clients=args.clients,
            seconds=args.seconds,
            wall_s=wall,
            requests=len(calls),
            rate=len(calls) / wall,
            ok_rate=len(ok) / wall,
            status_mix=mix,
            p50_ms=percentile(ok, 50) if ok else None,
            p99_ms=percentile(ok, 99) if ok else None,
            engine_ms_p50=percentile(engine, 50) if engine else None,
            rss_start=rss_start,
            rss_warm=rss_warm,
            rss_after=rss_after,
            rss_peak=sampler.peak,
            rss_ratio=rss_ratio,
            service_cores=service_cpu / wall if service_cpu is not None else None,
            client_cores=client_cpu / wall if client_cpu is not None else None,
            other_load=meter.other_load(before, after, wall),
            passed=passed,
            problems=problems,
            examples=examples,
            calls=warm_calls + calls,
            samples=sampler.samples,
        )
        if any(s not in ("200", "503") for s in mix_of(warm_calls + calls)):
            # The service's side of the failures; its log lives in the workdir, removed after the run.
            result.log_tail = svc.proc.tail(LOG_TAIL_LINES)
        print(
            f"{workload.service}: run {wall:.1f} s, {len(calls)} requests ({format_mix(mix)}), "
            f"RSS {mib(rss_after)} MiB: {verdict(passed)}",
            flush=True,
        )
        return result, None
    except (RuntimeError, httpx.HTTPError) as exc:
        return None, f"{workload.service}: {exc}"
    finally:
        if svc is not None:
            svc.stop()


def queue_defaults() -> tuple[int, float]:
    """(queue_max_waiting, queue_timeout_s) a service uses when its config sets neither."""
    from hailo_services.core.settings import ServiceSettings

    fields = ServiceSettings.model_fields
    return fields["queue_max_waiting"].default, fields["queue_timeout_s"].default


def mix_of(calls: list[Call]) -> dict[str, int]:
    counts = Counter(c.status for c in calls)
    return {s: counts[s] for s in sorted(counts, key=status_key)}


def mib(value: int | None) -> str:
    return "-" if value is None else f"{value / MIB:.1f}"


# ------------------------------------------------------------------------------------------- results


def print_report(results: list[Result], notes: list[str]) -> None:
    print()
    print_table(
        results,
        [
            Column("service", align="<"),
            Column("clients"),
            Column(lambda r: f"{r.seconds:g}", "seconds"),
            Column("requests"),
            Column("rate", "req/s", ".1f"),
            Column(lambda r: format_mix(r.status_mix), "status mix", align="<"),
            Column("p50_ms", "p50 ms", ".1f"),
            Column("p99_ms", "p99 ms", ".1f"),
            Column("engine_ms_p50", "engine ms", ".1f"),
            Column(lambda r: mib(r.rss_start), "RSS start MiB"),
            Column(lambda r: mib(r.rss_warm), "RSS warm MiB"),
            Column(lambda r: mib(r.rss_peak), "RSS peak MiB"),
            Column(lambda r: mib(r.rss_after), "RSS after MiB"),
            Column("rss_ratio", "after/warm", ".3f"),
            Column("service_cores", "svc cores", ".2f"),
            Column("other_load", "other load", ".2f"),
            Column(lambda r: verdict(r.passed), "verdict", align="<"),
        ],
    )
    print(
        "  (requests and req/s: answers of any status in the measured run, including those in flight at its end;\n"
        "   p50 / p99: latency of the 200s, queue wait included; engine ms: p50 of the engine time the service\n"
        "   reports in each 200 (no queue wait); RSS start: ready, before any request; warm / after:\n"
        "   once the warm-up's / the run's requests have all come back; peak: highest sample during both;\n"
        "   svc cores: CPU the service used during the run / its wall time; other load: cores used meanwhile by\n"
        "   processes other than the service and this one;\n"
        f"   PASS: after/warm <= {GOAL_RSS_RATIO} and every answer 200 or 503 queue full)"
    )
    loads = [r.other_load for r in results if r.other_load is not None]
    if loads and max(loads) > NOISY_LOAD:
        notes.append(
            f"other processes used up to {max(loads):.2f} cores during the runs: the machine was not idle, so "
            "throughput and latency are noisy (the RSS verdict is not affected); rerun when idle"
        )
    for r in results:
        for problem in r.problems:
            notes.append(f"{r.service}: {problem}")
        for status, text in r.examples.items():
            notes.append(f"{r.service}: {status} e.g. {text!r}")
    if notes:
        print()
        for note in notes:
            print(f"  note: {note}")
    for r in results:
        if r.log_tail:
            print()
            print(f"{r.service}: last {LOG_TAIL_LINES} lines of its log")
            for line in r.log_tail.splitlines():
                print(f"  | {line}")


# ---------------------------------------------------------------------------------------------- main


def run(args: argparse.Namespace) -> int:
    images = photos_as_jpeg()
    queue = (
        f"queue_max_waiting {args.queue_max_waiting}"
        if args.queue_max_waiting is not None
        else "the services' defaults (queue_max_waiting {}, queue_timeout_s {:g})".format(*queue_defaults())
    )
    env = {
        **machine_environment(),
        "services": ", ".join(args.services),
        "load": f"{args.clients} clients (threads, one keep-alive httpx.Client each, requests back to back), "
        f"{args.warmup:g} s warm-up + {args.seconds:g} s measured",
        "threads": f"{args.threads} (engine threads in each service's config)",
        "queue": queue,
        "on 503": "wait Retry-After (capped at the phase's end)" if args.retry_after else "retry at once",
        "settle": f"up to {args.settle:g} s for other processes to go quiet before each warm-up",
        "timeout": f"{args.timeout:g} s per request (client side)",
        "images": ", ".join(f"{name} {len(jpeg) / 1024:.0f} KB" for name, jpeg in images)
        + " (scikit-image photos, JPEG q90, cycled)",
        "load average": load_average() + " (at start)",
    }
    print_environment(env)
    print(flush=True)

    timeout = httpx.Timeout(args.timeout, connect=10)
    results: list[Result] = []
    errors: list[str] = []
    notes: list[str] = []
    requests: dict[str, str] = {}
    for service in args.services:
        with tempfile.TemporaryDirectory(prefix=f"{service}-load-") as tmp:
            try:
                workload = WORKLOADS[service](Path(tmp), args, images)
            except RuntimeError as exc:
                errors.append(f"{service}: {exc}")
                continue
            requests[service] = workload.describe
            if workload.tiny:
                notes.append(
                    "hailo-pose ran the tiny graph (tests/tiny_models.py): the load is the service's decode, "
                    "letterbox and HTTP around a near-zero network; --pose-model PATH runs a real one"
                )
            result, error = run_service(workload, args, timeout)
        if result is not None:
            results.append(result)
        if error is not None:
            print(f"bench: error: {error}", file=sys.stderr, flush=True)
            errors.append(error)

    print()
    print("requests")
    for service, text in requests.items():
        print(f"  {service:<14} {text}")
    print_report(results, notes)
    if args.json:
        write_json(
            args.json,
            {
                "environment": env,
                "goal_rss_ratio": GOAL_RSS_RATIO,
                "requests": requests,
                "results": [asdict(r) for r in results],
                "errors": errors,
            },
        )
    if errors:
        print(file=sys.stderr)
        for error in errors:
            print(f"bench: error: {error.splitlines()[0]}", file=sys.stderr)
        return 1
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from hailo_services.services import SERVICES

    # services.yaml order, limited to the services this script knows a request for.
    known = [name for name in SERVICES if name in WORKLOADS]
    short = ",".join(name.removeprefix("hailo-") for name in known)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--services", default=short, help=f"comma-separated, from {short} (default: all of them)")
    p.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    p.add_argument("--seconds", type=float, default=20.0, help="length of the measured run (default 20)")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds of the same load before it (default 5)")
    p.add_argument("--threads", type=int, default=2, help="engine threads in the services' config (default 2)")
    p.add_argument(
        "--queue-max-waiting",
        type=int,
        metavar="N",
        help=f"requests waiting per model before 503 (default: the services' own, {queue_defaults()[0]})",
    )
    p.add_argument(
        "--no-retry-after",
        dest="retry_after",
        action="store_false",
        help="after a 503, retry at once instead of waiting its Retry-After",
    )
    p.add_argument(
        "--timeout",
        type=float,
        help=f"client timeout per request, s (default {queue_defaults()[1] + TIMEOUT_MARGIN_S:g}: "
        f"the services' queue_timeout_s + {TIMEOUT_MARGIN_S:g})",
    )
    p.add_argument(
        "--pose-model",
        type=Path,
        metavar="PATH",
        help="a real YOLOv8-pose ONNX for hailo-pose (default: the tiny graph of tests/tiny_models.py)",
    )
    p.add_argument(
        "--settle",
        type=float,
        default=5.0,
        metavar="S",
        help="before each warm-up, wait up to S seconds for other processes to go quiet (0 = off; default 5)",
    )
    p.add_argument("--json", metavar="PATH", help="also write the results and every request as JSON to PATH")
    args = p.parse_args(argv)
    if args.timeout is None:
        args.timeout = queue_defaults()[1] + TIMEOUT_MARGIN_S
    wanted = [s.strip() for s in args.services.split(",") if s.strip()]
    args.services = [s if s.startswith("hailo-") else f"hailo-{s}" for s in wanted]
    unknown = [s for s in args.services if s not in known]
    if unknown or not args.services:
        p.error(f"--services: from {short}, got {','.join(wanted) or 'nothing'}")
    if args.clients < 1 or args.seconds <= 0 or args.warmup < 0 or args.threads < 1 or args.timeout <= 0:
        p.error("--clients >= 1, --seconds > 0, --warmup >= 0, --threads >= 1 and --timeout > 0 are required")
    if args.queue_max_waiting is not None and args.queue_max_waiting < 0:
        p.error("--queue-max-waiting >= 0 is required")
    args.pose_model = existing_file(p, args.pose_model, "--pose-model")
    return args


def main(argv: list[str] | None = None) -> int:
    return bench_main(run, parse_args, argv)


if __name__ == "__main__":
    sys.exit(main())
