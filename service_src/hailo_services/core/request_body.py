"""Read and validate a JSON body ourselves, so oversized bodies stay 413 and malformed JSON is a clear 400.

:func:`load_json` is the one JSON parser for request bodies (every service, every route): strict JSON
(no NaN / Infinity, no numbers that overflow to infinity), a nesting limit, and lone UTF-16
surrogates replaced, so nothing a client sends can reach an engine as a value it cannot take.
"""

from __future__ import annotations

import json
import math
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from .errors import BadRequest

M = TypeVar("M", bound=BaseModel)

# Real requests nest a few levels (messages -> content parts -> image_url); JSON schemas in
# ``format`` or ``tools`` a few more. Past this a body is an attack on the parser or on code that
# walks it recursively (pydantic, json.dumps, templates), not a request.
MAX_JSON_DEPTH = 64


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON (numbers must be finite)")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text[:40]} is too large")
    return value


def load_json(raw: bytes | str) -> Any:
    """Parse a request body as strict JSON; BadRequest (400) for anything else.

    Rejects NaN / Infinity (Python's json takes them, Go's and JavaScript's do not), numbers past a
    float's range, integers of more than 4300 digits (Python's own limit), nesting deeper than
    :data:`MAX_JSON_DEPTH`, and invalid UTF-8. Lone surrogates (``"\\ud800"``) become U+FFFD, as Go's
    decoder (Ollama) does: such a string cannot be encoded to UTF-8 for an engine.
    """
    try:
        data = json.loads(raw, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise BadRequest(
            f"request body is nested too deeply (more than {MAX_JSON_DEPTH} levels)", code="invalid_json"
        ) from None
    except UnicodeDecodeError as exc:
        raise BadRequest(
            f"request body is not valid UTF-8: {exc.reason} at byte {exc.start}", code="invalid_json"
        ) from None
    except ValueError as exc:  # JSONDecodeError, our number checks, int digit limit
        raise BadRequest(f"request body is not valid JSON: {exc}", code="invalid_json") from None
    return _check_tree(data)


def _check_tree(data: Any) -> Any:
    """Enforce the depth limit and clean strings, without recursion (the tree may be deep)."""
    if isinstance(data, str):
        return _clean_str(data)
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            items = node.items()
        elif isinstance(node, list):
            items = enumerate(node)
        else:
            continue
        if depth > MAX_JSON_DEPTH:
            raise BadRequest(
                f"request body is nested too deeply (more than {MAX_JSON_DEPTH} levels)", code="invalid_json"
            )
        fixes = []
        for key, value in items:
            if isinstance(value, str):
                clean = _clean_str(value)
                if clean is not value:
                    fixes.append((key, clean))
            elif isinstance(value, (dict, list)):
                stack.append((value, depth + 1))
        for key, clean in fixes:
            node[key] = clean
        if isinstance(node, dict) and any(isinstance(k, str) and not _encodable(k) for k in node):
            for key in [k for k in node if not _encodable(k)]:
                node[_clean_str(key)] = node.pop(key)
    return data


def _encodable(s: str) -> bool:
    if s.isascii():
        return True
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _clean_str(s: str) -> str:
    if _encodable(s):
        return s
    return s.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{loc}: {err['msg']}")
    return "invalid request: " + "; ".join(parts)


async def parse_json(request: Request, model: type[M], *, empty_ok: bool = False) -> M:
    raw = await request.body()
    if not raw.strip():
        if empty_ok:
            return model()
        raise BadRequest("request body is empty; expected a JSON object")
    data = load_json(raw)
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BadRequest(describe(exc), code="invalid_request") from None


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema with its ``$defs`` resolved in place, so it can stand alone in a route's
    ``openapi_extra`` (FastAPI cannot add components from there)."""
    defs = schema.get("$defs", {})

    def resolve(node: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref.removeprefix("#/$defs/")
                if name in seen:  # a recursive model: leave it open rather than loop
                    return {"type": "object"}
                target = resolve(defs[name], (*seen, name))
                rest = {k: resolve(v, seen) for k, v in node.items() if k != "$ref"}
                return {**target, **rest}
            return {k: resolve(v, seen) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [resolve(v, seen) for v in node]
        return node

    return resolve(schema, ())


def json_body_openapi(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """``openapi_extra`` documenting a JSON body that the route reads itself with :func:`parse_json`
    (which keeps 413 and malformed-JSON answers ours), so /docs and schemathesis see its schema."""
    return {
        "requestBody": {
            "required": required,
            "content": {"application/json": {"schema": inline_refs(model.model_json_schema())}},
        }
    }
