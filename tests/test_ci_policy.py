"""The suite's own rule: under CI a skipped test is a failure; elsewhere the skips are counted and explained."""

from pathlib import Path

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).with_name("conftest.py")
SKIPPING = """
import pytest

def test_runs():
    pass

def test_needs_input_that_is_absent():
    pytest.skip("official manifests not found at /nowhere")
"""


def test_a_skip_fails_under_ci(pytester, monkeypatch):
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(SKIPPING)
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*skipped under CI: official manifests not found at /nowhere*"])


def test_elsewhere_the_summary_counts_the_skips_and_says_why(pytester, monkeypatch):
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(SKIPPING)
    monkeypatch.delenv("CI", raising=False)
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*1 test(s) skipped: the suite did not run whole*",
                                 "*1 × official manifests not found at /nowhere*",
                                 "*under CI (CI=true) each of these is a failure*"])
