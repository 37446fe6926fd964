"""Paired comparisons of two entries: McNemar's exact test, Holm's correction and the paired bootstrap,
each checked against a hand computation and, where it has the test, against scipy."""

import math

import numpy as np
import pytest
from scipy.stats import binomtest

from finebench.results import compare, lines


def columns(scores: dict[str, list[float]], metric: str = "closed_accuracy", dataset: str = "bird") -> dict:
    """Sidecar columns (as lines.decode gives them) for lines named s0, s1, … of one dataset's seen split."""
    ids = list(scores)
    return {"metric": np.array([metric] * len(ids), dtype=object), "sample_id": np.array(ids, dtype=object),
            "dataset": np.array([dataset] * len(ids), dtype=object),
            "split": np.array(["seen"] * len(ids), dtype=object),
            "score": np.array([scores[i] for i in ids], dtype=float),
            "ground_truth": np.array(["Laysan Albatross"] * len(ids), dtype=object),
            "answer": np.array([f"answer {i}" for i in ids], dtype=object)}


def test_mcnemar_exact_by_hand_and_against_scipy():
    # 5 lines only A got right, 1 only B: P(X <= 1) for X ~ Binomial(6, 1/2) is (1 + 6) / 64; two-sided doubles it
    assert compare.mcnemar_exact(5, 1) == pytest.approx(2 * 7 / 64)
    assert compare.mcnemar_exact(0, 0) == 1.0 and compare.mcnemar_exact(3, 3) == 1.0
    for only_a, only_b in [(5, 1), (0, 9), (12, 30), (40, 41), (100, 70), (1, 0)]:
        expected = binomtest(min(only_a, only_b), only_a + only_b, 0.5).pvalue
        assert compare.mcnemar_exact(only_a, only_b) == pytest.approx(expected, rel=1e-12)


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 -> 3 x 0.01 = 0.03, 2 x 0.03 = 0.06, 1 x 0.04 = 0.04 raised to the running max 0.06
    assert compare.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert compare.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # 2 x 0.5 caps at 1; monotone after
    assert compare.holm([0.04, 0.001]) == pytest.approx([0.04, 0.002])


def test_a_small_table_by_hand():
    a = {"s0": 1, "s1": 1, "s2": 0, "s3": 1, "s4": 0, "s5": 1, "s6": 1, "s7": 0, "s8": 1}
    b = {"s0": 0, "s1": 1, "s2": 0, "s3": 0, "s4": 0, "s5": 1, "s6": 0, "s7": 1, "s9": 1}  # s8, s9: one side only
    b_nan = {**b, "s2": math.nan}  # a line B could not score is left out of the pair
    cells = compare.compare(columns(a), columns(b_nan))
    [cell, overall] = cells
    assert (cell.dataset, cell.split) == ("bird", "seen") and (overall.dataset, overall.split) == ("all", "all")
    paired_a, paired_b = [1, 1, 1, 0, 1, 1, 0], [0, 1, 0, 0, 1, 0, 1]  # s0, s1, s3, s4, s5, s6, s7
    assert cell.lines == 7 and cell.a == pytest.approx(500 / 7) and cell.b == pytest.approx(300 / 7)
    assert cell.difference == pytest.approx(200 / 7)
    assert (cell.only_a_right, cell.only_b_right) == (3, 1)
    assert cell.p_value == pytest.approx(2 * (1 + 4) / 16)  # P(X <= 1), X ~ Binomial(4, 1/2), doubled
    # the paired bootstrap, computed here: the lines resampled jointly, the 2.5th and 97.5th percentiles
    differences = (np.array(paired_a) - np.array(paired_b)) * 100.0
    seed = __import__("zlib").crc32(b"compare/closed_accuracy/bird/seen")
    picks = np.random.default_rng(seed).integers(0, 7, size=(1000, 7))
    low, high = np.percentile(differences[picks].mean(axis=1), [2.5, 97.5])
    assert cell.ci95 == pytest.approx((low, high))
    assert overall.lines == 7 and overall.difference == cell.difference
    assert compare.holm([cell.p_value, overall.p_value]) == pytest.approx([cell.p_holm, overall.p_holm])
    shown = compare.disagreements(columns(a), columns(b_nan))
    assert [line["sample_id"] for line in shown] == ["s0", "s3", "s6", "s7"]
    assert shown[0]["answer_a"] == "answer s0" and shown[0]["score_b"] == 0.0


def test_similarities_get_an_interval_and_no_mcnemar():
    a = columns({"s0": 0.9, "s1": 0.5, "s2": 0.7}, metric="open_similarity")
    b = columns({"s0": 0.6, "s1": 0.5, "s2": 0.1}, metric="open_similarity")
    cell = compare.compare(a, b)[0]
    assert cell.difference == pytest.approx(30.0) and cell.p_value is None and cell.p_holm is None
    assert "| open_similarity | bird | seen | 3 |" in compare.render([cell], "A", "B")


def test_a_sidecar_is_addressed_by_its_bytes_and_checked_when_read():
    rows = [{"metric": "closed_accuracy", "dataset": "bird", "split": "seen", "sample_id": f"s{i}",
             "ground_truth": "t", "score": float(i % 2), "answer": "a", "named": None, "position": i % 4}
            for i in range(10)]
    data = lines.encode(list(reversed(rows)))
    assert data == lines.encode(rows)  # the same lines, the same bytes, in whatever order they came
    reference = lines.reference(data)
    assert reference["rows"] == 10 and reference["file"] == f"lines/{reference['sha256']}.parquet"
    read = lines.load({"model": {"name": "m"}, "lines": reference}, lambda path: data, str)
    assert list(read["sample_id"]) == [f"s{i}" for i in range(10)]
    assert list(read["position"]) == [0, 1, 2, 3] * 2 + [0, 1]
    other = lines.encode(rows[:5])
    with pytest.raises(Exception, match="is not the entry's per-line file"):
        lines.load({"model": {"name": "m"}, "lines": reference}, lambda path: other, str)
    with pytest.raises(Exception, match="cannot be read: FileNotFoundError"):
        lines.load({"model": {"name": "m"}, "lines": reference}, lambda path: open("/nonexistent/x", "rb").read(), str)


def test_the_position_profile_by_hand_and_its_plot(tmp_path):
    from finebench.results import positions

    data = columns({"s0": 1, "s1": 0, "s2": 1, "s3": 1, "s4": 0, "s5": math.nan})
    data["position"] = np.array([0, 0, 1, 1, 2, 3], dtype=object)
    assert positions.profile(data) == [50.0, 100.0, 0.0, None]  # the unscored line is no line at position 4
    first_option = columns({f"s{i}": float(i % 4 == 0) for i in range(8)})
    first_option["position"] = np.array([i % 4 for i in range(8)], dtype=object)
    assert positions.profile(first_option) == [100.0, 0.0, 0.0, 0.0]
    written = positions.plot([("biased", [100.0, 0.0, 0.0, 0.0]), ("level", [60.0, 61.0, 59.0, None])],
                             tmp_path / "plots" / "positions.png")
    assert written.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and written.stat().st_size > 10_000
