"""Result entries as the leaderboard's tables: one row per entry, ranks, filters, plots' data."""

from __future__ import annotations

from typing import Callable, Sequence

import pandas as pd

from finebench.data.registry import DATASET_KEYS, SPLITS
from finebench.results import compare, conditions, entries, ranking, tables
from finebench.scoring.protocols import Protocol

from .columns import COLUMNS, OTHER_SETTINGS_MARK, SETTINGS_CHOICES, SIZE_BUCKETS, cell, condition_cells, mean_cell
from .storage import LocalStorage, Storage


def load_reported(problems: list[str]) -> list[dict]:
    """The rows transcribed from the paper, bundled with finebench."""
    return load_published(LocalStorage(tables.reported_dir()), problems)


def load_published(results: Storage, problems: list[str]) -> list[dict]:
    """Every entry at the top of a results location (a folder or a Hub dataset); a file that is not a valid entry
    is noted in `problems` ("name: why") and skipped. A folder the worker has not made yet is simply empty."""
    loaded = []
    for name in results.list(""):
        if not name.endswith(".json") or name.startswith("tables_"):
            continue
        try:
            loaded.append(entries.loads(results.read(name), results.describe(name)))
        except Exception as error:  # noted for the app to show, whatever went wrong with this one file
            problems.append(f"{name}: {error}")
    return loaded


def entry_key(entry: dict) -> str:
    return f"{entry['model']['name']} · {entry['protocol']} · {entry['source']} · {entry.get('subset', 'full')}"


def size_bucket(parameters: float | None) -> str:
    if parameters is None:
        return "unknown"
    return SIZE_BUCKETS[0] if parameters < 4 else SIZE_BUCKETS[1] if parameters <= 10 else SIZE_BUCKETS[2]


def metric_frame(all_entries: Sequence[dict], metric: str,
                 lines: Callable[[dict], ranking.Cells | None] = lambda entry: None,
                 conditions_of: Callable[[dict], conditions.Conditions] = conditions.of,
                 across_settings: bool = False) -> pd.DataFrame:
    """One row per entry that has the metric: every declared column, the entry's key and its interval, ranked
    (`lines` gives an entry's per-line scores of the metric, for the paired tests; None where it has none;
    `conditions_of` its evaluation conditions). Rows evaluated under other conditions than the reference are ranked
    among themselves unless `across_settings`."""
    rows, cells = [], []
    value_columns = [column for column in COLUMNS if column.value]
    for entry in all_entries:
        if not entry["scores"].get(metric):
            continue
        mean = mean_cell(entry, metric)
        low, high = mean.get("ci95") or [mean.get("value"), mean.get("value")]
        rows.append({"key": entry_key(entry), **{column.name: column.value(entry, metric) for column in value_columns},
                     **condition_cells(conditions_of(entry)), "_low": low, "_high": high})
        cells.append(lines(entry))
    names = [column.name for column in COLUMNS if column.name not in ("rank", "ties by")]
    frame = pd.DataFrame(rows, columns=["key", *names, "_low", "_high"])
    return rank(frame, cells, across_settings)


def rank(frame: pd.DataFrame, cells: Sequence[ranking.Cells | None] | None = None,
         across_settings: bool = False) -> pd.DataFrame:
    """Rank by mean within each subset (a lite entry, 600 lines, is never ranked among full-benchmark rows) and,
    unless `across_settings`, each kind of evaluation conditions (the "settings" column): 1 + the rows of the group
    clearly ahead, by paired tests with Holm's correction between rows with per-line scores, by non-overlapping 95%
    intervals otherwise (finebench.results.ranking); "ties by" says which decided."""
    cells = list(cells) if cells is not None else [None] * len(frame)
    frame = frame.reset_index(drop=True).sort_values("mean", ascending=False, na_position="last", kind="stable")
    cells = [cells[position] for position in frame.index]
    frame = frame.reset_index(drop=True)
    groups = frame["subset"] if across_settings else frame["subset"] + "\0" + frame["settings"]
    places, ways = ranking.ranks(frame["_low"].fillna(float("-inf")).to_numpy(),
                                 frame["_high"].fillna(float("-inf")).to_numpy(), groups.to_numpy(), cells)
    frame.insert(0, "rank", places)
    frame["ties by"] = ways
    return frame


def filter_frame(frame: pd.DataFrame, search: str = "", families: Sequence[str] = (), sizes: Sequence[str] = (),
                 protocols: Sequence[str] = (), sources: Sequence[str] = (),
                 encoders: Sequence[str] = (), subset: str = "full", settings: Sequence[str] = ()) -> pd.DataFrame:
    mask = frame["subset"] == (subset or "full")  # one subset at a time: their ranks are their own
    if settings and set(settings) != set(SETTINGS_CHOICES):
        other = frame["settings"].str.startswith(OTHER_SETTINGS_MARK)
        mask &= other if "other" in settings else ~other
    if search:
        terms = [term.strip().lower() for term in search.split(";") if term.strip()]
        mask &= frame["model"].str.lower().apply(lambda name: any(term in name for term in terms))
    for column, chosen in (("family", families), ("protocol", protocols), ("source", sources), ("encoder", encoders)):
        if chosen:
            mask &= frame[column].isin(list(chosen))
    if sizes:
        mask &= frame["size (B)"].apply(lambda p: size_bucket(None if pd.isna(p) else p)).isin(list(sizes))
    return frame[mask]


def position_bias_frame(all_entries: Sequence[dict]) -> pd.DataFrame:
    """Official (answer always first) minus finebench (shuffled) closed accuracy, per model."""
    closed = {}
    for entry in all_entries:
        mean = entry["scores"].get("closed_accuracy", {}).get("average", {}).get("mean")
        if mean:
            closed[(entry["model"]["name"], entry["source"], entry.get("subset", "full")), entry["protocol"]] = mean
    rows = []
    for (identity, protocol), official in closed.items():
        if protocol == Protocol.OFFICIAL and (identity, Protocol.FINEBENCH) in closed:
            ours = closed[identity, Protocol.FINEBENCH]["value"]
            rows.append({"model": identity[0], "source": identity[1], "subset": identity[2],
                         "official closed": round(official["value"], 2), "finebench closed": round(ours, 2),
                         "position bias": round(official["value"] - ours, 2)})
    return pd.DataFrame(rows, columns=["model", "source", "subset", "official closed", "finebench closed",
                                       "position bias"]).sort_values("position bias", ascending=False)


def circular_frame(all_entries: Sequence[dict]) -> pd.DataFrame:
    """Each circular entry beside the same model's plain closed-world accuracy (tables.circular_rows)."""
    return pd.DataFrame(tables.circular_rows(all_entries), columns=list(tables.CIRCULAR_COLUMNS))


def dataset_frame(all_entries: Sequence[dict], dataset: str) -> pd.DataFrame:
    rows = []
    for entry in all_entries:
        row = {"model": entry["model"]["name"], "protocol": entry["protocol"], "source": entry["source"]}
        for metric in entry["scores"]:
            for split in SPLITS:
                row[f"{metric} {split}"] = cell(dataset, split)(entry, metric)
        rows.append(row)
    return pd.DataFrame(rows)


def seen_unseen_points(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.dropna(subset=["seen avg", "unseen avg"])[["model", "seen avg", "unseen avg", "family"]]


def dataset_bars(frame: pd.DataFrame, split: str = "seen") -> pd.DataFrame:
    """Long format for a grouped bar plot: one bar per (model, dataset)."""
    top = frame.dropna(subset=["mean"]).head(8)
    records = [{"model": row["model"], "dataset": dataset, "value": row[f"{dataset} {split}"]}
               for _, row in top.iterrows() for dataset in DATASET_KEYS if pd.notna(row[f"{dataset} {split}"])]
    return pd.DataFrame(records, columns=["model", "dataset", "value"])


COMPARISON_COLUMNS = ["metric", "dataset", "split", "lines", "A", "B", "A - B", "95% CI (paired)", "only A right",
                      "only B right", "p (McNemar)", "p (Holm)", "different"]


def comparison_frame(cells: Sequence) -> pd.DataFrame:
    """compare.compare's cells as a table: the difference with its paired interval, McNemar's test where it
    applies, and whether the cell differs after Holm's correction."""
    rows = [[cell.metric, cell.dataset, cell.split, cell.lines, round(cell.a, 2), round(cell.b, 2),
             round(cell.difference, 2), f"{cell.ci95[0]:+.2f} to {cell.ci95[1]:+.2f}", cell.only_a_right,
             cell.only_b_right, None if cell.p_value is None else float(f"{cell.p_value:.3g}"),
             None if cell.p_holm is None else float(f"{cell.p_holm:.3g}"),
             "" if cell.p_holm is None else "not judged" if not cell.judged else
             "yes" if compare.significant(cell) else "no"] for cell in cells]
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
