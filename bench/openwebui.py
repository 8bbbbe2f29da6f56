"""Open WebUI check: does Open WebUI's page chat answer through hailo-ollama? Opt-in, not part of tools/test.

Installs Open WebUI in its own venv (created on first use, reused after), starts hailo-ollama (CPU engine,
harness.start_service with bench_config, its packaged default model smollm2:135m) and Open WebUI on free
ports, with a small recording proxy between them, and sends a chat the way Open WebUI's page does:

* sign in (``WEBUI_AUTH=False``: ``POST /api/v1/auths/signin`` with empty credentials gives the token),
  ``GET /api/models``, a socket.io session (``/ws/socket.io``, auth token, ``user-join``);
* ``POST /api/chat/completions`` with the body of the page's ``sendMessageSocket`` (Chat.svelte in
  0.12.4): ``stream``, ``model``, ``params`` (``model_controls``, plus ``function_calling`` in legacy
  mode), ``tool_ids``, ``tool_servers``, ``features`` (``memory: true`` as the page's default config
  gives it), ``variables``, ``model_item``, ``session_id``, ``id``, ``parent_id: null`` (a new chat: the
  backend creates it, the page no longer calls ``/api/v1/chats/new`` first), ``user_message``,
  ``chat_variables``, ``background_tasks`` (title, tags, follow-ups). The HTTP answer is only
  ``{status, task_ids, chat_id}``; the reply comes as socket ``events`` and is read back from
  ``GET /api/v1/chats/{id}``.

Modes: ``native`` (0.12.4's default ``function_calling``: Open WebUI sends its builtin tools, 36 of them,
~26 KB, with every chat; SmolLM2's 2048 context cannot hold them, so hailo-ollama cuts the prompt to
1536 tokens and still answers) and ``legacy`` (``params.function_calling: "legacy"``, as the chat's
"Function Calling" control sends it: no tools). A chat passes when the HTTP status is 200, the chat
finishes without an error and the answer is not empty; the run exits 1 otherwise.

    python bench/openwebui.py [--venv DIR] [--modes native,legacy] [--num-parallel 2] \
        [--no-background-tasks] [--keep-logs DIR] [--json out.json]

Columns: ``mode``; ``tools`` (tools in the ``/api/chat`` call of the chat, and their JSON size);
``prompt`` (the chat's ``prompt_eval_count``); ``status`` (of ``/api/chat/completions``); ``first s`` /
``done s`` (from the POST to the first streamed text / the end of the reply, seen on the socket);
``answer`` (characters); ``tasks`` (Open WebUI's other ``/api/chat`` calls for this chat: title, tags,
follow-ups, each ``stream: false``, with their statuses); verdict.

Cost (x86_64, 2 shared cores): the install, once, ~160-180 s and ~2.9 GB (Open WebUI 0.12.4 and a CPU
torch: ``torch==2.13.0+cpu`` on x86_64, from ``--find-links``/``--pip-args`` or PyTorch's CPU index,
since the default torch wheel pulls CUDA; plain ``torch`` elsewhere); a run ~2-6 min (Open WebUI starts in
~15-30 s; the native chat evaluates a 1536-token prompt, the legacy one ~40; the page's title, tags and
follow-ups run beside and after each chat and are waited for; much longer on a busy machine).
Open WebUI needs Python 3.11 or 3.12 (``--python``). Nothing leaves the machine: ``OFFLINE_MODE``,
``HF_HUB_OFFLINE``, embeddings through hailo-ollama.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

# bench/ is sys.path[0] when this runs as `python bench/openwebui.py`.
from harness import (
    Column,
    Proc,
    bench_config,
    bench_main,
    free_port,
    machine_environment,
    print_environment,
    print_table,
    start_service,
    wait_for,
    write_json,
)

OPENWEBUI_VERSION = "0.12.4"
DEFAULT_VENV = Path("~/.cache/hailo-services/openwebui-venv")
MODEL = "smollm2:135m"
MODES = ("native", "legacy")
PROMPT = "Why is the sky blue? Answer in two sentences."
HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "content-encoding"}


# -------------------------------------------------------------------------------------------- venv


def default_torch() -> str:
    # The default torch wheel on x86_64 pulls CUDA (gigabytes); the +cpu build does not.
    return "torch==2.13.0+cpu" if platform.machine() in ("x86_64", "AMD64") else "torch"


def ensure_venv(venv: Path, python: str, torch: str, pip_args: list[str]) -> float | None:
    """Create the venv and install Open WebUI unless ``venv/bin/open-webui`` exists; the seconds it took
    (None when reused)."""
    if (venv / "bin" / "open-webui").exists():
        return None
    print(f"installing Open WebUI {OPENWEBUI_VERSION} into {venv} (once; minutes, ~3 GB)", flush=True)
    t0 = time.perf_counter()
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "pip"), "install", "-q", *pip_args]
    subprocess.run([*pip, torch, f"open-webui=={OPENWEBUI_VERSION}"], check=True)
    return time.perf_counter() - t0


def dir_size_gb(path: Path) -> float:
    out = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=False).stdout
    return int(out.split()[0]) / 1e9 if out else float("nan")


# ------------------------------------------------------------------------------- recording proxy


class Recorder:
    """What Open WebUI sent to hailo-ollama: one record per finished request."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.in_flight = 0
        self.lock = threading.Lock()


def start_proxy(upstream: str, recorder: Recorder) -> tuple[ThreadingHTTPServer, str]:
    """A pass-through HTTP proxy on a free port: the body goes upstream as is, the answer streams back
    unchanged (close-delimited), and each ``/api/chat`` call is summarised in ``recorder``."""
    client = httpx.Client(base_url=upstream, timeout=httpx.Timeout(None))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *args: Any) -> None:
            pass

        def forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
            rec: dict[str, Any] = {"t_start": time.time(), "method": self.command, "path": self.path}
            with recorder.lock:
                recorder.in_flight += 1
            try:
                with client.stream(self.command, self.path, content=body, headers=headers) as up:
                    self.send_response(up.status_code)
                    for k, v in up.headers.items():
                        if k.lower() not in HOP_HEADERS:
                            self.send_header(k, v)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    last = b""
                    for chunk in up.iter_raw():
                        rec.setdefault("t_first", time.time())
                        self.wfile.write(chunk)
                        self.wfile.flush()
                        last = (last + chunk)[-8192:]
                    rec["status"] = up.status_code
                    rec["last_line"] = last.strip().rsplit(b"\n", 1)[-1].decode(errors="replace")
            finally:
                rec["t_end"] = time.time()
                if self.path.startswith("/api/chat"):
                    rec.update(summarise_chat_body(body))
                with recorder.lock:
                    recorder.in_flight -= 1
                    recorder.records.append(rec)

        do_GET = do_POST = do_DELETE = do_HEAD = forward

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def summarise_chat_body(body: bytes) -> dict[str, Any]:
    try:
        req = json.loads(body)
    except ValueError:
        return {}
    tools = req.get("tools") or []
    return {
        "stream": req.get("stream", True),
        "tools": len(tools),
        "tools_bytes": len(json.dumps(tools)) if tools else 0,
        "options": req.get("options"),
        "think": req.get("think"),
        "messages": len(req.get("messages") or []),
        "req_bytes": len(body),
    }


# ------------------------------------------------------------------------------------ the page


async def page_chat(owui: str, mode: str, prompt: str, background: bool, timeout_s: float) -> dict[str, Any]:
    """One new chat, one message, sent as Open WebUI's page sends it (runs in Open WebUI's venv, which
    has python-socketio)."""
    import socketio  # Open WebUI's dependency, not ours

    http = httpx.AsyncClient(base_url=owui, timeout=timeout_s)
    sio = socketio.AsyncClient()
    try:
        r = await http.post("/api/v1/auths/signin", json={"email": "", "password": ""})
        r.raise_for_status()
        user = r.json()
        auth = {"Authorization": f"Bearer {user['token']}"}
        config = (await http.get("/api/config", headers=auth)).json()
        models = (await http.get("/api/models", headers=auth)).json()["data"]
        model = next(m for m in models if m["id"] == MODEL)

        loop = asyncio.get_running_loop()
        first: asyncio.Future[float] = loop.create_future()
        done: asyncio.Future[tuple[float, dict]] = loop.create_future()
        resp_id = str(uuid.uuid4())

        @sio.on("events")
        async def on_event(event: dict) -> None:
            t = time.perf_counter()
            data = event.get("data") or {}
            inner = data.get("data") or {}
            if event.get("message_id") != resp_id:
                return
            if not first.done() and (inner.get("type") or "").endswith(".delta") and inner.get("delta"):
                first.set_result(t)
            if done.done():
                return
            if data.get("type") == "chat:message:error":
                done.set_result((t, {"error": inner.get("error") or inner}))
            elif data.get("type") == "chat:completion" and (inner.get("done") or inner.get("error")):
                done.set_result((t, inner))

        await sio.connect(owui, socketio_path="/ws/socket.io", transports=["websocket"], auth={"token": user["token"]})
        await sio.emit("user-join", {"auth": {"token": user["token"]}})

        now = datetime.now()
        features = {"voice": False, "image_generation": False, "code_interpreter": False, "web_search": False}
        if config.get("features", {}).get("enable_memories"):
            features["memory"] = True
        params: dict[str, Any] = {"model_controls": {}}
        if mode == "legacy":
            params["function_calling"] = "legacy"
        body = {
            "stream": True,
            "model": MODEL,
            "params": params,
            "tool_ids": [],
            "tool_servers": [],
            "features": features,
            "variables": {
                "{{USER_NAME}}": user["name"],
                "{{USER_EMAIL}}": user.get("email") or "Unknown",
                "{{USER_LOCATION}}": "Unknown",
                "{{CURRENT_DATETIME}}": now.strftime("%Y-%m-%d %H:%M:%S"),
                "{{CURRENT_DATE}}": now.strftime("%Y-%m-%d"),
                "{{CURRENT_TIME}}": now.strftime("%H:%M:%S"),
                "{{CURRENT_WEEKDAY}}": now.strftime("%A"),
                "{{CURRENT_TIMEZONE}}": "UTC",
                "{{USER_LANGUAGE}}": "en-US",
            },
            "chat_variables": {},
            "model_item": model,
            "session_id": sio.get_sid(),
            "id": resp_id,
            "parent_id": None,
            "user_message": {
                "id": str(uuid.uuid4()),
                "parentId": None,
                "childrenIds": [],
                "role": "user",
                "user": {"id": user["id"], "name": user["name"]},
                "user_id": user["id"],
                "content": prompt,
                "timestamp": int(time.time()),
                "models": [MODEL],
            },
            "background_tasks": {
                "title_generation": background,
                "tags_generation": background,
                "follow_up_generation": background,
            },
        }
        t0 = time.perf_counter()
        r = await http.post("/api/chat/completions", json=body, headers=auth)
        out: dict[str, Any] = {"mode": mode, "status": r.status_code, "answer": "", "error": None}
        if r.status_code != 200:
            out["error"] = r.text[:500]
            return out
        chat_id = r.json().get("chat_id")
        try:
            t_done, inner = await asyncio.wait_for(done, timeout_s)
            out["done_s"] = t_done - t0
            out["error"] = inner.get("error")
        except TimeoutError:
            out["error"] = f"no end of the reply in {timeout_s:g} s"
        out["first_s"] = first.result() - t0 if first.done() else None
        chat = (await http.get(f"/api/v1/chats/{chat_id}", headers=auth)).json()
        message = chat["chat"]["history"]["messages"].get(resp_id, {})
        out["answer"] = message.get("content") or ""
        out["error"] = out["error"] or message.get("error")
        return out
    finally:
        with contextlib.suppress(Exception):
            await sio.disconnect()
        await http.aclose()


def drive_main(argv: list[str]) -> int:
    """``--drive OWUI MODE PROMPT BACKGROUND TIMEOUT``: one page chat, its result as JSON on stdout."""
    owui, mode, prompt, background, timeout_s = argv
    result = asyncio.run(page_chat(owui, mode, prompt, background == "1", float(timeout_s)))
    print(json.dumps(result))
    return 0


# ------------------------------------------------------------------------------------------- run


def start_openwebui(venv: Path, workdir: Path, ollama_url: str, port: int, timeout_s: float) -> Proc:
    data = workdir / "openwebui-data"
    data.mkdir()
    env = {
        **os.environ,
        "DATA_DIR": str(data),
        "OFFLINE_MODE": "true",
        "HF_HUB_OFFLINE": "1",
        "WEBUI_AUTH": "False",
        "ENABLE_OPENAI_API": "false",
        "OLLAMA_BASE_URL": ollama_url,
        "WEBUI_SECRET_KEY": uuid.uuid4().hex,
        "RAG_EMBEDDING_ENGINE": "ollama",
        "RAG_EMBEDDING_MODEL": MODEL,
        "ENABLE_VERSION_UPDATE_CHECK": "false",
    }
    argv = [str(venv / "bin" / "open-webui"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    proc = Proc("open-webui", argv, workdir / "open-webui.log", env=env)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{url}/health", timeout=5).status_code == 200
        return False

    try:
        wait_for(healthy, proc, timeout_s, f"Open WebUI did not answer /health in {timeout_s:g} s", interval_s=1)
    except BaseException:
        proc.stop()
        raise
    return proc


def wait_idle(recorder: Recorder, timeout_s: float) -> bool:
    """Wait until no request to hailo-ollama is in flight for 3 s (Open WebUI's background tasks done)."""
    deadline = time.monotonic() + timeout_s
    quiet_since = None
    while time.monotonic() < deadline:
        if recorder.in_flight == 0:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= 3:
                return True
        else:
            quiet_since = None
        time.sleep(0.5)
    return False


def run(args: argparse.Namespace) -> int:
    venv = args.venv.expanduser().resolve()
    env = machine_environment()
    install_s = ensure_venv(venv, args.python, args.torch, args.pip_args)
    how = "reused" if install_s is None else f"installed in {install_s:.0f} s"
    env["venv"] = f"{venv} ({dir_size_gb(venv):.1f} GB, {how})"
    env["open-webui"] = OPENWEBUI_VERSION
    env["hailo-ollama"] = f"cpu engine, {MODEL}, num_parallel {args.num_parallel}, num_ctx {args.num_ctx}"

    workdir = Path(tempfile.mkdtemp(prefix="hailo-bench-openwebui-"))
    models_dir = workdir / "models"  # empty: the service finds its packaged model
    models_dir.mkdir()
    config = bench_config(
        workdir, models_dir, MODEL, args.threads, num_parallel=args.num_parallel, num_ctx=args.num_ctx
    )
    recorder = Recorder()
    rows: list[dict[str, Any]] = []
    svc = proxy = owui = None
    t_run = time.perf_counter()
    try:
        svc = start_service("hailo-ollama", config, workdir=workdir)
        proxy, proxy_url = start_proxy(svc.url, recorder)
        t0 = time.perf_counter()
        owui_port = free_port()
        owui = start_openwebui(venv, workdir, proxy_url, owui_port, args.start_timeout)
        env["open-webui start"] = f"{time.perf_counter() - t0:.0f} s"
        owui_url = f"http://127.0.0.1:{owui_port}"
        for mode in args.modes:
            n_before = len(recorder.records)
            t_mode = time.time()
            argv = [str(venv / "bin" / "python"), __file__, "--drive", owui_url, mode, args.prompt]
            argv += ["1" if args.background_tasks else "0", str(args.timeout)]
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=args.timeout + 120, check=False)
            if proc.returncode != 0:
                raise RuntimeError(f"page driver failed ({mode}):\n{proc.stderr[-3000:]}")
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            idle = wait_idle(recorder, args.timeout)  # title, tags, follow-ups of this chat
            calls = [r for r in recorder.records[n_before:] if r["path"] == "/api/chat" and r["t_start"] >= t_mode]
            main = [r for r in calls if r.get("stream")]
            tasks = [r for r in calls if not r.get("stream")]
            chat = main[0] if main else {}
            with contextlib.suppress(ValueError, TypeError):
                result["prompt"] = json.loads(chat.get("last_line") or "").get("prompt_eval_count")
            result["tools"] = f"{chat.get('tools', 0)} ({chat.get('tools_bytes', 0) / 1000:.1f} KB)" if chat else "-"
            result["tasks"] = " ".join(str(r.get("status")) for r in tasks) + ("" if idle else " (still running)")
            result["chars"] = len(result["answer"])
            result["ok"] = result["status"] == 200 and not result["error"] and result["chars"] > 0
            result["chat_request"] = chat
            result["task_requests"] = tasks
            rows.append(result)
            print(f"  {mode}: status {result['status']}, {result['chars']} chars, error {result['error']}", flush=True)
    except (RuntimeError, httpx.HTTPError, subprocess.TimeoutExpired) as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    finally:
        if owui is not None:
            owui.stop()
        if proxy is not None:
            proxy.shutdown()
        if svc is not None:
            svc.stop()
        if args.keep_logs:
            Path(args.keep_logs).mkdir(parents=True, exist_ok=True)
            for log in workdir.glob("*.log"):
                shutil.copy(log, Path(args.keep_logs) / log.name)
        shutil.rmtree(workdir, ignore_errors=True)
    env["run"] = f"{time.perf_counter() - t_run:.0f} s"

    print_environment(env)
    print()
    print_table(
        rows,
        [
            Column("mode", align="<"),
            Column("tools", "tools sent"),
            Column("prompt", "prompt tok"),
            Column("status"),
            Column("first_s", "first s", ".1f"),
            Column("done_s", "done s", ".1f"),
            Column("chars", "answer chars"),
            Column("tasks", "tasks (status)", align="<"),
            Column(lambda r: "PASS" if r["ok"] else "FAIL", "verdict"),
        ],
    )
    for r in rows:
        if not r["ok"]:
            print(f"\n{r['mode']}: {r['error']}")
    if args.json:
        write_json(args.json, {"environment": env, "results": rows, "requests": recorder.records})
    return 0 if rows and all(r["ok"] for r in rows) else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--venv", type=Path, default=DEFAULT_VENV, help=f"Open WebUI's venv (default {DEFAULT_VENV})")
    p.add_argument("--python", default="python3.11", help="interpreter for a new venv (3.11 or 3.12)")
    p.add_argument("--torch", default=default_torch(), help="torch requirement installed first (default: %(default)s)")
    p.add_argument("--pip-args", nargs="*", default=[], help="extra pip arguments, e.g. --find-links DIR")
    p.add_argument("--modes", default=",".join(MODES), help="native,legacy (default both)")
    p.add_argument("--prompt", default=PROMPT)
    p.add_argument("--num-parallel", type=int, default=2, help="hailo-ollama num_parallel (default 2)")
    p.add_argument("--num-ctx", type=int, default=2048, help="hailo-ollama num_ctx (default 2048)")
    p.add_argument("--threads", type=int, default=2, help="llama.cpp threads (default 2)")
    p.add_argument(
        "--no-background-tasks",
        dest="background_tasks",
        action="store_false",
        help="send background_tasks false (no title, tags, follow-ups)",
    )
    p.add_argument("--timeout", type=float, default=600, help="seconds per chat (default 600)")
    p.add_argument("--start-timeout", type=float, default=180, help="seconds for Open WebUI to start")
    p.add_argument("--keep-logs", metavar="DIR", help="copy hailo-ollama's and Open WebUI's logs to DIR")
    p.add_argument("--json", metavar="FILE", help="also write the results and every request as JSON")
    args = p.parse_args(argv)
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not args.modes or any(m not in MODES for m in args.modes):
        p.error(f"--modes: a comma-separated list of {', '.join(MODES)}")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--drive"]:
        return drive_main(argv[1:])
    return bench_main(run, parse_args, argv)


if __name__ == "__main__":
    sys.exit(main())
