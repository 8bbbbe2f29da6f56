"""Read and validate a JSON body ourselves, so oversized bodies stay 413 and malformed JSON is a clear 400."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from .errors import BadRequest

M = TypeVar("M", bound=BaseModel)


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
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}", code="invalid_json") from None
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
