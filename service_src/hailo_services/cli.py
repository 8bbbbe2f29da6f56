"""``hailo-services``: run a service (what the systemd unit calls), list services, check a config file,
pull a model."""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
from pathlib import Path

from . import __version__, services
from .core.engine_select import hailo_available
from .core.settings import ConfigError


def _server_class():
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:
            super().handle_exit(sig, frame)
            # uvicorn re-raises the stop signal after shutting down; for a systemd service a
            # requested stop is a clean exit (status 0), so we swallow it.
            self._captured_signals.clear()

    return Server


def _cmd_run(args: argparse.Namespace) -> int:
    info = services.get(args.service)
    cls = info.settings_class()
    try:
        settings = cls.load(args.config, host=args.host, port=args.port, engine=args.engine)
    except ConfigError as exc:
        print(f"{info.name}: invalid configuration:\n{exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(),
        format=f"%(levelname)s {info.name} %(name)s: %(message)s",
        stream=sys.stdout,
    )
    try:
        app = info.app_factory()(settings, exit_on_load_failure=True)
    except RuntimeError as exc:  # e.g. engine 'hailo' requested without an NPU
        print(f"{info.name}: {exc}", file=sys.stderr)
        return 2
    import uvicorn

    _Server = _server_class()
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.effective_port,
        log_level=settings.log_level,
        access_log=settings.log_level == "debug",
        timeout_graceful_shutdown=10,
    )
    server = _Server(config)
    app.state.request_exit = lambda: setattr(server, "should_exit", True)
    server.run()
    if app.state.fatal is not None:
        return 1
    return 0 if server.started else 1


def _cmd_list(args: argparse.Namespace) -> int:
    npu, why = hailo_available()
    print(f"{'service':<16} {'port':>5}  engines")
    for info in services.SERVICES.values():
        cpu_ok = all(importlib.util.find_spec(m) is not None for m in info.cpu_modules)
        engines = [f"cpu ({'ready' if cpu_ok else f'install the [{info.extra}] extra'})"]
        engines.append(f"hailo ({'ready' if npu else why})" if info.npu else "no NPU engine")
        print(f"{info.name:<16} {info.port:>5}  {', '.join(engines)}")
    return 0


def _cmd_check_config(args: argparse.Namespace) -> int:
    info = services.get(args.service)
    try:
        settings = info.settings_class().load(Path(args.file))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{args.file}: valid {info.name} configuration (port {settings.effective_port}, engine {settings.engine})")
    return 0


def _cmd_pull(args: argparse.Namespace) -> int:
    """Download a catalog model's files for an engine into the store, verified by sha256."""
    from .core import model_store
    from .core.engine_select import resolve_engine

    info = services.get(args.service)
    try:
        settings = info.settings_class().load(args.config, engine=args.engine)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    catalog = settings.catalog()
    engine = resolve_engine(settings.engine, settings.hailo.device)
    name = args.model or settings.model_for(engine)
    spec = catalog.resolve(name) if catalog else None
    if spec is None or not spec.artifacts(engine):
        known = ", ".join(s.name for s in catalog.values() if s.artifacts(engine)) if catalog else ""
        print(f"{info.name}: no model {name!r} for the {engine} engine; known: {known}", file=sys.stderr)
        return 2
    models_dir = args.models_dir or settings.models_dir
    for artifact in spec.artifacts(engine):
        if model_store.locate(models_dir, artifact) is not None:
            print(f"{artifact.file}: present")
            continue
        if artifact.url is None:
            from .core.models import how_to_get

            print(f"{artifact.file}: {how_to_get(artifact, info.name, spec.name)}", file=sys.stderr)
            return 1
        try:
            for p in model_store.download(artifact, models_dir, allow_unpinned=args.allow_unpinned):
                done = f" {p.completed * 100 // p.total}%" if p.total and p.completed is not None else ""
                print(f"{artifact.file}: {p.status}{done}", flush=True)
        except (model_store.DownloadError, OSError) as exc:
            print(f"{artifact.file}: {exc}", file=sys.stderr)
            return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hailo-services", description=__doc__)
    p.add_argument("--version", action="version", version=f"hailo-services {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run one service in the foreground")
    run.add_argument("service", help="e.g. hailo-ollama")
    run.add_argument("--config", type=Path, help="YAML settings file (default: built-in defaults)")
    run.add_argument("--host")
    run.add_argument("--port", type=int)
    run.add_argument("--engine", choices=["auto", "cpu", "hailo"])
    run.set_defaults(func=_cmd_run)

    ls = sub.add_parser("list", help="services, their ports and the engines this machine can run")
    ls.set_defaults(func=_cmd_list)

    check = sub.add_parser("check-config", help="validate a settings file")
    check.add_argument("service")
    check.add_argument("file")
    check.set_defaults(func=_cmd_check_config)
    pull = sub.add_parser("pull", help="download a model's files into the store (sha256-verified)")
    pull.add_argument("service")
    pull.add_argument("model", nargs="?", help="catalog name (default: the service's default model)")
    pull.add_argument("--config", type=Path, help="settings file (models_dir, engine)")
    pull.add_argument("--engine", choices=["auto", "cpu", "hailo"])
    pull.add_argument("--models-dir", type=Path, help="store directory (default: models_dir of the settings)")
    pull.add_argument(
        "--allow-unpinned",
        action="store_true",
        help="download files whose publisher gives no sha256 (Hailo's vision HEFs) and record the digest",
    )
    pull.set_defaults(func=_cmd_pull)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyError as exc:
        print(exc.args[0], file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
