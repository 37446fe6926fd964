"""Every task and group name of finebench, and the selections the commands run: the one place that
spells them. The task generator writes YAMLs under these names, runs.parse_task reads results back
by them, and the worker, the demo, the baselines and the benchmarks run the selections below.

The names are built for lmms-eval's globs, which are fnmatch over every task *and* group name
(and lmms-eval refuses, or repeats, a task reached through two called groups):

- a *suite* is a set of tasks run together: the default benchmark ``finegrained`` (the finebench
  protocol, both worlds) and its variants ``finegrained-lite``, ``finegrained-official``,
  ``finegrained-official-lite``, ``finegrained-cot``, ``finegrained-icl`` and their ``-lite``;
- a task is ``<suite>_<dataset>_<split>_<world>`` (``finegrained_bird_seen_closed``), and no other
  name begins with ``<suite>_``: so ``--tasks '<suite>_*'`` runs that suite's tasks, each once, and
  ``--tasks 'finegrained_*'`` the default benchmark and nothing else;
- groups join words with ``-`` only (``finegrained-closed-seen``, ``finegrained-bird``), so no
  suite's glob catches them; the suite itself is a group too (``--tasks finegrained``);
- ``finegrained-circular`` (and ``-lite``) asks each closed-world line in the four rotations of its
  finebench option order (finebench.scoring.circular): four documents per line.

The reference responders' lmms-eval model names are here too (RESPONDER_NAMES), so that what checks a
submission needs no lmms-eval: the leaderboard's Space does not install it.

Runs made with finebench 0.1's names (``finegrained_lite_…``, ``finegrained_official_…``) are
still read back (`legacy_task_name`).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from typing import NamedTuple

from finebench.data.registry import DATASET_KEYS, SPLITS
from finebench.scoring.protocols import Protocol

RESPONDER_NAMES = ("first_option", "random_option", "all_options", "ground_truth")  # harness.responders'


class Variant(NamedTuple):
    """One kind of task, as far as its name and what is read back from a run are concerned."""

    token: str  # in its suite's name: "" for the default benchmark, else official, cot, icl
    world: str  # closed | open
    strategy: str  # zero-shot | zero-shot CoT | in-context (the paper's Fig. 3b), recorded with each result
    order: Protocol | None  # whose option order its closed world shows; None in the open world (no options)


VARIANTS = {
    "closed": Variant("", "closed", "zero-shot", Protocol.FINEBENCH),
    "open": Variant("", "open", "zero-shot", None),
    "official": Variant("official", "closed", "zero-shot", Protocol.OFFICIAL),
    # the inference strategies of the paper's Fig. 3b, on the finebench closed world
    "cot": Variant("cot", "closed", "zero-shot CoT", Protocol.FINEBENCH),
    "icl": Variant("icl", "closed", "in-context", Protocol.FINEBENCH),
    # the finebench closed world in the four rotations of its option order (the circular protocol)
    "circular": Variant("circular", "closed", "zero-shot", Protocol.CIRCULAR),
}
STRATEGY_VARIANTS = ("closed", "cot", "icl")  # the inference strategies on the finebench closed world
BENCHMARK = "finegrained"  # the default benchmark: the finebench protocol's tasks, both worlds
DEFAULT_GLOB = f"{BENCHMARK}_*"


def suite(variant: str, lite: bool = False) -> str:
    """The suite a variant's tasks belong to: finegrained, finegrained-lite, finegrained-official, …"""
    token = VARIANTS[variant].token
    return "-".join([BENCHMARK, *([token] if token else []), *(["lite"] if lite else [])])


def task_name(variant: str, dataset: str, split: str, lite: bool = False) -> str:
    return f"{suite(variant, lite)}_{dataset}_{split}_{VARIANTS[variant].world}"


NEWER_THAN_0_1 = ("circular",)  # variants finebench 0.1 did not have: they have no old names


def legacy_task_name(variant: str, dataset: str, split: str, lite: bool = False) -> str | None:
    """The name finebench 0.1 gave the task (runs made then are still read); None for a task it did not have."""
    if variant in NEWER_THAN_0_1:
        return None
    prefix = f"{BENCHMARK}_{VARIANTS[variant].token}" if VARIANTS[variant].token else BENCHMARK
    return f"{prefix}{'_lite' if lite else ''}_{dataset}_{split}_{VARIANTS[variant].world}"


def leaf_tasks(lite: bool) -> Iterator[tuple[str, str, str, str]]:
    """(task name, variant, dataset, split) of every task of the full benchmark, or of the lite subset."""
    for variant in VARIANTS:
        for dataset in DATASET_KEYS:
            for split in SPLITS:
                yield task_name(variant, dataset, split, lite), variant, dataset, split


def suites(lite: bool) -> dict[str, list[str]]:
    """Suite name -> its variants (the default benchmark's are closed and open)."""
    found: dict[str, list[str]] = {}
    for variant in VARIANTS:
        found.setdefault(suite(variant, lite), []).append(variant)
    return found


def benchmark_group(lite: bool = False) -> str:
    """The default benchmark's group, or its lite subset's."""
    return suite("closed", lite)


def world_group(variant: str, lite: bool = False) -> str:
    """The group of one world of a suite: finegrained-closed, finegrained-lite-open; a closed-only suite's own name."""
    name = suite(variant, lite)
    return f"{name}-{VARIANTS[variant].world}" if len(suites(lite)[name]) > 1 else name


def groups(lite: bool) -> dict[str, tuple[list[str], tuple[str, ...]]]:
    """Group name -> (members, the variants whose metrics it aggregates). Unweighted means over the
    leaf tasks give the paper's averages: <world>-<split> is the seen (or unseen) average over six
    datasets, <world> the mean of the two, <dataset> the mean of its seen and unseen scores."""
    found: dict[str, tuple[list[str], tuple[str, ...]]] = {}
    for name, variants in suites(lite).items():
        for variant in variants:
            world = world_group(variant, lite)
            for split in SPLITS:
                found[f"{world}-{split}"] = ([task_name(variant, d, split, lite) for d in DATASET_KEYS], (variant,))
            found[world] = ([f"{world}-{split}" for split in SPLITS], (variant,))
        if len(variants) > 1:
            found[name] = ([world_group(variant, lite) for variant in variants], tuple(variants))
    if not lite:
        for dataset in DATASET_KEYS:
            found[f"{BENCHMARK}-{dataset}"] = (
                [task_name(v, dataset, s) for v in ("closed", "open") for s in SPLITS], ("closed", "open"))
    return found


def protocol_tasks(protocol: Protocol, lite: bool = False) -> str:
    """What scores a model under one protocol: its closed world and the (shared) open world; the circular
    protocol's closed world alone (its rotations have no open-world counterpart)."""
    if protocol == Protocol.FINEBENCH:
        return benchmark_group(lite)
    if protocol == Protocol.CIRCULAR:
        return suite("circular", lite)
    return f"{suite('official', lite)},{world_group('open', lite)}"


def both_protocols(lite: bool = False) -> str:
    """Both protocols in one run: the default benchmark and the official option order's closed world."""
    return f"{benchmark_group(lite)},{suite('official', lite)}"


BASELINE_TASKS = both_protocols()


def all_names() -> list[str]:
    """Every task and group name finebench defines."""
    return [*(name for lite in (False, True) for name, *_ in leaf_tasks(lite)),
            *(name for lite in (False, True) for name in groups(lite))]


def legacy_names() -> dict[str, str]:
    """finebench 0.1's task and group names -> today's (0.1 joined group words with '_')."""
    renamed = {legacy_task_name(variant, dataset, split, lite): name
               for lite in (False, True) for name, variant, dataset, split in leaf_tasks(lite)}
    renamed |= {name.replace("-", "_"): name for lite in (False, True) for name, (_, variants) in groups(lite).items()
                if not set(variants) & set(NEWER_THAN_0_1)}
    return {old: new for old, new in renamed.items() if old is not None and old != new}


def rename_legacy(selection: str) -> tuple[str, list[str]]:
    """An lmms-eval --tasks value with 0.1's names replaced by today's, and a note per replacement."""
    renamed, notes, items = legacy_names(), [], []
    for item in selection.split(","):
        new = renamed.get(item.strip())
        if new:
            notes.append(f"{item.strip()} is now {new}")
        items.append(new or item)
    return ",".join(items), notes


def selected_tasks(selection: str) -> set[str]:
    """The finebench tasks an lmms-eval --tasks value runs, through its tasks, groups and fnmatch patterns;
    names that match nothing add nothing (lmms-eval reports them)."""
    leaves = {name for lite in (False, True) for name, *_ in leaf_tasks(lite)}
    members = {name: names for lite in (False, True) for name, (names, _) in groups(lite).items()}

    def tasks(name: str) -> set[str]:
        return {name} if name in leaves else {task for member in members.get(name, ()) for task in tasks(member)}

    names = [*leaves, *members]
    return {task for pattern in selection.split(",") if pattern.strip()
            for name in fnmatch.filter(names, pattern.strip()) for task in tasks(name)}


def selected_units(selection: str) -> set[str]:
    """The prepared units (``bird_seen``, …) that an lmms-eval --tasks value reads."""
    units = {name: f"{dataset}_{split}" for lite in (False, True) for name, _, dataset, split in leaf_tasks(lite)}
    return {units[task] for task in selected_tasks(selection)}


def open_world_selected(selection: str) -> bool:
    """Whether an lmms-eval --tasks value runs an open-world task (whose scoring needs the text encoder)."""
    worlds = {name: VARIANTS[variant].world for lite in (False, True) for name, variant, *_ in leaf_tasks(lite)}
    return any(worlds[task] == "open" for task in selected_tasks(selection))
