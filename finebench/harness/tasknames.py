"""Every task and group name of finebench, and the selections the commands run: the one place that
spells them. The task generator writes YAMLs under these names, runs.parse_task reads results back
by them, and the worker, the demo, the baselines and the benchmarks run the selections below.

A task is one variant on one unit: ``finegrained[_lite]_<dataset>_<split>_<world>`` and the
variants' own prefixes (``finegrained_official``, ``finegrained_cot``, ``finegrained_icl``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from typing import NamedTuple

from finebench.data.registry import DATASET_KEYS, SPLITS
from finebench.scoring.protocols import Protocol


class Variant(NamedTuple):
    """One kind of task, as far as its name and what is read back from a run are concerned."""

    prefix: str  # of the task names
    world: str  # closed | open
    strategy: str  # zero-shot | zero-shot CoT | in-context (the paper's Fig. 3b), recorded with each result
    order: Protocol | None  # whose option order its closed world shows; None in the open world (no options)


VARIANTS = {
    "closed": Variant("finegrained", "closed", "zero-shot", Protocol.FINEBENCH),
    "open": Variant("finegrained", "open", "zero-shot", None),
    "official": Variant("finegrained_official", "closed", "zero-shot", Protocol.OFFICIAL),
    # the inference strategies of the paper's Fig. 3b, on the finebench closed world
    "cot": Variant("finegrained_cot", "closed", "zero-shot CoT", Protocol.FINEBENCH),
    "icl": Variant("finegrained_icl", "closed", "in-context", Protocol.FINEBENCH),
}
CLOSED_ONLY = ("official", "cot", "icl")  # their group names need no world to tell them apart
STRATEGY_VARIANTS = ("closed", "cot", "icl")  # the inference strategies on the finebench closed world
BENCHMARK = "finegrained"  # the group of the default benchmark: the finebench protocol's tasks, both worlds


def task_name(variant: str, dataset: str, split: str, lite: bool = False) -> str:
    return f"{VARIANTS[variant].prefix}{'_lite' if lite else ''}_{dataset}_{split}_{VARIANTS[variant].world}"


def leaf_tasks(lite: bool) -> Iterator[tuple[str, str, str, str]]:
    """(task name, variant, dataset, split) of every task of the full benchmark, or of the lite subset."""
    for variant in VARIANTS:
        for dataset in DATASET_KEYS:
            for split in SPLITS:
                yield task_name(variant, dataset, split, lite), variant, dataset, split


def group_of(variant: str, lite: bool) -> str:
    """The group of a variant's tasks: finegrained_closed, finegrained_official, … (with _lite after the prefix)."""
    spec = VARIANTS[variant]
    world = "" if variant in CLOSED_ONLY else f"_{spec.world}"
    return f"{spec.prefix}{'_lite' if lite else ''}{world}"


def benchmark_group(lite: bool = False) -> str:
    """The default benchmark's group, or its lite subset's."""
    return f"{BENCHMARK}{'_lite' if lite else ''}"


def groups(lite: bool) -> dict[str, tuple[list[str], tuple[str, ...]]]:
    """Group name -> (members, the worlds whose metrics it aggregates). Unweighted means over the
    leaf tasks give the paper's averages: <world>_<split> is the seen (or unseen) average over six
    datasets, <world> the mean of the two, <dataset> the mean of its seen and unseen scores."""
    found: dict[str, tuple[list[str], tuple[str, ...]]] = {}
    for variant, spec in VARIANTS.items():
        base = group_of(variant, lite)
        for split in SPLITS:
            found[f"{base}_{split}"] = ([task_name(variant, d, split, lite) for d in DATASET_KEYS], (spec.world,))
        found[base] = ([f"{base}_{split}" for split in SPLITS], (spec.world,))
    both = ("closed", "open")
    found[benchmark_group(lite)] = ([group_of("closed", lite), group_of("open", lite)], both)
    if not lite:
        for dataset in DATASET_KEYS:
            found[f"{BENCHMARK}_{dataset}"] = ([task_name(v, dataset, s) for v in ("closed", "open") for s in SPLITS],
                                               both)
    return found


def protocol_tasks(protocol: Protocol, lite: bool = False) -> str:
    """What scores a model under one protocol: its closed world and the (shared) open world."""
    closed = "closed" if protocol == Protocol.FINEBENCH else "official"
    return f"{group_of(closed, lite)},{group_of('open', lite)}"


def both_protocols(lite: bool = False) -> str:
    """Both protocols in one run: the open world once, each protocol's closed world."""
    return f"{group_of('closed', lite)},{group_of('official', lite)},{group_of('open', lite)}"


BASELINE_TASKS = both_protocols()


def selected_units(selection: str) -> set[str]:
    """The prepared units (``bird_seen``, …) that an lmms-eval --tasks value reads, through its
    tasks, groups and fnmatch patterns; names that match nothing add nothing (lmms-eval reports them)."""
    leaves = {name: f"{dataset}_{split}" for lite in (False, True) for name, _, dataset, split in leaf_tasks(lite)}
    members = {name: names for lite in (False, True) for name, (names, _) in groups(lite).items()}

    def units(name: str) -> set[str]:
        if name in leaves:
            return {leaves[name]}
        return {unit for member in members.get(name, ()) for unit in units(member)}

    names = [*leaves, *members]
    return {unit for pattern in selection.split(",") if pattern.strip()
            for name in fnmatch.filter(names, pattern.strip()) for unit in units(name)}
