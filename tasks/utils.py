"""Thin glue for the finegrained_* task YAMLs; the logic lives in finebench.harness.taskhooks.

YAMLs refer to ``!function utils.<name>``. The data files are looked up on demand: a
YAML's ``data_files: !function utils.files_bird_seen`` (or ``…_lite``) asks
finebench.harness.taskhooks.data_files at the moment lmms-eval builds the task, so the YAMLs stay
static text while the data lives under $FINEBENCH_HOME.
"""

from finebench.harness.taskhooks import (  # noqa: F401  (re-exported for the YAMLs)
    aggregate_circular,
    aggregate_percent,
    circular_doc_to_text,
    circular_docs,
    circular_process_results,
    closed_doc_to_text,
    closed_process_results,
    cot_closed_doc_to_text,
    data_files,
    doc_to_target,
    doc_to_visual,
    icl_closed_doc_to_text,
    icl_doc_to_visual,
    official_closed_doc_to_text,
    open_doc_to_text,
    open_process_results,
)


def __getattr__(name: str):
    if name.startswith("files_"):
        unit = name.removeprefix("files_")
        lite = unit.endswith("_lite")
        return data_files(unit.removesuffix("_lite"), lite=lite)
    raise AttributeError(name)
