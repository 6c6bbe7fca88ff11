"""``python -m sagepipe.serving run --spec SPEC``: the process a deployed endpoint runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from .server import DEFAULT_HOST, ServerOptions, default_port, run


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and run the model server in the foreground."""
    parser = argparse.ArgumentParser(prog="python -m sagepipe.serving")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("run", help="serve an endpoint spec with gunicorn")
    serve.add_argument("--spec", type=Path, required=True)
    serve.add_argument("--host", default=DEFAULT_HOST)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--workers", type=int, default=0)
    serve.add_argument("--pidfile", default=None)
    serve.add_argument("--access-log", action="store_true")
    args = parser.parse_args(argv)
    options = ServerOptions(
        host=args.host,
        port=args.port if args.port is not None else default_port(),
        workers=args.workers,
        pidfile=args.pidfile,
        access_log=args.access_log,
    )
    run(args.spec, options)


if __name__ == "__main__":
    main()
