"""The leaderboard's columns, declared once."""

from __future__ import annotations

from finebench.data.registry import DATASET_KEYS

VIEWS = {  # tab title -> entry metric
    "Closed-world accuracy": "closed_accuracy",
    "Open-world similarity": "open_similarity",
    "Open-world text inclusion": "open_inclusion",
}
INFO_COLUMNS = ["rank", "model", "family", "size (B)", "protocol", "source", "subset", "encoder"]
SUMMARY_COLUMNS = ["seen avg", "unseen avg", "mean", "mean 95% CI"]
DATASET_COLUMNS = [f"{dataset} {split}" for dataset in DATASET_KEYS for split in ("seen", "unseen")]
ALL_COLUMNS = INFO_COLUMNS + SUMMARY_COLUMNS + DATASET_COLUMNS
DEFAULT_COLUMNS = ["rank", "model", "family", "size (B)", "protocol", "source"] + SUMMARY_COLUMNS
HIDDEN = ["key"]  # the entry's identity, for the detail view
SIZE_BUCKETS = ("< 4B", "4-10B", "> 10B", "unknown")
