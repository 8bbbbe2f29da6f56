"""hailo-depth's HTTP API: ``POST /v1/depth/estimate`` and ``GET /v1/models``.

The image comes as multipart ``image``, a raw ``image/*`` body or JSON base64 (core/images.py). The
answer is JSON with the map's stats and, when asked (``output``), the map itself as base64 ``.npy``,
a 16-bit PNG or a colour map; ``Accept: image/png`` (or ``?annotate=true``) answers with the colour
map itself. The seed's fields (``output_format`` numpy/image/both/depth_png_16, ``normalize``,
``colormap``) and its response keys (``depth_map`` .npz, ``depth_image``, ``depth_png_16``,
``inference_time_ms``) keep working.

What the numbers are depends on the model and is said in the response (``quantity``, ``nearer``,
``units``): scdepthv3 gives ``relative_inverse_depth``, an inverse depth up to an unknown scale (larger
is nearer); fast_depth gives ``depth`` in metres at its indoor training scale (smaller is nearer).
"""

from __future__ import annotations

import time
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ..core import drawing
from ..core.deps import ManagerDep, SettingsDep
from ..core.images import image_request_openapi, read_image_request
from . import processing
from .engine import DepthMap

router = APIRouter(tags=["depth"])

Output = Literal["stats", "npy", "png16", "colormap"]
SeedFormat = Literal["numpy", "image", "both", "depth_png_16"]
Colormap = Literal["viridis", "plasma", "magma", "turbo", "jet"]


class DepthForm(BaseModel):
    """Parameters of ``POST /v1/depth/estimate``."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(default=None, description="catalog model: scdepthv3 (default) or fast_depth")
    output: Output | None = Field(
        default=None,
        description="what to return besides the stats: `npy` (the float32 map as base64 .npy, under the "
        "quantity's name), `png16` (16-bit greyscale PNG in `image`, 0 = stats.min, 65535 = stats.max) or "
        "`colormap` (colour PNG in `image`, nearest brightest); default `stats` (stats only)",
    )
    output_format: SeedFormat | None = Field(
        default=None,
        description="the seed service's field: `numpy` (`depth_map`, base64 .npz with key `depth`), `image` "
        "(`depth_image`, colour PNG), `both`, or `depth_png_16`",
    )
    normalize: bool = Field(default=False, description="min-max normalise the values to 0..1 (direction kept)")
    colormap: Colormap = Field(default="viridis", description="colour map of the picture")
    annotate: bool = Field(default=False, description="answer with the colour map PNG itself (as Accept: image/png)")


def _body(form: DepthForm, name: str, dm: DepthMap, width: int, height: int) -> dict[str, Any]:
    # Runs in a worker thread: percentiles and PNG encoding of a large map take a while.
    q = dm.quantity
    values = processing.normalize(dm.values) if form.normalize else dm.values
    body: dict[str, Any] = {
        "model": name,
        "model_type": "monocular",
        "quantity": q.name,
        "nearer": q.nearer,
        "units": None if form.normalize else q.units,
        "description": q.description,
        "normalized": form.normalize,
        "input_shape": [height, width, 3],
        "network_input_size": list(dm.network_size),
        "depth_shape": list(values.shape),
        "stats": {k: round(v, 6) for k, v in processing.stats(values).items()},
    }
    output = form.output or "stats"
    if output == "npy":
        body[q.name] = processing.b64(processing.npy(values))
    elif output == "png16":
        body["image"] = processing.b64(processing.png16(values))
    elif output == "colormap":
        body["image"] = processing.b64(processing.png_rgb(processing.colorize(values, q, form.colormap)))
    seed = form.output_format
    if seed in ("numpy", "both"):
        body["depth_map"] = processing.b64(processing.npz(values))
    if seed in ("image", "both"):
        body["depth_image"] = processing.b64(processing.png_rgb(processing.colorize(values, q, form.colormap)))
    if seed == "depth_png_16":
        body["depth_png_16"] = processing.b64(processing.png16(values))
    return body


@router.post(
    "/v1/depth/estimate",
    openapi_extra=image_request_openapi(
        DepthForm,
        description="An image (JPEG, PNG, WebP, BMP, GIF or TIFF) as multipart field 'image', as the raw body "
        "(parameters in the query string), or as JSON. The answer's `quantity` says what the values are: "
        "scdepthv3 gives `relative_inverse_depth` (inverse depth up to an unknown scale, larger is nearer), "
        "fast_depth `depth` in metres at its indoor training scale. `Accept: image/png` returns the colour map.",
    ),
    summary="Estimate a depth map from one image",
)
async def depth_estimate(request: Request, manager: ManagerDep, settings: SettingsDep) -> Response:
    started = time.perf_counter()
    image, form = await read_image_request(request, DepthForm, settings.images)
    name, dm, engine_s = await manager.run_timed(
        form.model, lambda engine: engine.estimate(image.rgb), disconnected=request.is_disconnected
    )
    if form.annotate or drawing.wants_image(request):

        def picture() -> bytes:
            values = processing.normalize(dm.values) if form.normalize else dm.values
            return processing.png_rgb(processing.colorize(values, dm.quantity, form.colormap))

        return Response(await run_in_threadpool(picture), media_type="image/png")
    body = await run_in_threadpool(_body, form, name, dm, image.width, image.height)
    inference_ms = round(engine_s * 1000, 2)
    body["inference_ms"] = inference_ms
    body["inference_time_ms"] = inference_ms  # the seed's name
    body["total_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return JSONResponse(body)
