"""What the benchmarks in bench/ share: services in subprocesses, timing loops, CPU accounting, tables.

A benchmark script imports it as ``harness`` (``python bench/x.py`` puts bench/ on sys.path). Only the
standard library and httpx (a base dependency) are used, so it runs wherever the services do.

Processes
    ``free_port() -> int``
        A TCP port free on 127.0.0.1 right now.
    ``Proc(name, argv, log, stdin=None, env=None)``
        A child process writing stdout + stderr to ``log``. ``.pid``, ``.check_alive()`` (raises
        RuntimeError with the log's tail if it exited), ``.tail(lines)``, ``.stop()`` (closes stdin,
        SIGTERM, SIGKILL after 20 s).
    ``wait_for(ready, proc, timeout_s, message, interval_s=0.2) -> T``
        Poll ``ready()`` until it returns something truthy; RuntimeError(message + log tail) if ``proc``
        dies or the time runs out.
    ``start_service(name, config, *, env=None, workdir=None, engine="cpu", port=None, timeout_s=300)
    -> Service``
        ``hailo-services run NAME --engine ENGINE --host 127.0.0.1 --port P --config NAME.yaml`` on a free
        port, with ``config`` (a dict of settings) written to NAME.yaml in ``workdir`` (a temporary
        directory, removed by ``stop()``, when None); returns once ``GET /health/ready`` answers 200.
        ``env`` adds variables to the child's environment. ``Service``: ``.name``, ``.url``
        ("http://127.0.0.1:P"), ``.port``, ``.pid``, ``.proc``, ``.workdir``, ``.check_alive()``,
        ``.stop()``; also a context manager that stops it.

Timing
    ``time_calls(fn, n, *, warmup=1, concurrency=1) -> Timings``
        Calls ``fn()`` ``warmup`` times untimed, then ``n`` times from ``concurrency`` threads at once
        (fn must be safe to call from that many threads: an ``httpx.Client`` is, an engine may not be),
        timing each call. The first exception stops the loop and is raised.
    ``Timings``
        ``.latencies_ms`` (in call order), ``.wall_s``, ``.concurrency``, ``.n``, ``.p50``, ``.p99``,
        ``.percentile(q)``, ``.mean`` (all ms), ``.rate`` (calls per second over the wall time: with
        concurrency > 1 this is the throughput, not 1 / mean).
    ``percentile(values, q)``
        Percentile with linear interpolation between the closest ranks, q in 0..100.

CPU and memory (Linux /proc; None where unavailable)
    ``CpuMeter(pids: dict[str, int])``
        ``.snapshot()`` before and after a stretch of work, then ``.delta_s(a, b, name)`` = CPU seconds of
        that process (all threads) in between, ``.other_load(a, b, wall_s)`` = cores used by every other
        process (a busy machine makes numbers noisy), ``.wait_quiet(max_wait_s)`` waits for the others to
        go quiet.
    ``proc_cpu_ticks(pid)``, ``busy_ticks()``, ``CLK_TCK``, ``rss_bytes(pid)`` (resident memory).

Reporting
    ``Column(key, header=None, fmt="", width=None, align=">", gap=2)``
        ``key``: attribute or dict key of a row, or a function of the row; ``fmt``: format spec for numbers
        (".1f"); ``width``: None = the widest of header and cells; ``gap``: spaces before the column.
        A None cell prints as "-".
    ``format_table(rows, columns) -> list[str]``, ``print_table(rows, columns)``
        Header, a line of dashes, one line per row.
    ``ratio(a, b)`` = a / b (None if either is missing or b is 0), ``median_ratio(pairs)`` and
    ``median_delta(pairs)`` over (ours, baseline) pairs, ``verdict(ok)`` -> "PASS" / "MISS",
    ``fmt_opt(value, width, fmt)`` (a number, or "-" for None).
    ``machine_environment()`` (cpu count, machine, python), ``load_average()``,
    ``print_environment(env)`` (the "environment" block every report starts with).
    ``raise_on_sigterm()``: SIGTERM raises KeyboardInterrupt, so ``finally`` blocks stop the subprocesses.
    ``bench_main(run, parse_args, argv)``: a script's ``main`` (SIGTERM / Ctrl-C -> exit 130 after cleanup).
    ``existing_file(parser, path, flag)``: a file argument resolved, or the parser's error naming ``flag``.
    ``bench_config(workdir, models_dir, model, threads, **extra) -> dict``: the service config benchmarks use.
    ``photos_as_jpeg(names, quality) -> [(file name, bytes)]``: scikit-image's photos as JPEG (q90).
    ``place_pose_model(target, path_or_None)``: hailo-pose's CPU model at the catalog's file name (a given
    ONNX linked, else the tiny graph of tests/tiny_models.py); returns what it placed.

Example, the shape of a vision benchmark (HTTP against the same engine in-process)::

    import httpx
    from harness import Column, print_table, ratio, start_service, time_calls

    with start_service("hailo-detect", {"log_level": "warning"}) as svc, httpx.Client() as client:
        def post():
            r = client.post(f"{svc.url}/v1/vision/detection", files={"image": ("a.jpg", jpeg)})
            r.raise_for_status()
        rows = []
        for c in (1, 4):
            http = time_calls(post, 100, warmup=5, concurrency=c)
            local = time_calls(lambda: engine.detect(rgb, params), 100, warmup=5, concurrency=c)
            for mode, t in (("HTTP", http), ("in-process", local)):
                rows.append({"mode": mode, "c": c, "img/s": t.rate, "p50": t.p50, "p99": t.p99,
                             "HTTP/in-proc p50": ratio(http.p50, local.p50) if mode == "HTTP" else None})
    print_table(rows, [Column("mode", align="<"), Column("c"), Column("img/s", fmt=".1f"),
                       Column("p50", "p50 ms", ".1f"), Column("p99", "p99 ms", ".1f"),
                       Column("HTTP/in-proc p50", fmt=".2f")])
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

READY_TIMEOUT_S = 300.0  # a service loads its model before it is ready: minutes on a slow SD card

T = TypeVar("T")


# ------------------------------------------------------------------------------------------ processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A child process whose output goes to a log file; stopped with terminate, then kill."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        log: Path,
        stdin: int | None = None,
        env: dict[str, str] | None = None,
    ):
        self.name, self.log = name, log
        self._log_file = log.open("wb")
        self.popen = subprocess.Popen(argv, stdin=stdin, stdout=self._log_file, stderr=subprocess.STDOUT, env=env)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            raise RuntimeError(f"{self.name} exited with status {self.popen.returncode}\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.popen.stdin is not None:
            with contextlib.suppress(OSError):
                self.popen.stdin.close()
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log_file.close()


def wait_for(ready: Callable[[], T], proc: Proc, timeout_s: float, message: str, interval_s: float = 0.2) -> T:
    """Poll ``ready()`` until it returns something truthy, and return that. The process is checked first
    on every round, so a child that died fails at once with its log instead of after the timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        proc.check_alive()
        result = ready()
        if result:
            return result
        if time.monotonic() > deadline:
            raise RuntimeError(f"{message}\n{proc.tail()}")
        time.sleep(interval_s)


@dataclass
class Service:
    """A ``hailo-services run`` subprocess that answered /health/ready; see ``start_service``."""

    name: str
    url: str
    port: int
    proc: Proc
    workdir: Path
    _own_workdir: bool = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    def check_alive(self) -> None:
        self.proc.check_alive()

    def stop(self) -> None:
        self.proc.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def hailo_services_argv() -> list[str]:
    # The console script of the interpreter running the bench, so the service runs the same code and
    # packages; without it (an uninstalled checkout), the CLI module.
    exe = Path(sys.executable).with_name("hailo-services")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-c", "import sys; from hailo_services.cli import main; sys.exit(main())"]


def start_service(
    name: str,
    config: dict[str, Any],
    *,
    env: dict[str, str] | None = None,
    workdir: Path | None = None,
    engine: str = "cpu",
    port: int | None = None,
    timeout_s: float = READY_TIMEOUT_S,
) -> Service:
    """Run ``hailo-services run NAME`` on 127.0.0.1 with ``config`` as its settings file; return when
    ``/health/ready`` answers 200. Its log is ``workdir/NAME.log``."""
    own = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix=f"hailo-bench-{name}-")) if workdir is None else workdir
    config_file = workdir / f"{name}.yaml"
    # JSON scalars, lists and maps are valid YAML, so every value keeps its type without a YAML writer.
    config_file.write_text("".join(f"{key}: {json.dumps(value)}\n" for key, value in config.items()))
    port = free_port() if port is None else port
    argv = [
        *hailo_services_argv(),
        "run",
        name,
        "--engine",
        engine,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--config",
        str(config_file),
    ]
    child_env = None if env is None else {**os.environ, **env}
    proc = Proc(name, argv, workdir / f"{name}.log", env=child_env)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(timeout=5) as client:

            def ready() -> bool:
                with contextlib.suppress(httpx.HTTPError):
                    return client.get(f"{url}/health/ready").status_code == 200
                return False

            wait_for(ready, proc, timeout_s, f"{name} was not ready in {timeout_s:g} s")
    except BaseException:
        proc.stop()
        if own:
            shutil.rmtree(workdir, ignore_errors=True)
        raise
    return Service(name, url, port, proc, workdir, own)


# --------------------------------------------------------------------------------------------- timing


def percentile(values: Sequence[float], q: float) -> float:
    """Percentile with linear interpolation (q in 0..100)."""
    xs = sorted(values)
    if len(xs) == 1:
        return xs[0]
    k = (len(xs) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


@dataclass
class Timings:
    latencies_ms: list[float]  # one per call, in the order the calls were started
    wall_s: float  # from the first call's start to the last call's end
    concurrency: int = 1

    @property
    def n(self) -> int:
        return len(self.latencies_ms)

    def percentile(self, q: float) -> float:
        return percentile(self.latencies_ms, q)

    @property
    def p50(self) -> float:
        return self.percentile(50)

    @property
    def p99(self) -> float:
        return self.percentile(99)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.latencies_ms)

    @property
    def rate(self) -> float:
        return self.n / self.wall_s if self.wall_s > 0 else float("nan")


def time_calls(fn: Callable[[], Any], n: int, *, warmup: int = 1, concurrency: int = 1) -> Timings:
    """Call ``fn()`` ``warmup`` times untimed, then ``n`` times from ``concurrency`` threads; see the module
    docstring. Threads, not asyncio: the in-process side calls a blocking engine, and both sides should
    be driven the same way for their ratio to mean something."""
    if n < 1 or concurrency < 1 or warmup < 0:
        raise ValueError("time_calls: n >= 1, concurrency >= 1 and warmup >= 0 are required")
    latencies: list[float | None] = [None] * n
    lock = threading.Lock()
    stop = threading.Event()  # set by the first failure, so the other threads do not carry on
    workers = min(concurrency, n)

    def loop(counter: Iterator[int], limit: int, record: bool) -> None:
        while not stop.is_set():
            with lock:
                i = next(counter)
            if i >= limit:
                return
            t0 = time.perf_counter()
            try:
                fn()
            except BaseException:
                stop.set()
                raise
            if record:
                latencies[i] = (time.perf_counter() - t0) * 1000

    def phase(pool: ThreadPoolExecutor, limit: int, record: bool) -> float:
        counter = itertools.count()
        t0 = time.perf_counter()
        futures = [pool.submit(loop, counter, limit, record) for _ in range(min(workers, limit))]
        for future in futures:
            future.result()  # re-raises the failure of that thread
        return time.perf_counter() - t0

    with ThreadPoolExecutor(max_workers=workers) as pool:
        # The warm-up goes through the same threads, so per-thread state (connections, sessions) is
        # warm too before the timed calls.
        if warmup:
            phase(pool, warmup, record=False)
        wall_s = phase(pool, n, record=True)
    return Timings([v for v in latencies if v is not None], wall_s, concurrency)


# --------------------------------------------------------------------------------------- CPU, memory


CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def proc_cpu_ticks(pid: int | str) -> int | None:
    """utime + stime of a process, all threads, in clock ticks (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])


def busy_ticks() -> int | None:
    """Busy ticks of all CPUs together (everything but idle and iowait)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    values = [int(v) for v in fields[:8]]
    return sum(values) - values[3] - values[4]


def rss_bytes(pid: int | str) -> int | None:
    """Resident memory of a process now (VmRSS), in bytes."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


class CpuMeter:
    """CPU time of the servers, and of everything else on the machine, between two snapshots."""

    def __init__(self, pids: dict[str, int]):
        self.pids = pids

    def snapshot(self) -> dict[str, int | None]:
        snap = {name: proc_cpu_ticks(pid) for name, pid in self.pids.items()}
        snap["self"] = proc_cpu_ticks("self")
        snap["busy"] = busy_ticks()
        return snap

    @staticmethod
    def delta_s(a: dict[str, int | None], b: dict[str, int | None], key: str) -> float | None:
        if a.get(key) is None or b.get(key) is None:
            return None
        return (b[key] - a[key]) / CLK_TCK  # type: ignore[operator]

    def other_load(self, a: dict[str, int | None], b: dict[str, int | None], wall_s: float) -> float | None:
        """Cores used by other processes (another workload on the box makes the numbers noisy)."""
        total = self.delta_s(a, b, "busy")
        ours = [self.delta_s(a, b, k) for k in (*self.pids, "self")]
        if total is None or wall_s <= 0 or any(v is None for v in ours):
            return None
        return max(total - sum(v for v in ours if v is not None), 0.0) / wall_s

    def wait_quiet(self, max_wait_s: float, threshold: float = 0.15, window_s: float = 0.5) -> float | None:
        """Wait (at most max_wait_s) until other processes use less than ``threshold`` cores."""
        deadline = time.monotonic() + max_wait_s
        load: float | None = None
        while True:
            a, t = self.snapshot(), time.perf_counter()
            time.sleep(window_s)
            load = self.other_load(a, self.snapshot(), time.perf_counter() - t)
            if load is None or load < threshold or time.monotonic() >= deadline:
                return load


# ------------------------------------------------------------------------------------------ reporting


@dataclass(frozen=True)
class Column:
    key: str | Callable[[Any], Any]  # attribute or dict key of a row, or a function of the row
    header: str | None = None  # default: the key
    fmt: str = ""  # format spec for numbers, e.g. ".1f"
    width: int | None = None  # None: the widest of the header and the cells
    align: str = ">"
    gap: int = 2  # spaces before the column (none before the first)

    def value(self, row: Any) -> Any:
        if callable(self.key):
            return self.key(row)
        return row[self.key] if isinstance(row, dict) else getattr(row, self.key)

    def title(self) -> str:
        return self.header if self.header is not None else str(self.key)

    def cell(self, value: Any, width: int) -> str:
        if value is None:
            return f"{'-':>{width}}"
        if isinstance(value, str):
            return f"{value:{self.align}{width}}"
        return f"{value:{self.align}{width}{self.fmt}}"


def format_table(rows: Sequence[Any], columns: Sequence[Column]) -> list[str]:
    """The lines of a table: header, dashes as long as the header, one line per row."""
    widths = []
    for col in columns:
        if col.width is not None:
            widths.append(col.width)
        else:
            cells = [col.cell(col.value(r), 0) for r in rows]
            widths.append(max([len(col.title()), *map(len, cells)]))

    def line(parts: list[str]) -> str:
        gaps = [" " * col.gap if i else "" for i, col in enumerate(columns)]
        return "".join(gap + part for gap, part in zip(gaps, parts, strict=True))

    head = line([f"{col.title():{col.align}{w}}" for col, w in zip(columns, widths, strict=True)])
    body = [line([col.cell(col.value(r), w) for col, w in zip(columns, widths, strict=True)]) for r in rows]
    return [head, "-" * len(head), *body]


def print_table(rows: Sequence[Any], columns: Sequence[Column]) -> None:
    for text in format_table(rows, columns):
        print(text)


def fmt_opt(value: float | None, width: int, fmt: str) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:{width}{fmt}}"


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, or None when either is missing or b is 0 (a table then shows "-")."""
    if a is None or b is None or b == 0:
        return None
    return a / b


def median_ratio(pairs: Iterable[tuple[float, float]]) -> float:
    """Median over (ours, baseline) pairs of ours / baseline: pairs measured at the same time cancel slow
    drift of the machine that a ratio of two medians would keep."""
    return statistics.median(a / b for a, b in pairs)


def median_delta(pairs: Iterable[tuple[float, float]]) -> float:
    """Median over (ours, baseline) pairs of ours - baseline."""
    return statistics.median(a - b for a, b in pairs)


def verdict(ok: bool | None) -> str:
    return "PASS" if ok else "MISS"


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def machine_environment() -> dict[str, Any]:
    return {
        "cpu count": os.cpu_count(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
    }


def write_json(path: str | Path, payload: dict) -> None:
    """Raw results for later analysis (``--json PATH`` of every benchmark)."""
    Path(path).write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nresults written to {path}")


def print_environment(env: dict[str, Any]) -> None:
    print()
    print("environment")
    for key, value in env.items():
        print(f"  {key:<14} {value}")


def _sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def raise_on_sigterm() -> None:
    """Make SIGTERM (systemd, CI, kill) raise KeyboardInterrupt, so ``finally`` blocks stop the children."""
    signal.signal(signal.SIGTERM, _sigterm)


def bench_main(run: Callable[[Any], int], parse_args: Callable[[list[str] | None], Any], argv: list[str] | None) -> int:
    """A benchmark's ``main``: SIGTERM and Ctrl-C stop it through its ``finally`` blocks (exit 130)."""
    raise_on_sigterm()
    try:
        return run(parse_args(argv))
    except KeyboardInterrupt:
        print("\nbench: interrupted", file=sys.stderr)
        return 130


def existing_file(parser: Any, path: Path | None, flag: str) -> Path | None:
    """``path`` resolved, or ``parser.error`` naming ``flag`` when it is not a file (None stays None)."""
    if path is None:
        return None
    path = path.expanduser().resolve()
    if not path.is_file():
        parser.error(f"{flag}: no such file: {path}")
    return path


TESTS_DIR = Path(__file__).resolve().parent.parent / "tests"


def place_pose_model(target: Path, pose_model: Path | None) -> str:
    """Put hailo-pose's CPU model at ``target`` (the catalog's file name): ``pose_model`` linked there,
    or, without one, the tiny graph of tests/tiny_models.py (the export's interface, a constant answer).
    Returns a description of what was placed."""
    if pose_model is not None:
        target.symlink_to(pose_model)
        return str(pose_model)
    # Appended, not prepended: tests/ has its own harness.py, and bench/'s must stay the one imported.
    sys.path.append(str(TESTS_DIR))
    from tiny_models import yolov8_pose_export

    yolov8_pose_export(target)
    return "tiny graph (tests/tiny_models.py yolov8_pose_export: export interface, constant answer)"


def photos_as_jpeg(
    names: Sequence[str] = ("astronaut", "chelsea", "coffee"), quality: int = 90
) -> list[tuple[str, bytes]]:
    """scikit-image's real photos as JPEG (a typical camera snapshot quality), encoded once:
    ``[(file name, bytes)]``. Needs Pillow and scikit-image (the dev extra)."""
    import io

    from PIL import Image
    from skimage import data

    out = []
    for name in names:
        buf = io.BytesIO()
        Image.fromarray(getattr(data, name)()).convert("RGB").save(buf, "JPEG", quality=quality)
        out.append((f"{name}.jpg", buf.getvalue()))
    return out


def bench_config(workdir: Path, models_dir: Path, model: str, threads: int, **extra: Any) -> dict[str, Any]:
    """The config every benchmark runs a service with: ``model`` kept loaded from the start, no pulls,
    and log level warning (no line per request, so logging costs nothing and the log holds only
    trouble); ``extra`` adds keys (num_ctx, queue_max_waiting)."""
    return {
        "model": model,
        "threads": threads,
        "keep_alive": -1,
        "preload": True,
        "allow_pull": False,
        "log_level": "warning",
        "models_dir": str(models_dir),
        "state_dir": str(workdir / "state"),
        **extra,
    }
