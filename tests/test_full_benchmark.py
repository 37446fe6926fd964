"""The whole benchmark, end to end: all 35,566 lines from generated archives (about a minute)."""

from collections import Counter

import pyarrow.parquet as pq
import pytest

from finebench.data.fixtures import write_archives
from finebench.data.manifests import TOTAL_LINES
from finebench.data.prepare import prepare
from finebench.data.registry import DATASETS
from finebench.data.store import PreparedStore


@pytest.mark.slow(seconds=25)
def test_all_35566_lines_prepare_and_match_the_manifests(tmp_path, manifests, manifest_dir, home):
    write_archives(tmp_path / "data", manifests, train_per_class=4, layout="fine-r1", progress=False)
    outcomes = prepare(tmp_path / "data", manifest_dir, progress=False)
    assert sum(outcome.rows for outcome in outcomes) == TOTAL_LINES
    store = PreparedStore(home / "prepared")
    columns = ["line", "ground_truth", "official_options", "balanced_options", "balanced_answer_index",
               "question", "class_id"]
    for dataset in DATASETS:
        positions = Counter()
        for split in ("seen", "unseen"):
            manifest = manifests[dataset, split]
            table = pq.read_table(store.data_files(dataset, split), columns=columns).to_pylist()
            assert [row["line"] for row in table] == [line.index for line in manifest.lines]
            assert {row["ground_truth"] for row in table} == manifest.classes
            for row, line in zip(table, manifest.lines):
                assert row["ground_truth"] == line.ground_truth and row["question"] == line.question
                assert row["official_options"] == list(line.options)
                assert row["balanced_options"][row["balanced_answer_index"]] == line.ground_truth
                assert DATASETS[dataset].class_names[row["class_id"]] == line.ground_truth
            positions.update(row["balanced_answer_index"] for row in table)
        total = sum(positions.values())
        assert sorted(positions) == [0, 1, 2, 3]
        assert all(abs(count / total - 0.25) <= 0.02 for count in positions.values()), (dataset, positions)
    assert sum(store.unit_record(f"{d}_{s}")["lite"]["rows"] for d in DATASETS for s in ("seen", "unseen")) == 600
