"""Image input, the same way in every vision service.

Three request shapes reach :func:`read_image_request`:

- ``multipart/form-data`` (DeepStack/Frigate/CodeProject.AI): the file in field ``image``, the other
  form fields are the parameters;
- a raw ``image/*`` or ``application/octet-stream`` body, parameters in the query string;
- ``application/json``: ``{"image": "<base64>" | "data:image/png;base64,..." | "https://...", ...params}``.

Every one ends in :func:`decode_image`, which checks the pixel count from the header before any pixel
is decoded (a few hundred KB of PNG can claim 20000x20000), applies the EXIF orientation and returns
HxWx3 uint8 RGB. Undecodable input is a 400, a media type we recognise but do not take is a 415, too
many pixels or bytes a 413.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import ipaddress
import socket
import warnings
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import unquote_to_bytes

import httpx
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request

from .errors import BadRequest, Forbidden, PayloadTooLarge, ServiceError, UnsupportedMediaType
from .request_body import describe, inline_refs, load_json
from .settings import ImageInputSettings

P = TypeVar("P", bound=BaseModel)

# Pillow's names. MPO is how Pillow names the JPEGs many phones write (a JPEG plus a preview frame).
ACCEPTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "BMP", "GIF", "TIFF"})
ACCEPTED_LIST = "JPEG, PNG, WebP, BMP, GIF or TIFF"
# Raw-body media types that mean "sniff the bytes": clients often send no precise type.
_GENERIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream", "image/*"})
# Image types Pillow cannot read or that we do not accept, answered 415 before trying to decode.
_UNSUPPORTED_IMAGE_TYPES = frozenset({"image/svg+xml", "image/heic", "image/heif", "image/avif", "image/jxl"})

# Multipart limits: one image and a few parameters is all a vision endpoint takes.
FORM_MAX_FILES = 4
FORM_MAX_FIELDS = 64
DEFAULT_MAX_BYTES = 8 * 1024 * 1024  # ServiceSettings.max_body_bytes' default, for apps without settings
MAX_REDIRECTS = 3
_AGENT = "hailo-services"


@dataclass(frozen=True)
class DecodedImage:
    rgb: np.ndarray  # HxWx3 uint8, RGB, EXIF orientation applied
    width: int
    height: int
    format: str  # Pillow's name of the encoded format: "JPEG", "PNG", "WEBP", ...


# -- decoding ----------------------------------------------------------------------------------------


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _sniff_non_image(data: bytes) -> str | None:
    """The media type of a few common non-image payloads, so they get a 415 instead of "not an image"."""
    head = data[:64]
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"heif", b"mif1", b"msf1"):
            return "image/heic"
        if brand in (b"avif", b"avis"):
            return "image/avif"
        return "video/mp4"
    if head.startswith(b"\x1aE\xdf\xa3"):
        return "video/webm"
    if head.startswith(b"RIFF") and head[8:12] in (b"AVI ", b"WAVE"):
        return "video/x-msvideo" if head[8:12] == b"AVI " else "audio/wav"
    if head.startswith((b"ID3", b"fLaC", b"OggS")):
        return "audio/*"
    if head.startswith(b"PK\x03\x04"):
        return "application/zip"
    stripped = head.lstrip()
    if stripped.startswith((b"<svg", b"<?xml")):
        return "image/svg+xml"
    return None


def _check_content_type(content_type: str | None) -> None:
    mime = _media_type(content_type)
    if mime in _GENERIC_TYPES:
        return
    if mime in _UNSUPPORTED_IMAGE_TYPES or not mime.startswith("image/"):
        raise UnsupportedMediaType(f"unsupported media type {mime!r}; send a {ACCEPTED_LIST} image")


def decode_image(data: bytes, limits: ImageInputSettings, *, content_type: str | None = None) -> DecodedImage:
    """Decode ``data`` into RGB with EXIF orientation applied.

    Raises BadRequest (empty, corrupt, truncated, not an image), UnsupportedMediaType (a type or format
    we do not accept) or PayloadTooLarge (more than ``limits.max_pixels``, checked before decoding).
    """
    if not data:
        raise BadRequest("the image is empty (0 bytes)", code="invalid_image")
    _check_content_type(content_type)
    sniffed = _sniff_non_image(data)
    if sniffed is not None:
        raise UnsupportedMediaType(
            f"the data looks like {sniffed}, which is not accepted; send a {ACCEPTED_LIST} image"
        )
    try:
        with warnings.catch_warnings():
            # We enforce our own pixel limit just below; Pillow's warning would only be noise. (catch_warnings
            # is process-global: a concurrent decode may at worst log this warning once.)
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))  # lazy: reads the header, not the pixels
    except Image.DecompressionBombError as exc:
        # Pillow refuses more than 2x its own MAX_IMAGE_PIXELS (2 x 89.5 M) at open(), before our check runs.
        raise PayloadTooLarge(
            f"image is over the limit of {limits.max_pixels} pixels ({exc})", code="image_too_large"
        ) from None
    except UnidentifiedImageError:
        raise BadRequest(
            f"the data is not a recognised image; send a {ACCEPTED_LIST} image", code="invalid_image"
        ) from None
    except Exception as exc:  # Pillow's header parsers raise many types (SyntaxError, struct.error...)
        if isinstance(exc, MemoryError):
            raise
        raise BadRequest(f"the image cannot be read: {exc}", code="invalid_image") from None
    with im:
        fmt = im.format or "unknown"
        if fmt not in ACCEPTED_FORMATS:
            raise UnsupportedMediaType(f"image format {fmt} is not supported; send a {ACCEPTED_LIST} image")
        width, height = im.size
        if width * height > limits.max_pixels:
            raise PayloadTooLarge(
                f"image is {width}x{height} = {width * height} pixels, over the limit of {limits.max_pixels} pixels",
                code="image_too_large",
            )
        if width == 0 or height == 0:
            raise BadRequest(f"the image has no pixels ({width}x{height})", code="invalid_image")
        try:
            im.load()  # GIF/TIFF: the first frame. Truncated data raises (LOAD_TRUNCATED_IMAGES stays off).
        except Exception as exc:  # corrupt data surfaces as OSError, SyntaxError, ValueError, EOFError...
            if isinstance(exc, MemoryError):
                raise
            raise BadRequest(f"the image data is corrupt or truncated: {exc}", code="invalid_image") from None
        try:
            oriented = ImageOps.exif_transpose(im)
        except Exception:
            # A malformed EXIF block: the pixels decoded fine, so keep them unrotated rather than refuse the photo.
            oriented = im
        rgb = _to_rgb(oriented)
    return DecodedImage(rgb=rgb, width=rgb.shape[1], height=rgb.shape[0], format=fmt)


def _to_rgb(im: Image.Image) -> np.ndarray:
    mode = im.mode
    if mode == "P" and "transparency" in im.info:
        im, mode = im.convert("RGBA"), "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        # Transparent pixels are composited on white, not dropped: a dropped alpha reveals whatever the
        # hidden pixels hold (often black), which hides black-on-transparent text and logos.
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba).convert("RGB")
    elif mode.startswith("I;16") or mode == "I":
        # 16-bit greyscale (PNG/TIFF): convert("RGB") would clip at 255; scale 0..65535 to 0..255 instead.
        wide = np.asarray(im).astype(np.uint32)
        grey = ((np.clip(wide, 0, 65535) + 128) // 257).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    elif mode == "F":
        grey = np.clip(np.rint(np.asarray(im, dtype=np.float32)), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    elif mode != "RGB":
        im = im.convert("RGB")  # L, 1, P, CMYK (Pillow undoes Adobe's inverted CMYK JPEGs), YCbCr, LAB...
    return np.array(im, dtype=np.uint8)  # a writable copy


# -- requests ----------------------------------------------------------------------------------------


async def read_image_request(
    request: Request,
    params_model: type[P],
    limits: ImageInputSettings,
    *,
    field: str = "image",
    max_bytes: int | None = None,
) -> tuple[DecodedImage, P]:
    """The image and the validated parameters of a request, whatever its shape (see the module doc).

    Query-string parameters are merged under form/JSON parameters. ``max_bytes`` caps a remote image's
    download and a multipart text field; by default the app's ``settings.max_body_bytes`` (the cap of an
    uploaded body).
    """
    mime = _media_type(request.headers.get("content-type"))
    query: dict[str, Any] = dict(request.query_params)
    if mime == "multipart/form-data":
        cap = max_bytes if max_bytes is not None else _app_body_limit(request)
        data, ctype, body_params = await _from_multipart(request, field, cap)
    elif mime in ("application/json",) or mime.endswith("+json"):
        cap = max_bytes if max_bytes is not None else _app_body_limit(request)
        data, ctype, body_params = await _from_json(request, field, limits, cap)
    elif mime == "" or mime in _GENERIC_TYPES or mime.startswith("image/"):
        data, ctype, body_params = await request.body(), mime or None, {}
        if not data:
            raise BadRequest(
                f"the request body is empty; send an image as the body, as multipart field {field!r}, "
                f'or as JSON {{"{field}": "<base64>"}}',
                code="invalid_image",
            )
    elif mime == "application/x-www-form-urlencoded":
        # What `curl --data-binary @photo.jpg` sends unless told otherwise.
        raise UnsupportedMediaType(
            "application/x-www-form-urlencoded is not accepted; send the image with "
            f"'Content-Type: image/jpeg' (or image/png...), as multipart field {field!r} (curl -F {field}=@photo.jpg), "
            f'or as JSON {{"{field}": "<base64>"}}'
        )
    else:
        raise UnsupportedMediaType(
            f"unsupported content type {mime!r}; send multipart/form-data (field {field!r}), "
            "an image/* body, or application/json"
        )
    params_data = {k: v for k, v in {**query, **body_params}.items() if k != field}
    try:
        params = params_model.model_validate(params_data)
    except ValidationError as exc:
        raise BadRequest(describe(exc), code="invalid_request") from None
    image = await run_in_threadpool(decode_image, data, limits, content_type=ctype)
    return image, params


def _app_body_limit(request: Request) -> int:
    settings = getattr(getattr(request.app, "state", None), "settings", None) if "app" in request.scope else None
    return int(getattr(settings, "max_body_bytes", DEFAULT_MAX_BYTES))


async def _from_multipart(
    request: Request, field: str, max_bytes: int, *, noun: str = "image"
) -> tuple[bytes, str | None, dict[str, Any]]:
    """The file (or base64 text field) ``field`` of a multipart form and its other text fields; ``noun``
    names the media in messages (core/audio.py reads audio uploads with it too)."""
    try:
        # max_part_size bounds text fields held in memory; the body limit already bounds them all, and
        # an image may come as a base64 text field, so a smaller cap would only refuse those.
        form = await request.form(max_files=FORM_MAX_FILES, max_fields=FORM_MAX_FIELDS, max_part_size=max_bytes)
    except HTTPException as exc:  # inside an app, starlette turns python-multipart's errors into HTTPException(400)
        raise BadRequest(f"invalid multipart form: {exc.detail}", code="invalid_request") from None
    except MultiPartException as exc:
        raise BadRequest(f"invalid multipart form: {exc.message}", code="invalid_request") from None
    # PayloadTooLarge from BodyLimitMiddleware's receive() is not caught: it stays a 413.
    try:
        item = form.get(field)
        params = {k: v for k, v in form.multi_items() if k != field and isinstance(v, str)}
        if item is None:
            files = [k for k, v in form.multi_items() if isinstance(v, UploadFile)]
            if files:
                named = ", ".join(repr(k) for k in files)
                raise BadRequest(f"expected the {noun} in multipart field {field!r}, got file field(s) {named}")
            raise BadRequest(f"the multipart form has no {field!r} field; send the {noun} file as {field!r}")
        if isinstance(item, str):
            # A text field: the same strings JSON takes (base64, data URI); no remote fetch from forms.
            if not item:
                raise BadRequest(f"the {field!r} field is empty")
            data, ctype = _decode_inline(item, field, noun=noun)
            return data, ctype, params
        data = await item.read()
        if not data:
            raise BadRequest(f"the {field!r} file is empty (0 bytes)", code=f"invalid_{noun}")
        return data, item.content_type, params
    finally:
        await form.close()


async def _from_json(
    request: Request, field: str, limits: ImageInputSettings, max_bytes: int
) -> tuple[bytes, str | None, dict[str, Any]]:
    raw = await request.body()
    if not raw.strip():
        raise BadRequest(f'the request body is empty; expected a JSON object like {{"{field}": "<base64>"}}')
    body = load_json(raw)
    if not isinstance(body, dict):
        raise BadRequest(f'the request body must be a JSON object like {{"{field}": "<base64>"}}')
    value = body.pop(field, None)
    if value is None:
        raise BadRequest(f"missing {field!r}: a base64 string, a data: URI or an http(s) URL")
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{field!r} must be a non-empty string: base64, a data: URI or an http(s) URL")
    value = value.strip()
    lowered = value[:8].lower()
    if lowered.startswith(("http://", "https://")):
        data, ctype = await fetch_remote_image(value, limits, max_bytes=max_bytes)
    else:
        data, ctype = _decode_inline(value, field)
    return data, ctype, body


async def decode_image_string(
    value: str, limits: ImageInputSettings, *, field: str = "image", max_bytes: int = DEFAULT_MAX_BYTES
) -> DecodedImage:
    """One image given as a string, by the JSON shape's rules: base64, a ``data:`` URI, or an http(s) URL
    (fetched only when ``limits.allow_remote``, with the SSRF checks). For APIs that carry images inside
    their own JSON (hailo-clip's ``input`` list); ``field`` names the value in error messages."""
    value = value.strip()
    if not value:
        raise BadRequest(f"{field!r} is empty; expected base64, a data: URI or an http(s) URL")
    if value[:8].lower().startswith(("http://", "https://")):
        data, ctype = await fetch_remote_image(value, limits, max_bytes=max_bytes)
    else:
        data, ctype = _decode_inline(value, field)
    return await run_in_threadpool(decode_image, data, limits, content_type=ctype)


def _decode_inline(value: str, field: str, *, noun: str = "image") -> tuple[bytes, str | None]:
    """A base64 string or a ``data:`` URI -> (bytes, declared media type or None)."""
    ctype = None
    if value[:5].lower() == "data:":
        header, sep, payload = value[5:].partition(",")
        if not sep:
            raise BadRequest(f"{field!r} is a malformed data: URI (no ',')")
        parts = [p.strip() for p in header.split(";")]
        ctype = parts[0] or None
        if "base64" not in (p.lower() for p in parts[1:]):
            return unquote_to_bytes(payload), ctype  # a percent-encoded data URI (rare for images)
        value = payload
    elif "://" in value[:32]:  # base64 has no ':', so this is a URL of another scheme (ftp, file, s3...)
        raise BadRequest(f"{field!r}: only http(s) URLs are fetched")
    data = _b64decode(value, field)
    if not data:
        raise BadRequest(f"{field!r} decodes to 0 bytes", code=f"invalid_{noun}")
    return data, ctype


def _b64decode(text: str, field: str) -> bytes:
    compact = "".join(text.split())  # line-wrapped base64 (MIME, `base64` CLI) is common
    compact += "=" * (-len(compact) % 4)  # some clients strip the padding
    urlsafe = "-" in compact or "_" in compact
    try:
        if urlsafe:
            return base64.b64decode(compact, altchars=b"-_", validate=True)
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"{field!r} is not valid base64 (nor a data: URI or an http(s) URL)") from None


# -- remote images (SSRF-guarded) --------------------------------------------------------------------


def _forbidden_reason(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why a connection to ``addr`` is refused, or None when it is a public unicast address."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped  # ::ffff:127.0.0.1 is loopback
    for attr in ("unspecified", "loopback", "link_local", "multicast", "private", "reserved"):
        if getattr(addr, f"is_{attr}"):
            return attr.replace("_", "-")
    if not addr.is_global:  # shared (CGNAT), documentation and other special-purpose ranges
        return "non-global"
    return None


async def _resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def _allowed_address(url: httpx.URL, limits: ImageInputSettings) -> str:
    """The address to connect to for ``url`` after the SSRF checks (every resolved address must pass)."""
    if url.scheme not in ("http", "https"):
        raise BadRequest(f"only http(s) image URLs are fetched, not {url.scheme!r}")
    host = url.host
    if not host:
        raise BadRequest("the image URL has no host")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        addresses = await _resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise BadRequest(f"cannot resolve the image URL's host {host!r}: {exc}") from None
    if not addresses:
        raise BadRequest(f"the image URL's host {host!r} has no address")
    if not limits.allow_private_networks:
        for text in addresses:
            reason = _forbidden_reason(ipaddress.ip_address(text.split("%", 1)[0]))
            if reason is not None:
                raise Forbidden(
                    f"image URL host {host!r} resolves to {text}, a {reason} address; fetching from "
                    "loopback, link-local, private, multicast and reserved networks is disabled "
                    "(image_input.allow_private_networks)"
                )
    return addresses[0]


async def fetch_remote_image(url: str, limits: ImageInputSettings, *, max_bytes: int) -> tuple[bytes, str | None]:
    """GET an image URL -> (bytes, Content-Type), within ``limits.remote_timeout_s`` and ``max_bytes``.

    Each hop (redirects are followed by hand, up to MAX_REDIRECTS) is resolved once, checked, and then
    connected to by that very address, so a DNS answer that changes between check and connect (DNS
    rebinding) cannot reach a forbidden host. The Host header and TLS SNI/certificate check keep the name.
    """
    if not limits.allow_remote:
        raise Forbidden("remote image URLs are disabled on this service (image_input.allow_remote); send the image")
    try:
        target = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise BadRequest(f"invalid image URL: {exc}") from None
    try:
        async with asyncio.timeout(limits.remote_timeout_s):
            # trust_env=False: a proxy from the environment would connect on our behalf and bypass the checks.
            async with httpx.AsyncClient(
                timeout=limits.remote_timeout_s, follow_redirects=False, trust_env=False
            ) as client:
                for _ in range(MAX_REDIRECTS + 1):
                    address = await _allowed_address(target, limits)
                    request = client.build_request(
                        "GET",
                        target.copy_with(host=address),
                        headers={"Host": target.netloc.decode("ascii"), "Accept": "image/*", "User-Agent": _AGENT},
                        extensions={"sni_hostname": target.host},
                    )
                    response = await client.send(request, stream=True)
                    try:
                        if response.is_redirect:
                            location = response.headers.get("location", "")
                            target = target.join(location)
                            continue
                        if response.status_code != 200:
                            raise BadRequest(f"the image URL answered HTTP {response.status_code}")
                        declared = response.headers.get("content-length")
                        if declared and declared.isdigit() and int(declared) > max_bytes:
                            raise PayloadTooLarge(f"the remote image is {declared} bytes, over the limit {max_bytes}")
                        chunks, size = [], 0
                        async for chunk in response.aiter_bytes():
                            size += len(chunk)
                            if size > max_bytes:
                                raise PayloadTooLarge(f"the remote image is larger than the limit of {max_bytes} bytes")
                            chunks.append(chunk)
                        return b"".join(chunks), response.headers.get("content-type")
                    finally:
                        await response.aclose()
                raise BadRequest(f"the image URL redirected more than {MAX_REDIRECTS} times")
    except TimeoutError:
        raise BadRequest(f"the image URL did not answer within {limits.remote_timeout_s:g} s") from None
    except ServiceError:
        raise
    except httpx.HTTPError as exc:
        raise BadRequest(f"cannot fetch the image URL: {exc}") from None


# -- OpenAPI ------------------------------------------------------------------------------------------


def image_request_openapi(params_model: type[BaseModel], *, description: str = "", field: str = "image") -> dict:
    """``openapi_extra`` for a route that calls :func:`read_image_request`: its three request shapes.

    Nested models are inlined (``$defs`` resolved in place), so the snippet is self-contained; FastAPI
    cannot add components from ``openapi_extra``.
    """
    schema = inline_refs(params_model.model_json_schema())
    props: dict[str, Any] = dict(schema.get("properties", {}))
    required = [r for r in schema.get("required", []) if r != field]
    title = schema.get("title", params_model.__name__)
    multipart = {
        "type": "object",
        "title": f"{title} (multipart)",
        "properties": {field: {"type": "string", "format": "binary", "description": "the image file"}, **props},
        "required": [field, *required],
    }
    as_json = {
        "type": "object",
        "title": f"{title} (JSON)",
        "properties": {
            field: {
                "type": "string",
                "description": "the image as base64, a data: URI (data:image/png;base64,...) or an http(s) URL "
                "(when the service allows remote images)",
            },
            **props,
        },
        "required": [field, *required],
    }
    binary = {"type": "string", "format": "binary"}
    desc = description or (
        f"An image ({ACCEPTED_LIST}) as multipart field {field!r}, as the raw body (parameters in the query "
        "string), or as JSON. Query-string parameters also apply to the other shapes."
    )
    return {
        "requestBody": {
            "required": True,
            "description": desc,
            "content": {
                "multipart/form-data": {"schema": multipart},
                "application/json": {"schema": as_json},
                "image/*": {"schema": binary},
                "application/octet-stream": {"schema": binary},
            },
        }
    }
