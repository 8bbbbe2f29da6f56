"""core/images.py: decoding real photos and hostile inputs, the three request shapes, the SSRF rules,
the body limit, and the OpenAPI description of an image route."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import re
import struct
import threading
import time
import warnings
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import schemathesis
from fastapi import FastAPI
from jsonschema import Draft202012Validator
from PIL import Image, ImageFile
from pydantic import BaseModel, Field
from skimage import data
from starlette.requests import Request
from starlette.testclient import TestClient

from hailo_services.core import images
from hailo_services.core.errors import BadRequest, PayloadTooLarge, ServiceError, UnsupportedMediaType, plain_error
from hailo_services.core.images import DecodedImage, decode_image, image_request_openapi, read_image_request
from hailo_services.core.middleware import BodyLimitMiddleware, error_response
from hailo_services.core.settings import ImageInputSettings

LIMITS = ImageInputSettings()
CHELSEA = data.chelsea()  # 300 x 451 RGB
ASTRONAUT = data.astronaut()  # 512 x 512 RGB
COFFEE = data.coffee()  # 400 x 600 RGB


def encode(image: np.ndarray | Image.Image, fmt: str, **kwargs) -> bytes:
    im = image if isinstance(image, Image.Image) else Image.fromarray(image)
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def png_bomb(width: int, height: int) -> bytes:
    """A real 1-bit PNG of width x height black pixels, zlib-compressed row by row (~1000:1)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    comp = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


# -- decode_image: formats ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "kwargs", "name", "max_diff"),
    [
        ("PNG", {}, "PNG", 0.0),
        ("BMP", {}, "BMP", 0.0),
        ("TIFF", {}, "TIFF", 0.0),
        ("WEBP", {"lossless": True}, "WEBP", 0.0),
        ("WEBP", {"quality": 90}, "WEBP", 4.0),
        ("JPEG", {"quality": 92}, "JPEG", 4.0),
        ("GIF", {}, "GIF", 12.0),  # 256-colour palette
    ],
)
def test_real_photos_decode_in_every_accepted_format(fmt, kwargs, name, max_diff):
    img = decode_image(encode(CHELSEA, fmt, **kwargs), LIMITS)
    assert isinstance(img, DecodedImage)
    assert (img.width, img.height, img.format) == (451, 300, name)
    assert img.rgb.shape == (300, 451, 3) and img.rgb.dtype == np.uint8 and img.rgb.flags.writeable
    assert mean_abs_diff(img.rgb, CHELSEA) <= max_diff


@pytest.mark.parametrize(
    ("orientation", "expected"),
    [
        (1, lambda a: a),
        (3, lambda a: np.rot90(a, 2)),
        (6, lambda a: np.rot90(a, -1)),  # the camera was turned: display rotated 90 degrees clockwise
        (8, lambda a: np.rot90(a, 1)),
    ],
)
def test_exif_orientation_is_applied(orientation, expected):
    exif = Image.Exif()
    exif[0x0112] = orientation
    img = decode_image(encode(COFFEE, "JPEG", quality=95, exif=exif), LIMITS)
    want = expected(COFFEE)
    assert img.rgb.shape == want.shape
    assert (img.width, img.height) == (want.shape[1], want.shape[0])
    assert mean_abs_diff(img.rgb, want) < 3
    if orientation != 1:
        assert img.rgb.shape != COFFEE.shape or mean_abs_diff(img.rgb, COFFEE) > 30


def test_rgba_alpha_is_composited_on_white():
    rgba = np.zeros((4, 3, 4), np.uint8)
    rgba[..., 0] = 255  # red everywhere
    rgba[0, :, 3] = 0  # row 0 transparent
    rgba[1, :, 3] = 255  # row 1 opaque
    rgba[2, :, 3] = 128  # row 2 half
    rgba[3] = (0, 0, 0, 0)  # transparent black: black text on a transparent page would vanish if alpha were dropped
    img = decode_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"), LIMITS)
    assert img.rgb[0].tolist() == [[255, 255, 255]] * 3
    assert img.rgb[1].tolist() == [[255, 0, 0]] * 3
    np.testing.assert_allclose(img.rgb[2], [[255, 127, 127]] * 3, atol=1)
    assert img.rgb[3].tolist() == [[255, 255, 255]] * 3


def test_la_and_l_and_1bit_become_grey_rgb():
    grey = np.array([[0, 100, 255]], np.uint8)
    la = np.stack([grey, np.array([[255, 255, 0]], np.uint8)], axis=-1)
    assert decode_image(encode(Image.fromarray(la, "LA"), "PNG"), LIMITS).rgb.tolist() == [
        [[0, 0, 0], [100, 100, 100], [255, 255, 255]]
    ]
    assert decode_image(encode(Image.fromarray(grey, "L"), "PNG"), LIMITS).rgb[0, 1].tolist() == [100, 100, 100]
    one = Image.fromarray(grey > 50).convert("1")
    assert decode_image(encode(one, "PNG"), LIMITS).rgb[0].tolist() == [[0, 0, 0], [255, 255, 255], [255, 255, 255]]


def test_palette_with_transparency():
    p = Image.new("P", (2, 1))
    p.putpalette([0, 0, 255, 0, 255, 0] + [0] * 762)
    p.putpixel((0, 0), 0)
    p.putpixel((1, 0), 1)
    img = decode_image(encode(p, "PNG", transparency=0), LIMITS)
    assert img.rgb.tolist() == [[[255, 255, 255], [0, 255, 0]]]
    # without transparency the palette colours come through
    assert decode_image(encode(p, "PNG"), LIMITS).rgb.tolist() == [[[0, 0, 255], [0, 255, 0]]]


@pytest.mark.parametrize("fmt", ["JPEG", "TIFF"])
def test_cmyk(fmt):
    cmyk = Image.fromarray(ASTRONAUT).convert("CMYK")
    img = decode_image(encode(cmyk, fmt, **({"quality": 95} if fmt == "JPEG" else {})), LIMITS)
    assert img.rgb.shape == (512, 512, 3)
    assert mean_abs_diff(img.rgb, ASTRONAUT) < (4 if fmt == "JPEG" else 0.01)


def test_16_bit_greyscale_is_scaled_not_clipped():
    sixteen = np.array([[0, 257 * 100, 65535, 300]], np.uint16)
    img = decode_image(encode(Image.fromarray(sixteen), "PNG"), LIMITS)
    assert img.rgb[0, :, 0].tolist() == [0, 100, 255, 1]
    assert (img.rgb[..., 0] == img.rgb[..., 2]).all()


def test_animated_gif_and_multipage_tiff_give_the_first_frame():
    red, blue = np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint8)
    red[..., 0], blue[..., 2] = 255, 255
    frames = [Image.fromarray(red), Image.fromarray(blue)]
    gif = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    tiff = encode(frames[0], "TIFF", save_all=True, append_images=frames[1:])
    for blob in (gif, tiff):
        assert Image.open(io.BytesIO(blob)).n_frames == 2
        assert decode_image(blob, LIMITS).rgb[4, 4].tolist() == [255, 0, 0]


# -- decode_image: hostile and wrong inputs --------------------------------------------------------


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"", "empty"),
        (np.random.default_rng(1).bytes(5000), "not a recognised image"),
        (b"hello, world", "not a recognised image"),
    ],
)
def test_not_an_image_is_400(blob, message):
    with pytest.raises(BadRequest, match=message) as err:
        decode_image(blob, LIMITS)
    assert err.value.status == 400


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
@pytest.mark.parametrize("keep", [0.3, 0.7, 0.95])
def test_truncated_files_are_400_not_a_grey_image(fmt, keep):
    blob = encode(ASTRONAUT, fmt)
    with pytest.raises(BadRequest) as err:
        decode_image(blob[: int(len(blob) * keep)], LIMITS)
    assert err.value.status == 400
    assert not ImageFile.LOAD_TRUNCATED_IMAGES


def test_corrupt_png_crc_is_400():
    blob = bytearray(encode(CHELSEA, "PNG"))
    blob[40] ^= 0xFF  # inside the first IDAT chunk: its CRC no longer matches
    with pytest.raises(BadRequest):
        decode_image(bytes(blob), LIMITS)


@pytest.mark.parametrize(
    ("blob", "content_type", "mentions"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", None, "application/pdf"),
        (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2mp41", None, "video/mp4"),
        (b"\x00\x00\x00\x1cftypheic\x00\x00\x00\x00mif1heic", None, "image/heic"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', None, "image/svg+xml"),
        (encode(CHELSEA, "PPM"), None, "format PPM"),  # a format Pillow reads but we do not accept
        (encode(CHELSEA, "PNG"), "application/pdf", "application/pdf"),  # what the client declared
        (encode(CHELSEA, "PNG"), "video/mp4", "video/mp4"),
        (encode(CHELSEA, "PNG"), "text/plain; charset=utf-8", "text/plain"),
        (encode(CHELSEA, "PNG"), "image/svg+xml", "image/svg+xml"),
    ],
)
def test_recognised_but_unsupported_media_is_415(blob, content_type, mentions):
    with pytest.raises(UnsupportedMediaType, match=re.escape(mentions)) as err:
        decode_image(blob, LIMITS, content_type=content_type)
    assert err.value.status == 415


def test_a_mislabelled_image_type_is_sniffed():
    img = decode_image(encode(CHELSEA, "PNG"), LIMITS, content_type="image/jpeg")
    assert img.format == "PNG"


def test_too_many_pixels_is_413_before_decoding(monkeypatch: pytest.MonkeyPatch):
    loads: list[object] = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: loads.append(self) or real_load(self))
    small = ImageInputSettings(max_pixels=10_000)
    with pytest.raises(PayloadTooLarge, match=r"512x512 = 262144 pixels, over the limit of 10000 pixels") as err:
        decode_image(encode(ASTRONAUT, "JPEG"), small)
    assert err.value.status == 413 and loads == []
    decode_image(encode(ASTRONAUT[:100, :100], "JPEG"), small)  # exactly at the limit is fine
    assert loads  # (the spy sees decoding when it does happen)


@pytest.mark.parametrize(
    ("size", "max_pixels", "mentions"),
    [
        # over our limit, under Pillow's warning threshold (89.5 M)
        (7000, 40_000_000, "7000x7000 = 49000000 pixels, over the limit of 40000000"),
        # over Pillow's warning threshold: the warning must not escape
        (10000, 40_000_000, "10000x10000 = 100000000 pixels, over the limit of 40000000"),
        # over Pillow's own hard limit (2 x 89.5 M), raised at open(): still a 413 naming both sizes
        (20000, 40_000_000, "limit of 40000000 pixels.*400000000 pixels"),
        (20000, 10**9, "limit of 1000000000 pixels.*400000000 pixels"),
    ],
)
def test_png_bombs_are_413_without_being_decoded(monkeypatch, size, max_pixels, mentions):
    bomb = png_bomb(size, size)
    assert len(bomb) < 500_000  # a few hundred KB claiming up to 400 M pixels
    loads: list[object] = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: loads.append(self))
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a DecompressionBombWarning escaping would fail here
        with pytest.raises(PayloadTooLarge, match=mentions) as err:
            decode_image(bomb, ImageInputSettings(max_pixels=max_pixels))
    assert err.value.status == 413
    assert loads == [] and time.perf_counter() - started < 1.0


def test_the_bomb_is_a_real_png():
    # The bomb is not a fake header: at a small size the same construction decodes to black pixels.
    img = decode_image(png_bomb(64, 48), LIMITS)
    assert (img.width, img.height) == (64, 48) and (img.rgb == 0).all()


# -- read_image_request through a FastAPI app -----------------------------------------------------


class Region(BaseModel):
    x: int = Field(ge=0)
    y: int = Field(ge=0)
    width: int = Field(gt=0)
    height: int = Field(gt=0)


class Params(BaseModel):
    min_confidence: float = Field(0.4, ge=0, le=1, description="drop detections under this score")
    annotate: bool = False
    label: str | None = None
    region: Region | None = None


def make_app(limits: ImageInputSettings = LIMITS, *, max_body: int = 2_000_000, remote_max: int | None = None):
    app = FastAPI()

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError):
        return error_response(request, exc, plain_error)

    @app.post("/v1/vision/detection", openapi_extra=image_request_openapi(Params, description="Detect objects."))
    async def detection(request: Request) -> dict:
        image, params = await read_image_request(request, Params, limits, max_bytes=remote_max)
        return {
            "width": image.width,
            "height": image.height,
            "format": image.format,
            "mean": round(float(image.rgb.mean()), 2),
            "params": params.model_dump(),
        }

    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body, render=plain_error)
    return app


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(make_app()) as c:
        yield c


JPEG = encode(CHELSEA, "JPEG", quality=90)
PNG = encode(CHELSEA, "PNG")
CHELSEA_MEAN = round(float(decode_image(PNG, LIMITS).rgb.mean()), 2)


def test_multipart_deepstack_style(client: TestClient):
    r = client.post(
        "/v1/vision/detection?annotate=true&min_confidence=0.1",
        files={"image": ("cat.jpg", JPEG, "image/jpeg")},
        data={"min_confidence": "0.6", "label": "cat"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["width"], body["height"], body["format"]) == (451, 300, "JPEG")
    # form fields win over the query string; the query string still supplies what the form lacks
    assert body["params"] == {"min_confidence": 0.6, "annotate": True, "label": "cat", "region": None}


def test_multipart_without_a_part_content_type(client: TestClient):
    r = client.post("/v1/vision/detection", files={"image": ("blob", PNG, "application/octet-stream")})
    assert r.status_code == 200 and r.json()["mean"] == CHELSEA_MEAN


@pytest.mark.parametrize(
    ("files", "form", "status", "mentions"),
    [
        ({"file": ("cat.jpg", JPEG, "image/jpeg")}, {}, 400, "expected the image in multipart field 'image'"),
        ({"image": ("cat.jpg", b"", "image/jpeg")}, {}, 400, "'image' file is empty"),
        ({"image": ("cat.jpg", JPEG, "image/jpeg")}, {"min_confidence": "2"}, 400, "min_confidence"),
        ({"image": ("cat.jpg", JPEG[:3000], "image/jpeg")}, {}, 400, "corrupt or truncated"),
        ({"image": ("doc.pdf", b"%PDF-1.4 ...", "application/pdf")}, {}, 415, "application/pdf"),
    ],
)
def test_multipart_errors(client: TestClient, files, form, status, mentions):
    r = client.post("/v1/vision/detection", files=files, data=form)
    assert r.status_code == status, r.text
    assert mentions in r.json()["error"]


def test_multipart_with_fields_only(client: TestClient):
    body = b'--b1\r\nContent-Disposition: form-data; name="min_confidence"\r\n\r\n0.5\r\n--b1--\r\n'
    r = client.post("/v1/vision/detection", content=body, headers={"content-type": "multipart/form-data; boundary=b1"})
    assert r.status_code == 400 and "no 'image' field" in r.json()["error"]


def test_multipart_image_as_a_base64_text_field(client: TestClient):
    r = client.post("/v1/vision/detection", data={"image": b64(PNG), "label": "x"}, files={"f": ("a", b"", "x/y")})
    assert r.status_code == 200 and r.json()["mean"] == CHELSEA_MEAN and r.json()["params"]["label"] == "x"


def test_multipart_with_too_many_files(client: TestClient):
    files = [("image", ("a.png", PNG, "image/png"))] + [(f"f{i}", ("x.png", PNG, "image/png")) for i in range(5)]
    r = client.post("/v1/vision/detection", files=files)
    assert r.status_code == 400 and "multipart" in r.json()["error"]


@pytest.mark.parametrize("content_type", ["image/png", "image/jpeg", "application/octet-stream", None])
def test_raw_body_with_query_params(client: TestClient, content_type: str | None):
    headers = {"content-type": content_type} if content_type else {}
    r = client.post("/v1/vision/detection?label=cat&annotate=1", content=PNG, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["format"] == "PNG" and r.json()["mean"] == CHELSEA_MEAN
    assert r.json()["params"]["label"] == "cat" and r.json()["params"]["annotate"] is True


@pytest.mark.parametrize(
    ("content_type", "body", "status", "mentions"),
    [
        ("image/png", b"", 400, "request body is empty"),
        ("text/plain", b"hello", 415, "text/plain"),
        ("application/pdf", b"%PDF-1.4", 415, "application/pdf"),
        ("video/mp4", b"\x00\x00\x00\x20ftypisom", 415, "video/mp4"),
        ("application/x-www-form-urlencoded", PNG, 415, "Content-Type: image/jpeg"),
        ("image/png", b"\x89PNG\r\n\x1a\n garbage", 400, "image"),
    ],
)
def test_raw_body_errors(client: TestClient, content_type, body, status, mentions):
    r = client.post("/v1/vision/detection", content=body, headers={"content-type": content_type})
    assert r.status_code == status, r.text
    assert mentions in r.json()["error"]


def b64(blob: bytes) -> str:
    return base64.b64encode(blob).decode()


@pytest.mark.parametrize(
    "image",
    [
        b64(JPEG),
        "data:image/jpeg;base64," + b64(JPEG),
        "DATA:image/jpeg;charset=binary;base64," + b64(JPEG),
        base64.encodebytes(JPEG).decode(),  # wrapped at 76 characters
        base64.urlsafe_b64encode(JPEG).decode().rstrip("="),  # URL-safe, padding stripped
    ],
)
def test_json_inline_images(client: TestClient, image: str):
    r = client.post("/v1/vision/detection?label=q&min_confidence=0.2", json={"image": image, "min_confidence": 0.7})
    assert r.status_code == 200, r.text
    assert r.json()["width"] == 451 and r.json()["format"] == "JPEG"
    assert r.json()["params"]["min_confidence"] == 0.7 and r.json()["params"]["label"] == "q"


def test_json_nested_params(client: TestClient):
    region = {"x": 1, "y": 2, "width": 30, "height": 40}
    r = client.post("/v1/vision/detection", json={"image": b64(PNG), "region": region})
    assert r.status_code == 200 and r.json()["params"]["region"] == region
    r = client.post("/v1/vision/detection", json={"image": b64(PNG), "region": {**region, "width": 0}})
    assert r.status_code == 400 and "region.width" in r.json()["error"]


@pytest.mark.parametrize(
    ("body", "status", "mentions"),
    [
        ({"image": "not base64 at all!!"}, 400, "not valid base64"),
        ({"image": "data:image/png;base64,@@@@"}, 400, "not valid base64"),
        ({"image": "data:application/pdf;base64," + b64(b"%PDF-1.4")}, 415, "application/pdf"),
        ({"image": "data:image/png"}, 400, "malformed data: URI"),
        ({"min_confidence": 0.5}, 400, "missing 'image'"),
        ({"image": 12}, 400, "must be a non-empty string"),
        ({"image": ""}, 400, "must be a non-empty string"),
        ({"image": "ftp://example.com/cat.jpg"}, 400, "only http(s)"),
        ({"image": b64(b"")}, 400, "must be a non-empty string"),
        ({"image": b64(b"\x00\x01")}, 400, "not a recognised image"),
        ({"image": b64(PNG), "min_confidence": "high"}, 400, "min_confidence"),
    ],
)
def test_json_errors(client: TestClient, body, status, mentions):
    r = client.post("/v1/vision/detection", json=body)
    assert r.status_code == status, r.text
    assert mentions in r.json()["error"]


@pytest.mark.parametrize(
    ("raw", "mentions"),
    [(b"[1, 2]", "must be a JSON object"), (b"{nope", "not valid JSON"), (b"  ", "request body is empty")],
)
def test_json_body_that_is_not_an_object(client: TestClient, raw: bytes, mentions: str):
    r = client.post("/v1/vision/detection", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 400 and mentions in r.json()["error"]


# -- the body limit (BodyLimitMiddleware) ---------------------------------------------------------


def chunks(blob: bytes, size: int = 65536) -> Iterator[bytes]:
    for i in range(0, len(blob), size):
        yield blob[i : i + size]


def multipart_body(blob: bytes, boundary: str = "xyzzy") -> bytes:
    return (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="big.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + blob
        + f"\r\n--{boundary}--\r\n".encode()
    )


@pytest.mark.parametrize("shape", ["raw", "multipart", "json"])
@pytest.mark.parametrize("declared", [True, False])
def test_oversized_bodies_are_413(shape: str, declared: bool):
    big = encode(np.random.default_rng(3).integers(0, 255, (700, 700, 3), dtype=np.uint8), "PNG")
    assert len(big) > 1_000_000
    if shape == "raw":
        body, ctype = big, "image/png"
    elif shape == "multipart":
        body, ctype = multipart_body(big), "multipart/form-data; boundary=xyzzy"
    else:
        body, ctype = json.dumps({"image": b64(big)}).encode(), "application/json"
    with TestClient(make_app(max_body=1_000_000)) as c:
        # declared: Content-Length answers at once; chunked: the limit trips while the body streams in
        content = body if declared else chunks(body)
        r = c.post("/v1/vision/detection", content=content, headers={"content-type": ctype})
    assert r.status_code == 413, r.text
    assert "1000000 bytes" in r.json()["error"]


# -- remote URLs and the SSRF rules ---------------------------------------------------------------


class ImageServer:
    """A local HTTP server with an image, redirects, big and slow answers; it records what it was asked."""

    def __init__(self, host: str = "127.0.0.1"):
        self.requests: list[tuple[str, str | None]] = []
        self.redirect_to: str | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append((self.path, self.headers.get("Host")))
                # the client giving up (size limit, timeout) is what those tests want
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.route()

            def route(self) -> None:
                if self.path == "/cat.png":
                    self.answer(200, PNG, "image/png")
                elif self.path == "/redirect":
                    self.answer(302, b"", None, location="/cat.png")
                elif self.path == "/redirect-away":
                    self.answer(302, b"", None, location=server.redirect_to)
                elif self.path == "/loop":
                    self.answer(302, b"", None, location="/loop")
                elif self.path == "/big":
                    self.answer(200, b"\xff" * 200_000, "image/png")
                elif self.path == "/big-stream":  # no Content-Length: the size shows only while reading
                    self.send_response(200)
                    self.send_header("Content-Type", "image/png")
                    self.end_headers()
                    for _ in range(50):
                        self.wfile.write(b"\xff" * 8192)
                elif self.path == "/page":
                    self.answer(200, b"<html>hi</html>", "text/html")
                elif self.path == "/slow":
                    time.sleep(2)
                    self.answer(200, PNG, "image/png")
                else:
                    self.answer(404, b"no", "text/plain")

            def answer(self, status: int, body: bytes, ctype: str | None, location: str | None = None) -> None:
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[ImageServer]:
    s = ImageServer()
    yield s
    s.close()


REMOTE = ImageInputSettings(allow_remote=True, remote_timeout_s=1.0)
REMOTE_PRIVATE = ImageInputSettings(allow_remote=True, allow_private_networks=True, remote_timeout_s=1.0)


def post_url(limits: ImageInputSettings, url: str, **app_kwargs):
    with TestClient(make_app(limits, **app_kwargs)) as c:
        return c.post("/v1/vision/detection", json={"image": url})


def test_remote_urls_are_off_by_default(server: ImageServer):
    r = post_url(LIMITS, server.url("/cat.png"))
    assert r.status_code == 403 and "remote image URLs are disabled" in r.json()["error"]
    assert server.requests == []


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("localhost", "loopback"),
        ("[::1]", "loopback"),
        ("[::ffff:127.0.0.1]", "loopback"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("10.1.2.3", "private"),
        ("192.168.1.1", "private"),
        ("224.0.0.1", "multicast"),
        ("100.64.0.1", "non-global"),  # carrier-grade NAT
        ("0.0.0.0", "unspecified"),
    ],
)
def test_private_addresses_are_refused_before_connecting(server: ImageServer, host: str, kind: str):
    r = post_url(REMOTE, f"http://{host}:{server.port}/cat.png")
    assert r.status_code == 403, r.text
    assert f"a {kind}" in r.json()["error"] and "allow_private_networks" in r.json()["error"]
    assert server.requests == []


def test_private_addresses_allowed_when_configured(server: ImageServer):
    r = post_url(REMOTE_PRIVATE, server.url("/cat.png", host="localhost"))
    assert r.status_code == 200, r.text
    assert r.json()["format"] == "PNG" and r.json()["mean"] == CHELSEA_MEAN
    # connected to the checked address, with the URL's host name kept in the Host header
    assert server.requests == [("/cat.png", f"localhost:{server.port}")]


def test_redirects_are_followed_and_rechecked(server: ImageServer, monkeypatch: pytest.MonkeyPatch):
    r = post_url(REMOTE_PRIVATE, server.url("/redirect"))
    assert r.status_code == 200 and [p for p, _ in server.requests] == ["/redirect", "/cat.png"]

    r = post_url(REMOTE_PRIVATE, server.url("/loop"))
    assert r.status_code == 400 and "redirected more than 3 times" in r.json()["error"]

    # 127.0.0.1 stands in for a public host; its redirect to another (forbidden) address is refused.
    other = ImageServer("127.0.0.2")
    try:
        real = images._forbidden_reason
        monkeypatch.setattr(images, "_forbidden_reason", lambda a: None if str(a) == "127.0.0.1" else real(a))
        server.redirect_to = other.url("/cat.png", host="127.0.0.2")
        r = post_url(REMOTE, server.url("/redirect-away"))
        assert r.status_code == 403 and "127.0.0.2, a loopback address" in r.json()["error"]
        assert other.requests == []
    finally:
        other.close()


@pytest.mark.parametrize("path", ["/big", "/big-stream"])
def test_remote_images_over_the_byte_limit_are_413(server: ImageServer, path: str):
    r = post_url(REMOTE_PRIVATE, server.url(path), remote_max=100_000)
    assert r.status_code == 413 and "100000" in r.json()["error"]


@pytest.mark.parametrize(
    ("path", "status", "mentions"),
    [
        ("/missing", 400, "HTTP 404"),
        ("/page", 415, "text/html"),
        ("/slow", 400, "did not answer within 1 s"),
    ],
)
def test_remote_failures(server: ImageServer, path: str, status: int, mentions: str):
    r = post_url(REMOTE_PRIVATE, server.url(path))
    assert r.status_code == status, r.text
    assert mentions in r.json()["error"]


def test_unresolvable_host_is_400():
    r = post_url(REMOTE, "http://no-such-host.invalid/cat.png")
    assert r.status_code == 400 and "no-such-host.invalid" in r.json()["error"]


# -- OpenAPI ---------------------------------------------------------------------------------------


def resolve_refs(node: object, root: dict) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            assert ref.startswith("#/"), ref
            target: object = root
            for part in ref[2:].split("/"):
                assert isinstance(target, dict) and part in target, f"dangling $ref {ref}"
                target = target[part]
        for value in node.values():
            resolve_refs(value, root)
    elif isinstance(node, list):
        for value in node:
            resolve_refs(value, root)


def test_openapi_documents_the_three_request_shapes():
    spec = TestClient(make_app()).get("/openapi.json").json()
    schemathesis.openapi.from_dict(spec).validate()  # the OpenAPI 3.1 meta-schema
    resolve_refs(spec, spec)
    body = spec["paths"]["/v1/vision/detection"]["post"]["requestBody"]
    assert body["required"] is True and body["description"] == "Detect objects."
    content = body["content"]
    assert set(content) == {"multipart/form-data", "application/json", "image/*", "application/octet-stream"}
    form = content["multipart/form-data"]["schema"]
    assert form["properties"]["image"] == {"type": "string", "format": "binary", "description": "the image file"}
    assert form["required"] == ["image"]
    assert form["properties"]["min_confidence"]["maximum"] == 1
    as_json = content["application/json"]["schema"]
    assert (
        as_json["properties"]["image"]["type"] == "string" and "base64" in as_json["properties"]["image"]["description"]
    )
    # the nested model is inlined, so nothing points at a $defs the document does not have
    region = as_json["properties"]["region"]["anyOf"][0]
    assert region["properties"]["width"]["exclusiveMinimum"] == 0
    assert "$defs" not in json.dumps(body) and "#/$defs" not in json.dumps(spec)
    assert content["image/*"]["schema"] == {"type": "string", "format": "binary"}
    for media in content.values():
        Draft202012Validator.check_schema(media["schema"])
    # and the JSON schema accepts what the endpoint accepts
    Draft202012Validator(as_json).validate({"image": "aGk=", "min_confidence": 0.5, "region": None})


def test_openapi_leaves_a_recursive_model_open_instead_of_looping():
    class Node(BaseModel):
        child: Node | None = None

    Node.model_rebuild()
    schema = image_request_openapi(Node)["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["child"]["anyOf"] == [{"type": "object"}, {"type": "null"}]
