"""MkDocs hook: the reference pages, generated from the code at every build, so they cannot drift from it.

    reference/cli.md       every command's help, from finebench's own argparse parsers
    reference/entries.md   the result entry's JSON schema, and the benchmark's reference settings
    reference/tasks.md     every suite, task and group lmms-eval sees, from finebench.harness.tasknames
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os

from mkdocs.structure.files import File


def _help(parser: argparse.ArgumentParser) -> str:
    return parser.format_help().rstrip()


def _commands(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()):
    """(words, parser) of every command that runs something, subcommands included."""
    subparsers = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    if words and (not subparsers or parser.get_default("handler") is not None):
        yield words, parser
    for action in subparsers:
        for name, child in action.choices.items():
            yield from _commands(child, (*words, name))


def cli_page() -> str:
    from finebench.cli import build_parser, main

    os.environ["COLUMNS"] = "110"  # argparse wraps to the terminal: a fixed width, the same page everywhere
    parser = build_parser()
    sections = ["# Command reference", "",
                "Generated from finebench's own parsers at each build of this site: what `finebench COMMAND --help`"
                " prints.", "", "```text", _help(parser), "```"]
    for words, command in _commands(parser):
        text = _help(command)
        if words == ("eval",):  # everything after `eval` is lmms-eval's; its help is finebench's own text
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                main(["eval", "--help"])
            text = printed.getvalue().rstrip()
        sections += ["", f"## finebench {' '.join(words)}", "", "```text", text, "```"]
    return "\n".join(sections) + "\n"


def entries_page() -> str:
    from finebench.results import conditions, entries

    reference = {name: value for name, value in conditions.REFERENCE.__dict__.items() if name != "backend"}
    return "\n".join([
        "# Result entries", "",
        "One entry per model, revision, protocol and subset: every dataset x split x metric with its line count",
        "and 95 % interval, and where it came from. Written by `finebench ingest` and the leaderboard's worker,",
        f"read by `finebench tables`, `finebench compare` and the app. Schema version {entries.SCHEMA_VERSION},",
        "generated from `finebench.results.entries.SCHEMA` at each build of this site:", "",
        "```json", json.dumps(entries.SCHEMA, indent=2, sort_keys=True, default=str), "```", "",
        "## The benchmark's reference settings", "",
        "Entries evaluated under other conditions are marked and ranked apart (`finebench.results.conditions`):", "",
        "```json", json.dumps(reference, indent=2), "```", ""])


def tasks_page() -> str:
    from finebench.harness import tasknames

    lines = ["# Tasks and groups", "",
             "Every name lmms-eval sees once finebench is installed, generated from `finebench.harness.tasknames`",
             f"at each build of this site. `--tasks '{tasknames.DEFAULT_GLOB}'` is the default benchmark.", ""]
    for lite in (False, True):
        lines += [f"## {'The lite subset' if lite else 'The full benchmark'}", ""]
        for suite, variants in tasknames.suites(lite).items():
            tasks = [name for name, variant, _, _ in tasknames.leaf_tasks(lite) if variant in variants]
            lines += [f"### `{suite}` ({len(tasks)} tasks)", "", "```text", *tasks, "```", ""]
        lines += ["### Groups", "", "| group | members |", "|---|---|"]
        lines += [f"| `{name}` | {', '.join(f'`{member}`' for member in members)} |"
                  for name, (members, _) in tasknames.groups(lite).items()]
        lines.append("")
    return "\n".join(lines)


PAGES = {"reference/cli.md": cli_page, "reference/entries.md": entries_page, "reference/tasks.md": tasks_page}


def on_files(files, config):
    for path, make in PAGES.items():
        files.append(File.generated(config, path, content=make()))
    return files
