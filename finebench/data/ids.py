"""The one rule for a sample's id, stable across runs, machines and releases.

A test line is ``<dataset>/<file stem>`` (``bird/Laysan_Albatross_0002_1027``), a training
image of the k-shot sets ``<dataset>/train/<file stem>``: the stems are unique within a
dataset's manifests and within its archive's training images.
"""

from __future__ import annotations


def sample_id(dataset: str, image_path: str, train: bool = False) -> str:
    return f"{dataset}/{'train/' if train else ''}{stem(image_path)}"


def stem(path_or_id: str) -> str:
    """The file stem an image path or a sample id ends with."""
    return path_or_id.rsplit("/", 1)[-1].rsplit(".", 1)[0]
