"""The `offnet` command (spec README §2). Each module of this package registers its subcommands."""

from __future__ import annotations

import argparse

from shared.cli import jobs, selection, system
from shared.logging import configure_logging
from shared.settings import get_settings

COMMAND_GROUPS = (system, selection, jobs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="offnet", description="Offnet command line")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in COMMAND_GROUPS:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format, process="cli")
    args = build_parser().parse_args(argv)
    return int(args.func(args))
