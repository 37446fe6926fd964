"""What the commands share: how a command is declared, and the arguments that mean the same
thing everywhere (spelled the same everywhere, too)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from finebench.data.registry import DATASET_KEYS


def command(commands, name: str, run: Callable | None, extras: tuple[str, ...] = (),
            **parser_options) -> argparse.ArgumentParser:
    """A subcommand: main() checks that the ``extras`` it needs are installed, then calls ``run(args)``
    (None for a command made of subcommands, each with its own run)."""
    parser = commands.add_parser(name, **parser_options)
    parser.set_defaults(handler=run, extras=extras)  # not "run": commands have a positional of that name
    return parser


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {text!r}")
    return value


def port(text: str) -> int:
    value = int(text) if text.isdigit() else 0
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a TCP port, 1 to 65535, not {text!r}")
    return value


def size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 500x375, not {text!r}") from None
    if width < 1 or height < 1:
        raise argparse.ArgumentTypeError("width and height must be positive")
    return width, height


class _OldSpelling(argparse._StoreAction):
    """Stores like any option, and says so when the old spelling was typed."""

    def __call__(self, parser, namespace, values, option_string=None):
        if option_string == self.old:
            print(f"finebench: {self.old} is now {self.option_strings[0]}; the old spelling goes in a later release",
                  file=sys.stderr)
        super().__call__(parser, namespace, values, option_string)


def renamed(parser: argparse.ArgumentParser, new: str, old: str, **options) -> argparse.Action:
    """An option under its new name that still accepts the spelling users' scripts have, with a warning."""
    action = parser.add_argument(new, old, action=_OldSpelling, **options)
    action.old = old
    return action


def add_output(parser: argparse.ArgumentParser, help: str, old: str | None = None, **options) -> None:
    """--output: the folder a command writes (the same flag in every command)."""
    if old:
        renamed(parser, "--output", old, type=Path, metavar="DIR", help=help, **options)
    else:
        parser.add_argument("--output", type=Path, metavar="DIR", help=help, **options)


def add_manifests(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--manifests", type=Path, metavar="DIR",
                        help="folder with the twelve official <dataset>_<seen|unseen>.jsonl "
                             "(default: $FINEBENCH_MANIFESTS, else download and verify)")


def add_datasets(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--datasets", nargs="+", choices=DATASET_KEYS, metavar="NAME",
                        help=f"only these datasets ({', '.join(DATASET_KEYS)}); default: every one found")


def add_fewshot(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--shots", type=positive, default=4, help="training images per seen class (default 4)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="one set per seed (default 1 2 3)")
    parser.add_argument("--replace", action="store_true",
                        help="rebuild data that was prepared from other archives (refused without it)")
