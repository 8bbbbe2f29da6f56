"""hailo-ollama's model state, tested as a state machine (hypothesis' RuleBasedStateMachine) over real HTTP.

The state is the model store on disk (which catalog models have a file there, and whether smollm2,
shipped in a Python package, has a copy there too) and the loaded model (smollm2 or none, its
num_ctx, its keep_alive). Random sequences of downloads, deletes, pulls, shows, loads, unloads and
one-token generations, naming models in valid, aliased and hostile ways, run against one real
server, and a small model of that state predicts every answer. After each step /api/tags must list
exactly the packaged model plus the downloaded ones, /api/ps must list smollm2 exactly while the
model says it is loaded (with its num_ctx and the expiry its last keep_alive asked for), the store
must hold exactly the files put there, and the service must be healthy. No response may be a 5xx.

Nothing is downloaded (no internet here, and ``allow_pull: false``): a "download" writes a few bytes
under the catalog's file name into the store, as test_delete_downloaded_model does. Those files are
not GGUFs, so the machine never loads or generates with them (that 500 is tested elsewhere).

Loading smollm2 takes seconds on a busy 2-core box, so each example may (re)load it at most ``LOADS``
times after its start (a load after an unload, or a reload for another num_ctx); the rest of its
steps are cheap HTTP calls.
"""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Iterator
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from harness import Service, start_service, stop_service

NUM_CTX = 256
CONFIG = {"max_loaded_models": 1, "num_ctx": NUM_CTX, "keep_alive": -1, "allow_pull": False}
FAR_FUTURE = "2318-08-22T00:00:00Z"  # what /api/ps says for a model kept forever
OTHER_NUM_CTX = 512  # a request's options.num_ctx that reloads the model with that context
LOADS = 2  # loads of smollm2 an example may cause after its start

CATALOG: dict[str, dict[str, Any]] = yaml.safe_load(
    resources.files("hailo_services.ollama").joinpath("catalog.yaml").read_text(encoding="utf-8")
)["models"]
PACKAGED = "smollm2:135m"
# Catalog models that come from a download, and the file each one is in the store.
DOWNLOADABLE = {name: m["cpu"]["file"] for name, m in CATALOG.items() if m["cpu"].get("url")}
# smollm2's GGUF in its Python package; a copy of it in the store (a symlink here) takes precedence.
PACKAGED_FILE = CATALOG[PACKAGED]["cpu"]["file"]
_package = importlib.util.find_spec(CATALOG[PACKAGED]["cpu"]["package"]["module"])  # found, not imported
assert _package is not None and _package.submodule_search_locations
PACKAGED_PATH = Path(next(iter(_package.submodule_search_locations))) / PACKAGED_FILE

# How a client may name a model -> the catalog model that name means (None: no such model). Hypothesis
# draws the first more often: a downloadable model, whose answers depend most on the state.
SPELLINGS: dict[str, str | None] = {
    "qwen2:1.5b": "qwen2:1.5b",
    "qwen2": "qwen2:1.5b",  # no tag, or "latest": the only model of that name
    "qwen2:latest": "qwen2:1.5b",
    "smollm2:135m": PACKAGED,
    "smollm2": PACKAGED,
    "smollm2:latest": PACKAGED,
    " smollm2:135m\t": PACKAGED,  # surrounding whitespace is stripped
    "qwen2.5-coder:1.5b": "qwen2.5-coder:1.5b",
    "qwen2.5-coder": "qwen2.5-coder:1.5b",
    "qwen2.5-instruct:1.5b": "qwen2.5-instruct:1.5b",
    "llama3.2:3b": "llama3.2:3b",
    "deepseek_r1_distill_qwen:1.5b": "deepseek_r1_distill_qwen:1.5b",
    "nosuch:1b": None,
    "qwen2:7b": None,
    "qwen2.5": None,  # a prefix of three models' names, none of them "qwen2.5"
    "SmolLM2:135M": None,  # names are case-sensitive
    "smollm2:135m:latest": None,
    "smollm2:135m\x00": None,
    "qwen2-1_5b-instruct-q4_k_m.gguf": None,  # a file name is not a model name
    "../models/qwen2-1_5b-instruct-q4_k_m.gguf": None,
    "": PACKAGED,  # show/pull/delete: no name = the default model; /api/generate and /api/chat: 400
}
assert {m for m in SPELLINGS.values() if m} <= CATALOG.keys()
assert PACKAGED in CATALOG and "package" in CATALOG[PACKAGED]["cpu"] and PACKAGED not in DOWNLOADABLE
assert set(DOWNLOADABLE) <= {m for m in SPELLINGS.values() if m}

INVALID = "<invalid>"  # a request the body's schema rejects (400)
FOREVER_KEEP_ALIVES = [None, -1, "-1", "-5m"]  # None: the server's keep_alive (-1 in CONFIG)
TIMED_KEEP_ALIVES = {"10m": 600.0, 600: 600.0, "1h": 3600.0}
ZERO_KEEP_ALIVES = [0, "0", "0s", 0.0]
KEEP_ALIVES = [*FOREVER_KEEP_ALIVES, *TIMED_KEEP_ALIVES]

model_spellings = st.sampled_from([*SPELLINGS, None])  # None: the body has no model field at all
name_keys = st.sampled_from(["model", "name"])  # older clients send "name"
endpoints = st.sampled_from(["generate", "chat"])


def meaning(spelling: str | None, *, generation: bool = False) -> str | None:
    """The catalog model a request names, None for an unknown one, INVALID when it is a 400."""
    if not spelling:
        return INVALID if generation else PACKAGED
    return SPELLINGS[spelling]


def model_body(spelling: str | None, key: str) -> dict[str, Any]:
    return {} if spelling is None else {key: spelling}


def iso_seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    srv = start_service("hailo-ollama", tmp_path_factory.mktemp("ollama-state"), CONFIG)
    yield srv
    stop_service(srv)


class OllamaModelState(RuleBasedStateMachine):
    service: ClassVar[Service]  # set by the test

    def __init__(self) -> None:
        super().__init__()
        self.http = httpx.Client(base_url=self.service.url, timeout=120)
        self.store: Path = self.service.log.parent / "models"
        self.store.mkdir(exist_ok=True)
        self.downloaded: dict[str, bytes] = {}  # catalog name -> the fake file's content
        self.copied = False  # smollm2's GGUF is in the store too
        self.loaded = True
        self.ctx = NUM_CTX  # the loaded model's context
        self.expiry: tuple[float, float] | None = None  # when a timed keep_alive ends: (earliest, latest)
        self.loads_left = LOADS

    # -- helpers -----------------------------------------------------------------------------

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        r = self.http.request(method, path, json=body)
        assert r.status_code < 500, f"{method} {path} {body!r} -> {r.status_code}: {r.text[:2000]}"
        return r

    def expect(self, r: httpx.Response, status: int) -> None:
        req = r.request
        assert r.status_code == status, (
            f"{req.method} {req.url.path} {req.content!r}: expected {status}, got {r.status_code}: {r.text[:2000]}"
        )
        if status >= 400:
            assert isinstance(r.json().get("error"), str), r.text

    def draw_name(self, data: st.DataObject) -> str | None:
        """Any spelling, half of the time one of a downloaded model (else deletes would rarely find one)."""
        here = [s for s in SPELLINGS if s and SPELLINGS[s] in self.downloaded]
        names = st.one_of(st.sampled_from(here), model_spellings) if here else model_spellings
        return data.draw(names, label="spelling")

    def needs_load(self, ctx: int) -> bool:
        """Whether a request for smollm2 with context ``ctx`` (re)loads it."""
        return not self.loaded or self.ctx != ctx

    def generation_spellings(self, ctx: int) -> list[str]:
        """Names /api/generate and /api/chat may get now: never a fake file (it is no GGUF), and
        smollm2 only when that costs no load past the example's budget."""
        return [
            s
            for s in SPELLINGS
            if meaning(s, generation=True) not in self.downloaded
            and (meaning(s, generation=True) != PACKAGED or self.loads_left > 0 or not self.needs_load(ctx))
        ]

    def used(self, keep_alive: Any, started: float, ctx: int) -> None:
        """smollm2 answered a request (started at ``started``) with ``keep_alive`` and context ``ctx``."""
        if self.needs_load(ctx):
            self.loads_left -= 1
        self.ctx = ctx
        self.loaded = keep_alive not in ZERO_KEEP_ALIVES
        ttl = TIMED_KEEP_ALIVES.get(keep_alive)
        self.expiry = None if ttl is None else (started + ttl - 1, time.time() + ttl + 1)

    def generation_body(self, endpoint: str, spelling: str, keep_alive: Any, prompt: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"model": spelling, "stream": False}
        if endpoint == "chat":
            body["messages"] = [{"role": "user", "content": "hi"}] if prompt else []
        elif prompt:
            body["prompt"] = "hi"
        if keep_alive is not None:
            body["keep_alive"] = keep_alive
        return body

    # -- setup and teardown ------------------------------------------------------------------

    @initialize(models=st.sets(st.sampled_from(sorted(DOWNLOADABLE))))
    def start_with_smollm2_loaded_and_some_models_downloaded(self, models: set[str]) -> None:
        for file in [*DOWNLOADABLE.values(), PACKAGED_FILE]:
            (self.store / file).unlink(missing_ok=True)
        for model in sorted(models):
            self.download(model, 1)
        r = self.call("POST", "/api/generate", {"model": PACKAGED, "keep_alive": -1, "stream": False})
        self.expect(r, 200)
        assert r.json()["done_reason"] == "load"  # with the server's num_ctx, NUM_CTX

    def teardown(self) -> None:
        for file in [*DOWNLOADABLE.values(), PACKAGED_FILE]:
            (self.store / file).unlink(missing_ok=True)
        self.http.close()

    # -- the store ---------------------------------------------------------------------------

    @rule(model=st.sampled_from(sorted(DOWNLOADABLE)), size=st.integers(1, 64))
    def download(self, model: str, size: int) -> None:
        """What a finished pull leaves: the catalog's file name in the store (here a few fake bytes)."""
        content = (b"not a gguf " + model.encode()) * size
        (self.store / DOWNLOADABLE[model]).write_bytes(content)
        self.downloaded[model] = content

    @precondition(lambda self: not self.copied)
    @rule()
    def copy_packaged_model_into_store(self) -> None:
        """The real smollm2 GGUF in the store as well (say an older deployment put it there)."""
        (self.store / PACKAGED_FILE).symlink_to(PACKAGED_PATH)
        self.copied = True

    @precondition(lambda self: self.downloaded or self.copied)
    @rule(data=st.data())
    def remove_file_behind_the_services_back(self, data: st.DataObject) -> None:
        model = data.draw(st.sampled_from(sorted(self.downloaded) + [PACKAGED] * self.copied), label="model")
        if model == PACKAGED:
            (self.store / PACKAGED_FILE).unlink()
            self.copied = False
        else:
            (self.store / DOWNLOADABLE[model]).unlink()
            del self.downloaded[model]

    @rule(data=st.data(), key=name_keys)
    def delete(self, data: st.DataObject, key: str) -> None:
        spelling = self.draw_name(data)
        model = meaning(spelling)
        r = self.call("DELETE", "/api/delete", model_body(spelling, key))
        if model in self.downloaded:
            self.expect(r, 200)
            assert not (self.store / DOWNLOADABLE[model]).exists()
            del self.downloaded[model]
        elif model == PACKAGED and self.copied:  # the store's copy goes; the package's stays
            self.expect(r, 200)
            assert not (self.store / PACKAGED_FILE).exists()
            self.copied = False
            self.loaded = False  # delete unloads the model first, though it stays available
        elif model == PACKAGED:
            self.expect(r, 400)
            assert "cannot be deleted" in r.json()["error"]
        else:
            self.expect(r, 404)

    @rule(data=st.data(), key=name_keys, stream=st.booleans())
    def pull(self, data: st.DataObject, key: str, stream: bool) -> None:
        """A model already here "pulls" at once; any other needs a download, off on this server."""
        spelling = self.draw_name(data)
        model = meaning(spelling)
        r = self.call("POST", "/api/pull", {**model_body(spelling, key), "stream": stream})
        if model is None:
            self.expect(r, 404)
        elif model == PACKAGED or model in self.downloaded:
            self.expect(r, 200)
            events = [json.loads(line) for line in r.text.splitlines()] if stream else [r.json()]
            assert events[-1] == {"status": "success"}, r.text
            assert not any("error" in e for e in events), r.text
        else:
            self.expect(r, 403)
            assert "allow_pull" in r.json()["error"]

    @rule(data=st.data(), key=name_keys)
    def show(self, data: st.DataObject, key: str) -> None:
        spelling = self.draw_name(data)
        model = meaning(spelling)
        r = self.call("POST", "/api/show", model_body(spelling, key))
        if model != PACKAGED and model not in self.downloaded:
            self.expect(r, 404)
            return
        self.expect(r, 200)
        body = r.json()
        spec = CATALOG[model]
        assert body["details"]["format"] == "gguf" and body["details"]["family"] == spec["family"]
        source = body["modelfile"].splitlines()[1]
        assert source.endswith("/" + spec["cpu"]["file"]), body["modelfile"]
        from_store = model != PACKAGED or self.copied
        assert source.startswith(f"FROM {self.store}/" if from_store else "FROM /"), (source, self.store)
        ctx = self.ctx if model == PACKAGED and self.loaded else spec["context_length"]
        assert body["model_info"][f"{spec['family']}.context_length"] == ctx

    # -- loaded models -----------------------------------------------------------------------

    @rule(
        data=st.data(),
        endpoint=endpoints,
        keep_alive=st.sampled_from(KEEP_ALIVES),
        num_ctx=st.sampled_from([None, NUM_CTX, OTHER_NUM_CTX]),
    )
    def load(self, data: st.DataObject, endpoint: str, keep_alive: Any, num_ctx: int | None) -> None:
        """A request without a prompt (or messages) loads the model and answers done_reason "load",
        with the request's options.num_ctx (none: the server's), as a generation would."""
        ctx = num_ctx or NUM_CTX
        spelling = data.draw(st.sampled_from(self.generation_spellings(ctx)), label="spelling")
        model = meaning(spelling, generation=True)
        started = time.time()
        body = self.generation_body(endpoint, spelling, keep_alive, prompt=False)
        if num_ctx is not None:
            body["options"] = {"num_ctx": num_ctx}
        r = self.call("POST", f"/api/{endpoint}", body)
        if model == INVALID:
            self.expect(r, 400)
        elif model != PACKAGED:  # unknown, or a catalog model that is not in the store
            self.expect(r, 404)
        else:
            self.expect(r, 200)
            assert r.json()["done_reason"] == "load" and r.json()["done"] is True
            self.used(keep_alive, started, ctx)

    @rule(spelling=st.sampled_from(list(SPELLINGS)), endpoint=endpoints, keep_alive=st.sampled_from(ZERO_KEEP_ALIVES))
    def unload(self, spelling: str, endpoint: str, keep_alive: Any) -> None:
        """keep_alive 0 without a prompt unloads (a no-op for a model that is not loaded)."""
        model = meaning(spelling, generation=True)
        r = self.call("POST", f"/api/{endpoint}", self.generation_body(endpoint, spelling, keep_alive, prompt=False))
        if model == INVALID:
            self.expect(r, 400)
        elif model is None:
            self.expect(r, 404)
        else:
            self.expect(r, 200)
            assert r.json()["done_reason"] == "unload" and r.json()["done"] is True
            if model == PACKAGED:
                self.loaded = False

    @rule(
        data=st.data(),
        endpoint=endpoints,
        keep_alive=st.sampled_from([*KEEP_ALIVES, *ZERO_KEEP_ALIVES]),
        stream=st.booleans(),
        num_ctx=st.sampled_from([None, NUM_CTX, OTHER_NUM_CTX]),
    )
    def generate(self, data: st.DataObject, endpoint: str, keep_alive: Any, stream: bool, num_ctx: int | None) -> None:
        """One token; the model stays loaded as keep_alive says (0: unloaded right after), reloaded
        first when the request's num_ctx (none: the server's) is not the one it has."""
        ctx = num_ctx or NUM_CTX
        spelling = data.draw(st.sampled_from(self.generation_spellings(ctx)), label="spelling")
        model = meaning(spelling, generation=True)
        body = self.generation_body(endpoint, spelling, keep_alive, prompt=True)
        body |= {"stream": stream, "options": {"num_predict": 1, "temperature": 0, "num_ctx": num_ctx}}
        started = time.time()
        r = self.call("POST", f"/api/{endpoint}", body)
        if model == INVALID:
            self.expect(r, 400)
            return
        if model != PACKAGED:
            self.expect(r, 404)
            return
        self.expect(r, 200)
        chunks = [json.loads(line) for line in r.text.splitlines()] if stream else [r.json()]
        assert not any("error" in c for c in chunks), r.text
        assert [c["done"] for c in chunks] == [False] * (len(chunks) - 1) + [True], r.text
        assert chunks[-1]["done_reason"] in ("stop", "length") and chunks[-1]["eval_count"] <= 1, r.text
        assert (chunks[-1]["load_duration"] > 0) == self.needs_load(ctx), chunks[-1]
        self.used(keep_alive, started, ctx)

    # -- invariants --------------------------------------------------------------------------

    @invariant()
    def tags_list_the_packaged_model_and_the_downloaded_ones(self) -> None:
        r = self.call("GET", "/api/tags")
        self.expect(r, 200)
        models = {m["name"]: m for m in r.json()["models"]}
        assert len(models) == len(r.json()["models"]), r.text
        assert set(models) == {PACKAGED, *self.downloaded}, r.text
        assert models[PACKAGED]["size"] == CATALOG[PACKAGED]["cpu"]["size"]
        for name, content in self.downloaded.items():
            assert models[name]["model"] == name and models[name]["size"] == len(content), models[name]

    @invariant()
    def ps_lists_smollm2_exactly_while_it_is_loaded(self) -> None:
        r = self.call("GET", "/api/ps")
        self.expect(r, 200)
        models = r.json()["models"]
        assert [m["name"] for m in models] == ([PACKAGED] if self.loaded else []), r.text
        if self.loaded:
            assert models[0]["context_length"] == self.ctx, models[0]
            if self.expiry is None:
                assert models[0]["expires_at"] == FAR_FUTURE, models[0]
            else:
                earliest, latest = self.expiry
                assert earliest <= iso_seconds(models[0]["expires_at"]) <= latest, (models[0], self.expiry)

    @invariant()
    def the_store_holds_exactly_the_files_put_there(self) -> None:
        expected = [DOWNLOADABLE[m] for m in self.downloaded] + [PACKAGED_FILE] * self.copied
        assert sorted(p.name for p in self.store.iterdir()) == sorted(expected)

    @invariant()
    def the_service_is_healthy(self) -> None:
        assert self.service.proc.poll() is None, self.service.output()[-3000:]
        health = self.call("GET", "/health")
        self.expect(health, 200)
        assert health.json()["status"] == "ok" and health.json()["ready"] is True, health.text
        self.expect(self.call("GET", "/health/ready"), 200)


def test_model_state_machine(service: Service) -> None:
    OllamaModelState.service = service
    run_state_machine_as_test(
        OllamaModelState,
        settings=settings(
            max_examples=20,
            stateful_step_count=10,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
            phases=[p for p in Phase if p is not Phase.explain],  # explaining a failure replays it for minutes
        ),
    )
    assert service.proc.poll() is None
    assert "Traceback" not in service.output(), service.output()[-5000:]
