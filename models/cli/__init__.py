"""The `fenerf` command: one sub-command per module in this package.

Each module `models/cli/<name>.py` defines `register(subparsers)` and keeps its heavy
imports inside the function it runs, so `fenerf --help` stays fast and never touches Qt.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys


class CommandError(Exception):
    """An error to show the user as one line, without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fenerf", description="FENeRF Studio command-line tools")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("fenerf: interrupted", file=sys.stderr)
        return 130
    except (CommandError, OSError, ValueError) as exc:
        print(f"fenerf {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
