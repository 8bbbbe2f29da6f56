"""A Wyoming server beside the HTTP API (Home Assistant's voice protocol), run by the app's lifespan.

:func:`wyoming_listener` is a ``listeners=`` entry of :func:`core.app.create_model_app`: it starts the
``wyoming`` library's ``AsyncTcpServer`` once the app starts, and stops it (connections and all) before
the model unloads. Both servers share the process, the engine and its work queue. Settings are the
service's ``wyoming:`` section (core/settings.py ``WyomingSettings``).

:class:`WyomingHandler` is the base of the services' handlers. Framing is the library's
(``async_read_event``); what it adds is what a server facing a home network needs:

- an event whose data or payload is larger than ``max_event_bytes`` (a 100 MB audio chunk) is refused
  before it is read, with an ``error`` event, and the connection is closed;
- a line that is not a Wyoming event (garbage, a non-object JSON, a header line past 64 KiB) gets an
  ``error`` event and the connection is closed; the library alone would drop it silently or raise;
- a request the service refuses (unknown voice, audio too long) gets an ``error`` event with the
  service's message and code, and the connection stays open;
- a client that disconnects mid-stream, or stays silent past ``idle_timeout_s``, just ends its
  connection; the server keeps serving the others.

Zeroconf (``_wyoming._tcp.local.``, as wyoming's own servers announce themselves with ``--zeroconf``)
is registered when ``wyoming.zeroconf`` is on and the server listens on a reachable address.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from .errors import ServiceError
from .settings import WyomingSettings

log = logging.getLogger(__name__)

ZEROCONF_TYPE = "_wyoming._tcp.local."
_MDNS_GROUP = "224.0.0.251"  # only used to ask the kernel which interface would route there (nothing is sent)


# How long a closing connection still drains what the client sends (see WyomingHandler._linger).
LINGER_S = 2.0


class EventTooLarge(Exception):
    def __init__(self, size: int, limit: int):
        super().__init__(f"event of {size} bytes is over the limit of {limit} bytes (wyoming.max_event_bytes)")


class WyomingRequestError(Exception):
    """A request the service refuses: answered with an ``error`` event, the connection stays open."""

    def __init__(self, text: str, code: str = "invalid_request"):
        super().__init__(text)
        self.text = text
        self.code = code


class BoundedReader:
    """The StreamReader seen by ``async_read_event``: refuses to read a data/payload block over the
    limit, and remembers whether the last header line was garbage (the library returns None for both
    that and a closed connection)."""

    def __init__(self, reader: asyncio.StreamReader, max_bytes: int):
        self._reader = reader
        self.max_bytes = max_bytes
        self.garbage = False

    async def readline(self) -> bytes:
        try:
            line = await self._reader.readline()
        except ValueError:  # a line past the StreamReader's limit (64 KiB)
            self.garbage = True
            raise
        self.garbage = bool(line.strip())  # reset below once the event parses
        return line

    async def readexactly(self, n: int) -> bytes:
        if not isinstance(n, int) or n > self.max_bytes:
            raise EventTooLarge(n if isinstance(n, int) else -1, self.max_bytes)
        return await self._reader.readexactly(n)


class WyomingHandler:
    """Base of a service's Wyoming handler: the interface of the ``wyoming`` library's ``AsyncEventHandler``
    (``run``, ``stop``, ``write_event``, ``handle_event``), without importing it until a server starts.

    Subclasses implement ``handle_event(event) -> bool`` and may raise :class:`WyomingRequestError` or
    a ``ServiceError`` (answered with an ``error`` event)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, runtime: WyomingRuntime):
        self.reader = reader
        self.writer = writer
        self.runtime = runtime
        self._bounded = BoundedReader(reader, runtime.settings.max_event_bytes)
        self._is_running = False

    async def handle_event(self, event: Any) -> bool:
        raise NotImplementedError

    async def write_event(self, event: Any) -> None:
        from wyoming.event import async_write_event

        await async_write_event(event, self.writer)

    async def error(self, text: str, code: str) -> None:
        from wyoming.error import Error

        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.write_event(Error(text=text, code=code).event())

    async def disconnect(self) -> None:
        """Called when the connection ends (subclasses drop buffered audio here)."""

    async def stop(self) -> None:
        self._is_running = False
        self.writer.close()
        self.reader.feed_eof()

    async def run(self) -> None:
        from wyoming.event import async_read_event

        self._is_running = True
        task = asyncio.current_task()
        if task is not None:
            self.runtime.tasks.add(task)
        timeout = self.runtime.settings.idle_timeout_s
        try:
            while self._is_running:
                try:
                    async with asyncio.timeout(timeout):
                        event = await async_read_event(self._bounded)  # type: ignore[arg-type]
                except TimeoutError:
                    await self.error(f"no event for {timeout:g} s; closing the connection", "idle_timeout")
                    break
                except EventTooLarge as exc:
                    await self.error(str(exc), "event_too_large")
                    break
                except (asyncio.IncompleteReadError, ConnectionError):
                    break  # the client left mid-event
                except Exception as exc:  # a header that is JSON but not an event object, odd lengths
                    await self.error(f"not a Wyoming event: {type(exc).__name__}", "invalid_event")
                    break
                if event is None:
                    if self._bounded.garbage:
                        await self.error(
                            "not a Wyoming event (expected one JSON object per header line)", "invalid_event"
                        )
                    break
                self._bounded.garbage = False
                try:
                    if not await self.handle_event(event):
                        break
                except WyomingRequestError as exc:
                    await self.error(exc.text, exc.code)
                except ServiceError as exc:
                    await self.error(exc.message, exc.code or "error")
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    await self.error(f"malformed {event.type!r} event: {type(exc).__name__}: {exc}", "invalid_event")
        except ConnectionError:
            pass
        finally:
            with contextlib.suppress(Exception):
                await self.disconnect()
            await self._linger()
            self.writer.close()
            if task is not None:
                self.runtime.tasks.discard(task)

    async def _linger(self) -> None:
        """Close the way TCP needs it when we end a connection the client is still sending on (an error
        event mid-audio): half-close, then read and drop what still arrives for up to LINGER_S. Closing at
        once makes the kernel answer the unread bytes with a reset, which can reach the client before our
        error event does."""
        with contextlib.suppress(Exception):
            if self.writer.can_write_eof():
                self.writer.write_eof()
            async with asyncio.timeout(LINGER_S):
                while await self.reader.read(65536):
                    pass


@dataclass
class WyomingRuntime:
    """What a running Wyoming server knows: its settings, where it listens, the app, its connections."""

    settings: WyomingSettings
    app: Any
    host: str = ""
    port: int = 0
    tasks: set[asyncio.Task] = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.tasks is None:
            self.tasks = set()


HandlerFactory = Callable[[asyncio.StreamReader, asyncio.StreamWriter, WyomingRuntime], WyomingHandler]


def wyoming_listener(handler: HandlerFactory, *, default_port: int) -> Callable[[Any], Any]:
    """A ``listeners=`` entry: the Wyoming server of ``app.state.settings.wyoming`` with ``handler``
    per connection. ``app.state.wyoming`` holds its :class:`WyomingRuntime` (host and bound port)."""

    @contextlib.asynccontextmanager
    async def listen(app: Any) -> AsyncIterator[None]:
        settings = app.state.settings
        cfg: WyomingSettings = settings.wyoming
        app.state.wyoming = None
        if not cfg.enabled:
            yield
            return
        from wyoming.server import AsyncTcpServer

        runtime = WyomingRuntime(cfg, app, cfg.host or settings.host, cfg.port or default_port)
        server = AsyncTcpServer(runtime.host, runtime.port)
        try:
            await server.start(lambda r, w: handler(r, w, runtime))  # type: ignore[arg-type,return-value]
        except OSError as exc:
            raise RuntimeError(f"Wyoming server cannot listen on {runtime.host}:{runtime.port}: {exc}") from exc
        runtime.port = server._server.sockets[0].getsockname()[1] if server._server else runtime.port
        app.state.wyoming = runtime
        log.info("%s: Wyoming server on tcp://%s:%d", settings.service_name, runtime.host, runtime.port)
        announcer = None
        if cfg.zeroconf:
            announcer = await register_zeroconf(
                cfg.zeroconf_name or default_zeroconf_name(settings.service_name), runtime.host, runtime.port
            )
        try:
            yield
        finally:
            if announcer is not None:
                with contextlib.suppress(Exception):
                    await announcer.async_unregister_all_services()
                    await announcer.async_close()
            await server.stop()
            # Connections still busy (a transcription in flight) end before the model unloads.
            pending = list(runtime.tasks)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=10)

    return listen


def default_zeroconf_name(service: str) -> str:
    return f"{service}-{socket.gethostname().split('.')[0]}"


def announce_address(host: str) -> str | None:
    """The IPv4 address to announce for a server bound to ``host``: the host itself, or for a wildcard
    bind the address of the interface that routes to the mDNS group; None for loopback (nobody else
    could connect, so announcing it would only mislead Home Assistant)."""
    if host in ("", "0.0.0.0", "::"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect((_MDNS_GROUP, 1))  # UDP connect sends nothing; it picks the route
            host = probe.getsockname()[0]
    try:
        packed = socket.inet_aton(host)
    except OSError:
        return None
    return None if packed[0] == 127 else host


def zeroconf_service_info(name: str, address: str, port: int) -> Any:
    from zeroconf.asyncio import AsyncServiceInfo

    return AsyncServiceInfo(ZEROCONF_TYPE, f"{name}.{ZEROCONF_TYPE}", addresses=[socket.inet_aton(address)], port=port)


async def register_zeroconf(name: str, host: str, port: int) -> Any:
    """Announce the server over mDNS; returns the AsyncZeroconf to close, or None when not announced."""
    address = announce_address(host)
    if address is None:
        log.warning(
            "Wyoming zeroconf is on but the server listens on %s, which other hosts cannot reach: not announced "
            "(bind wyoming.host or host to the LAN address or 0.0.0.0)",
            host,
        )
        return None
    from zeroconf.asyncio import AsyncZeroconf

    zc = AsyncZeroconf(interfaces=[address])
    await zc.async_register_service(zeroconf_service_info(name, address, port))
    log.info("Wyoming server announced as %s on %s:%d", name, address, port)
    return zc
