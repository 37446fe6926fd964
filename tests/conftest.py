"""Shared fixtures: the official manifests (read-only, from ../shared) and generated archives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from finebench.fixtures import write_archives
from finebench.manifests import load_manifests

REPO = Path(__file__).resolve().parents[1]
MANIFEST_DIR = Path(os.environ.get("FINEBENCH_TEST_MANIFESTS", REPO.parent / "shared" / "reference" / "official-eval"))
SMALL_LINES = 12  # images per manifest in the small archives


@pytest.fixture(scope="session")
def manifest_dir() -> Path:
    if not (MANIFEST_DIR / "bird_seen.jsonl").is_file():
        pytest.skip(f"official manifests not found at {MANIFEST_DIR} (set FINEBENCH_TEST_MANIFESTS)")
    return MANIFEST_DIR


@pytest.fixture(scope="session")
def manifests(manifest_dir):
    return load_manifests(manifest_dir)


@pytest.fixture(scope="session")
def small_archives(tmp_path_factory, manifests) -> Path:
    """All six archives, official layout, complete metadata, SMALL_LINES test images per manifest."""
    root = tmp_path_factory.mktemp("archives")
    write_archives(root, manifests, lines_per_split=SMALL_LINES, progress=False)
    return root


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fresh FINEBENCH_HOME for one test."""
    path = tmp_path / "home"
    monkeypatch.setenv("FINEBENCH_HOME", str(path))
    monkeypatch.delenv("FINEBENCH_MANIFESTS", raising=False)
    return path


@pytest.fixture(scope="session")
def prepared_home(tmp_path_factory, manifests, manifest_dir) -> Path:
    """A FINEBENCH_HOME with every dataset prepared from tiny generated archives (about 20 s)."""
    from finebench.prepare import prepare

    home = tmp_path_factory.mktemp("prepared-home")
    write_archives(home / "archives", manifests, train_per_class=4, progress=False, workers=2)
    patch = pytest.MonkeyPatch()
    patch.setenv("FINEBENCH_HOME", str(home))
    prepare(home / "archives", manifest_dir, progress=False)
    from finebench.fewshot import prepare_fewshot

    prepare_fewshot(home / "archives", manifest_dir, seeds=[1])
    patch.undo()
    return home
