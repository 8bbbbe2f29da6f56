"""Read and validate a JSON body ourselves, so oversized bodies stay 413 and malformed JSON is a clear 400."""

from __future__ import annotations

import json
from typing import TypeVar

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
