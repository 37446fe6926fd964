"""Shared fixtures: the official manifests (read-only, from ../shared) and generated archives.

The suite runs on every core (pytest-xdist, `-n auto --dist loadscope` in pyproject.toml): each module is a
unit of work, so that its module-scoped fixtures are built once, on one worker. The order decides the suite's
length: the modules with the most `slow(seconds=…)` go first, so that no long one starts last and leaves the
other cores idle at the end. (Not `--dist loadgroup` with finer units: on pytest 9.2 xdist's groups are
silently ignored, pytest-dev/pytest-xdist#1386.)

Tests whose input is not beside the project (the manifests, the released CoT set, the
paper's text) skip on a developer's machine, and the summary at the end says how many
and why. Under CI (CI=true, which .ci/run sets) a skip is a failure: CI must never go
green on part of the suite.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections import Counter
from pathlib import Path

import pytest

from finebench.data.fixtures import write_archives
from finebench.data.manifests import load_manifests
from finebench.home import PROBES_VARIABLE

REPO = Path(__file__).resolve().parents[1]
MANIFEST_DIR = Path(os.environ.get("FINEBENCH_TEST_MANIFESTS", REPO.parent / "shared" / "reference" / "official-eval"))
SMALL_LINES = 12  # images per manifest in the small archives
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _skip_reason(report) -> str:
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    return reason.removeprefix("Skipped: ")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = (f"skipped under CI: {_skip_reason(report)}\n"
                           "CI must run the whole suite: put ../shared beside the clone (or set "
                           "FINEBENCH_TEST_MANIFESTS) so that nothing skips")


def pytest_terminal_summary(terminalreporter):
    skipped = terminalreporter.stats.get("skipped", [])
    if not skipped:
        return
    terminalreporter.section(f"{len(skipped)} test(s) skipped: the suite did not run whole", sep="!")
    for reason, count in Counter(_skip_reason(report) for report in skipped).most_common():
        terminalreporter.line(f"{count:>4} × {reason}")
    terminalreporter.line("under CI (CI=true) each of these is a failure")


def pytest_xdist_auto_num_workers(config) -> int:
    """`-n auto`: one worker per core this process may use, at most four (the heavy tests start processes of
    their own, and beyond four workers the longest test, not the cores, sets the suite's length)."""
    return max(1, min(4, len(os.sched_getaffinity(0))))


def _seconds(item) -> float:
    mark = item.get_closest_marker("slow")
    return float(mark.kwargs.get("seconds", 60)) if mark else 0.0


def pytest_collection_modifyitems(config, items):
    """The modules with the most `slow` seconds first; within a module, the tests as written."""
    weights: dict[str, float] = {}
    for item in items:
        weights[item.module.__name__] = weights.get(item.module.__name__, 0.0) + _seconds(item)
    items.sort(key=lambda item: -weights[item.module.__name__])  # stable


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


def run_folder(tmp_path_factory) -> Path:
    """The temporary folder of this run that every worker shares (each worker's own is inside it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session", autouse=True)
def one_probe_cache(tmp_path_factory):
    """The run's own remembered probes (not the user's), one folder for every worker: each home a test makes
    is the same installed environment, probed once, as a user's several homes are."""
    patch = pytest.MonkeyPatch()
    patch.setenv(PROBES_VARIABLE, str(run_folder(tmp_path_factory) / "probe-cache"))
    yield
    patch.undo()


@pytest.fixture(autouse=True)
def own_journal(tmp_path, monkeypatch) -> None:
    """Each test's evaluations journal into a folder of their own: answers one test made are never
    served to another that counts its model's calls."""
    monkeypatch.setenv("FINEBENCH_JOURNAL", str(tmp_path / "journal"))


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fresh FINEBENCH_HOME for one test."""
    path = tmp_path / "home"
    monkeypatch.setenv("FINEBENCH_HOME", str(path))
    monkeypatch.delenv("FINEBENCH_MANIFESTS", raising=False)
    return path


@pytest.fixture(scope="session")
def prepared_home(tmp_path_factory, manifests, manifest_dir) -> Path:
    """A FINEBENCH_HOME with every dataset prepared from tiny generated archives (about 20 s), made once per run:
    the first test worker that needs it makes it while the others wait, then all read it (what tests write there
    are caches, each file whole or not at all)."""
    root = run_folder(tmp_path_factory)
    home = root / "prepared-home"
    with open(root / "prepared-home.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (home / ".made").is_file():  # a worker that died making it left a part: made again
            shutil.rmtree(home, ignore_errors=True)
            _make_prepared_home(home, manifests, manifest_dir)
            (home / ".made").touch()
    return home


def _make_prepared_home(home: Path, manifests, manifest_dir: Path) -> None:
    from finebench.data.fewshot import prepare_fewshot
    from finebench.data.prepare import prepare

    write_archives(home / "archives", manifests, train_per_class=4, progress=False, workers=2)
    patch = pytest.MonkeyPatch()
    patch.setenv("FINEBENCH_HOME", str(home))
    try:
        prepare(home / "archives", manifest_dir, progress=False)
        prepare_fewshot(home / "archives", manifest_dir, seeds=[1])
    finally:
        patch.undo()


@pytest.fixture
def deployment(prepared_home, tmp_path, monkeypatch):
    """A leaderboard deployment in tmp_path (queue, results, runs) over the prepared stand-ins."""
    from finebench.leaderboard.queue import Queue
    from finebench.leaderboard.settings import Settings
    from finebench.leaderboard.storage import LocalStorage

    monkeypatch.setenv("FINEBENCH_HOME", str(prepared_home))
    monkeypatch.setenv("FINEBENCH_ENCODER", "minilm")
    settings = Settings(results=(str(tmp_path / "results"),), queue=str(tmp_path / "queue"),
                        runs_dir=tmp_path / "runs", stale_after_seconds=600)
    for key, value in {"FINEBENCH_LEADERBOARD_RESULTS": tmp_path / "results", "FINEBENCH_QUEUE": tmp_path / "queue",
                       "FINEBENCH_RUNS": tmp_path / "runs"}.items():
        monkeypatch.setenv(key, str(value))
    return settings, Queue(LocalStorage(settings.queue)), LocalStorage(settings.results[0])


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium for the browser tests (tests/chromium.py)."""
    from chromium import start_browser

    driver = start_browser()
    yield driver
    driver.quit()
