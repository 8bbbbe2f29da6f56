"""core/wyoming.py: the Wyoming listener on a real socket with the wyoming library's own client: events
are answered, bad input gets an ``error`` event and a closed connection (garbage, a non-object header,
a 100 MB payload), a refused request keeps the connection, a client that leaves mid-event does not stop
the server, stopping it ends busy connections, and the zeroconf announcement's address and record."""

from __future__ import annotations

import asyncio
import socket
from types import SimpleNamespace

import pytest
from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.ping import Ping, Pong

from hailo_services.core.settings import WyomingSettings
from hailo_services.core.wyoming import (
    ZEROCONF_TYPE,
    WyomingHandler,
    WyomingRequestError,
    announce_address,
    wyoming_listener,
    zeroconf_service_info,
)

pytestmark = pytest.mark.anyio


class EchoHandler(WyomingHandler):
    """ping -> pong; "refuse" -> a WyomingRequestError; "slow" -> sleeps (a busy engine)."""

    async def handle_event(self, event: Event) -> bool:
        if Ping.is_type(event.type):
            await self.write_event(Pong(text=Ping.from_event(event).text).event())
        elif event.type == "refuse":
            raise WyomingRequestError("no such voice", "not_found")
        elif event.type == "slow":
            await asyncio.sleep(60)
        elif Describe.is_type(event.type):
            await self.write_event(Event("described", {"payload": len(event.payload or b"")}))
        return True


def _app(**wyoming) -> SimpleNamespace:
    settings = SimpleNamespace(host="127.0.0.1", service_name="hailo-test", wyoming=WyomingSettings(**wyoming))
    return SimpleNamespace(state=SimpleNamespace(settings=settings))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _raw(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    got = await asyncio.wait_for(reader.read(), 10)  # until the server closes
    writer.close()
    return got


async def _ping(port: int) -> str:
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(Ping(text="hi").event())
        event = await asyncio.wait_for(client.read_event(), 10)
    assert event is not None and Pong.is_type(event.type)
    return Pong.from_event(event).text or ""


async def test_events_are_answered_and_bad_ones_close_with_an_error():
    port = _free_port()
    app = _app(port=port, max_event_bytes=1000)
    async with wyoming_listener(EchoHandler, default_port=1)(app):
        assert app.state.wyoming.port == port
        assert await _ping(port) == "hi"
        for data, code in (
            (b"this is not json\n", b"invalid_event"),
            (b"[1, 2, 3]\n", b"invalid_event"),
            (b'{"type": "x", "payload_length": "many"}\n', b"invalid_event"),
            (b"x" * 100_000 + b"\n", b"invalid_event"),  # a header line past the reader's 64 KiB
            (b'{"type": "audio-chunk", "payload_length": 100000000}\n', b"event_too_large"),
            (b'{"type": "describe", "data_length": 5000}\n', b"event_too_large"),
        ):
            got = await _raw(port, data)
            assert b'"type": "error"' in got and code in got, (data[:60], got)
        # A payload within the limit is read whole; a client that leaves mid-payload changes nothing.
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(Event("describe", payload=b"x" * 900))
            event = await client.read_event()
            assert event.type == "described" and event.data["payload"] == 900
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b'{"type": "audio-chunk", "payload_length": 900}\n' + b"\0" * 100)
        await writer.drain()
        writer.close()
        assert await _ping(port) == "hi"


async def test_a_refused_request_keeps_the_connection():
    port = _free_port()
    async with wyoming_listener(EchoHandler, default_port=1)(_app(port=port)):
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(Event("refuse"))
            error = await client.read_event()
            assert error.type == "error" and error.data == {"text": "no such voice", "code": "not_found"}
            await client.write_event(Ping(text="still there").event())
            assert Pong.from_event(await client.read_event()).text == "still there"


async def test_an_idle_connection_is_closed():
    port = _free_port()
    async with wyoming_listener(EchoHandler, default_port=1)(_app(port=port, idle_timeout_s=0.3)):
        got = await _raw(port, b"")
        assert b"idle_timeout" in got


async def test_stopping_ends_busy_connections_and_a_taken_port_names_itself():
    port = _free_port()
    app = _app(port=port)
    async with wyoming_listener(EchoHandler, default_port=1)(app):
        client = AsyncTcpClient("127.0.0.1", port)
        await client.connect()
        await client.write_event(Event("slow"))
        await asyncio.sleep(0.2)
        assert len(app.state.wyoming.tasks) == 1
        with pytest.raises(RuntimeError, match=f"cannot listen on 127.0.0.1:{port}"):
            async with wyoming_listener(EchoHandler, default_port=1)(_app(port=port)):
                pass
    assert not app.state.wyoming.tasks  # the slow handler was cancelled before the listener returned
    assert await asyncio.wait_for(client.read_event(), 5) is None  # and its connection closed
    await client.disconnect()


async def test_disabled_means_no_server():
    app = _app(enabled=False)
    async with wyoming_listener(EchoHandler, default_port=_free_port())(app):
        assert app.state.wyoming is None


def test_zeroconf_announces_a_reachable_address_only():
    assert announce_address("127.0.0.1") is None  # nobody else could connect: not announced
    assert announce_address("192.168.1.20") == "192.168.1.20"
    info = zeroconf_service_info("hailo-whisper-pi5", "192.168.1.20", 10300)
    assert info.type == ZEROCONF_TYPE == "_wyoming._tcp.local."
    assert info.name == "hailo-whisper-pi5._wyoming._tcp.local." and info.port == 10300
    assert info.parsed_addresses() == ["192.168.1.20"]
