"""Result entries as the leaderboard's tables: one row per entry, ranks, filters, plots' data."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Sequence

import orjson
import pandas as pd

from finebench import __version__, atomic
from finebench.data.registry import DATASET_KEYS, SPLITS
from finebench.errors import FinebenchError
from finebench.results import compare, conditions, entries, ranking, tables
from finebench.scoring.protocols import Protocol

from .columns import COLUMNS, OTHER_SETTINGS_MARK, SETTINGS_CHOICES, SIZE_BUCKETS, cell, condition_cells, mean_cell
from .storage import LocalStorage, Storage


def _cache_key(location: str) -> str:
    """A cache file's name: the location, and the finebench version and the very code that validated what it keeps
    (the entries module: its schema and its checks), so any change to them reads everything again."""
    validator = hashlib.sha256(Path(entries.__file__).read_bytes()).hexdigest()
    return hashlib.sha256(f"{location}\0{__version__}\0{validator}".encode()).hexdigest()[:24]


def load_reported(problems: list[str]) -> list[dict]:
    """The rows transcribed from the paper, bundled with finebench."""
    return load_published(LocalStorage(tables.reported_dir()), problems)


def load_published(results: Storage, problems: list[str]) -> list[dict]:
    """Every entry at the top of a results location, read once (PublishedReader)."""
    return PublishedReader(results).read(problems)


class PublishedReader:
    """The entries at the top of one results location (a folder or a Hub dataset), read again only where a file
    changed since the last read: its version (Storage.versions: a Hub file's blob id at the head commit, a local
    file's size, time and inode) says so. A reload after a worker published one entry reads that one; a reload
    with nothing new reads the listing alone. With a `cache` folder, what was read is kept there between starts
    too, so a restart over a Hub dataset downloads only what changed meanwhile (entries kept there were validated
    by the very code that reads them: _cache_key names the file after it). A file that is not a valid entry is noted in `problems`
    ("name: why") and skipped; one that could not be fetched is tried again at the next read. A folder the worker
    has not made yet is simply empty."""

    FETCHERS = 8  # files fetched at once (a Hub download is mostly waiting)

    def __init__(self, results: Storage, cache: Path | None = None):
        self.results = results
        self.known: dict[str, tuple[str | None, dict | None, str | None]] = {}  # name -> (version, entry, problem)
        self.fetched = 0  # files read over the reader's life
        self.cache = None if cache is None else cache / f"{_cache_key(results.describe(''))}.json"
        self._load_cache()

    def read(self, problems: list[str]) -> list[dict]:
        revision, versions = self.results.versions("")
        wanted = {name: version for name, version in versions.items()
                  if name.endswith(".json") and not name.startswith("tables_")}
        changed = [name for name, version in wanted.items() if self.known.get(name, (None,))[0] != version]
        with ThreadPoolExecutor(min(self.FETCHERS, len(changed) or 1)) as pool:
            fetched = list(pool.map(lambda name: self._fetch(name, revision), changed))
        self.fetched += len(changed)
        for name, (data, error) in zip(changed, fetched):
            try:
                if error is not None:
                    raise error
                self.known[name] = (wanted[name], entries.loads(data, self.results.describe(name), orjson.loads),
                                    None)
            except Exception as problem:  # noted for the app to show, whatever went wrong with this one file
                if error is None:  # read, and not a valid entry: so it stays until the file changes
                    self.known[name] = (wanted[name], None, f"{name}: {problem}")
                    continue
                before = self.known.get(name, (None, None, None))[1]  # not fetched: keep what was read, retry later
                self.known[name] = (None, before, f"{name}: {problem}" + (" (showing what was read before)"
                                                                          if before is not None else ""))
        dropped = set(self.known) - set(wanted)
        self.known = {name: self.known[name] for name in sorted(wanted)}
        if changed or dropped:
            self._save_cache()
        problems.extend(problem for _, _, problem in self.known.values() if problem)
        return [entry for _, entry, _ in self.known.values() if entry is not None]

    def _load_cache(self) -> None:
        try:
            kept = orjson.loads(self.cache.read_bytes()) if self.cache else {}
        except (OSError, ValueError):  # none yet, or cut short: read everything, as the first time
            return
        self.known = {name: (version, entry, None) for name, (version, entry) in kept.get("entries", {}).items()}

    def _save_cache(self) -> None:
        if self.cache is None:
            return
        kept = {name: [version, entry] for name, (version, entry, problem) in self.known.items()
                if version is not None and entry is not None}
        try:
            atomic.write_bytes(self.cache, orjson.dumps({"location": self.results.describe(""), "entries": kept}))
        except (OSError, FinebenchError):  # a cache that cannot be written costs time at the next start, nothing else
            pass

    def _fetch(self, name: str, revision: str | None) -> tuple[bytes | None, Exception | None]:
        try:
            return self.results.read(name, revision), None
        except Exception as error:  # the file went away, or the network did: this file only, tried again later
            return None, error


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


POSITION_BIAS_COLUMNS = ["model", "source", "subset", "official closed", "finebench closed", "position bias"]


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
    return pd.DataFrame(rows, columns=POSITION_BIAS_COLUMNS).sort_values("position bias", ascending=False)


def circular_columns() -> list[str]:
    return list(tables.CIRCULAR_COLUMNS)


def circular_frame(all_entries: Sequence[dict]) -> pd.DataFrame:
    """Each circular entry beside the same model's plain closed-world accuracy (tables.circular_rows)."""
    return pd.DataFrame(tables.circular_rows(all_entries), columns=circular_columns())


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
