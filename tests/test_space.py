"""`finebench leaderboard space OUT`: the folder, copied alone elsewhere, installs in a fresh venv from its own
requirements and serves the leaderboard, driven in headless Chromium: the table, a filter, Details, Compare, and
a submission that lands in the queue. And what a Space refuses: local folders, no token."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from chromium import choose, click_tab, free_port, page_text, type_into, wait_for
from test_conditions import STRONG, WEAK, entry_with_lines, publish_all

from finebench.leaderboard.queue import Queue
from finebench.leaderboard.space import read_constraints
from finebench.leaderboard.storage import LocalStorage

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ARTIFACTS = REPO / "test-artifacts"


def write_space(output: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([BIN / "finebench", "leaderboard", "space", str(output), *flags], capture_output=True,
                          text=True, timeout=300)


def front_matter(readme: Path) -> dict:
    return yaml.safe_load(readme.read_text().split("---\n")[1])


def test_the_folder_declares_what_spaces_read_and_pins_only_what_the_app_needs(tmp_path):
    written = write_space(tmp_path / "space", "--queue", "hf://datasets/lab/queue", "--results",
                          "hf://datasets/lab/results", "--title", "finebench test")
    assert written.returncode == 0, written.stderr
    space, pins = tmp_path / "space", read_constraints(REPO / "constraints.txt")
    meta = front_matter(space / "README.md")
    assert meta["sdk"] == "gradio" and meta["sdk_version"] == pins["gradio"] and meta["app_file"] == "app.py"
    assert meta["python_version"] == f"{sys.version_info.major}.{sys.version_info.minor}"
    assert meta["title"] == "finebench test"
    required = dict(line.split("==") for line in (space / "requirements.txt").read_text().splitlines()
                    if line and not line.startswith("#"))
    assert {"gradio", "pandas", "huggingface-hub", "pyarrow", "fastjsonschema"} <= set(required)
    assert not {"torch", "lmms-eval", "transformers", "datasets", "vllm"} & set(required)
    assert all(pins[name] == version for name, version in required.items())  # as the lock pins them
    assert "hf://datasets/lab/queue" in (space / "app.py").read_text()
    assert not list(space.rglob("__pycache__")) and not (space / "finebench" / "cli").exists()
    assert (space / "finebench" / "leaderboard" / "app.py").is_file()
    assert list((space / "finebench" / "results" / "reported").glob("*.json"))

    again = write_space(space)
    assert again.returncode == 2 and "--force" in again.stderr
    (space / "mine.txt").write_text("an operator's own file")
    assert write_space(space, "--force").returncode == 0 and not (space / "mine.txt").exists()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("not a Space folder")
    refused = write_space(tmp_path / "other", "--force")  # --force replaces only a folder this command wrote
    assert refused.returncode == 2 and (tmp_path / "other" / "notes.txt").is_file()
    local = write_space(tmp_path / "local-default", "--queue", "/tmp/queue")
    assert local.returncode == 2 and "wiped at each restart" in local.stderr


def start_app(space: Path, port: int, **variables) -> subprocess.Popen:
    """`python app.py` from the Space's own venv, in a clean environment (no FINEBENCH_*, no PYTHONPATH), from
    another working folder: nothing of this checkout can leak in."""
    clean = {name: value for name, value in os.environ.items()
             if not name.startswith(("FINEBENCH_", "PYTHONPATH", "GRADIO_", "VIRTUAL_ENV", "SPACE_"))}
    return subprocess.Popen([str(space / ".venv" / "bin" / "python"), str(space / "app.py")],
                            env={**clean, "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False",
                                 **variables}, cwd="/", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


@pytest.mark.slow(seconds=50)
def test_the_space_folder_alone_installs_in_a_fresh_venv_and_serves_the_leaderboard(tmp_path, browser):
    assert write_space(tmp_path / "written").returncode == 0
    space = tmp_path / "elsewhere" / "space"
    shutil.copytree(tmp_path / "written", space)  # the folder alone, as uploaded to a Space
    publish_all(space / "data" / "results", [entry_with_lines("reference-strong", STRONG),
                                             entry_with_lines("small-images", WEAK,
                                                              model_args="pretrained=/m,max_pixels=262144")])
    subprocess.run([sys.executable, "-m", "venv", str(space / ".venv")], check=True, timeout=300)
    # --no-compile: what is installed is the same; byte-compiling all of gradio's tree up front was 15 s of CPU
    installed = subprocess.run([str(space / ".venv" / "bin" / "pip"), "install", "-q", "--no-compile", "-r",
                                str(space / "requirements.txt")], capture_output=True, text=True, timeout=1200)
    assert installed.returncode == 0, installed.stderr[-3000:]
    listed = subprocess.run([str(space / ".venv" / "bin" / "pip"), "list", "--format=freeze"], capture_output=True,
                            text=True, timeout=120).stdout.lower()
    assert "finebench" not in listed and "torch==" not in listed  # the app runs the copied code, no torch

    refused = start_app(space, free_port(), SPACE_ID="lab/finebench")  # a Space with nothing set
    output = refused.communicate(timeout=300)[0]
    assert refused.returncode == 2 and "restarts wipe" in output and "Traceback" not in output, output[-2000:]

    port = free_port()
    app = start_app(space, port)
    try:
        browser.get("about:blank")
        assert wait_for(lambda: _serving(port) or app.poll() is not None, timeout=300), "the app never served"
        assert app.poll() is None, app.communicate(timeout=30)[0][-3000:]
        drive_the_app(browser, f"http://127.0.0.1:{port}", space)
    finally:
        os.killpg(app.pid, signal.SIGTERM)
        app.wait(timeout=60)


def _serving(port: int) -> bool:
    import urllib.request

    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).status == 200
    except OSError:
        return False


def drive_the_app(browser, url: str, space: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    browser.get(url)
    table = lambda: browser.find_element("css selector", "#table-closed_accuracy").text
    assert wait_for(lambda: "Fine-R1-7B" in page_text(browser)), "the paper's rows never appeared"
    browser.find_element("css selector", "#subset input[value='lite']").click()  # our two entries are lite
    assert wait_for(lambda: "reference-strong" in table() and "small-images" in table()), table()
    assert "⚠ pixels" in table()  # the row evaluated with a smaller pixel budget is marked
    type_into(browser, "search", "strong")
    assert wait_for(lambda: "reference-strong" in table() and "small-images" not in table()), table()
    browser.save_screenshot(str(ARTIFACTS / "space-filtered.png"))

    click_tab(browser, "Details")
    choose(browser, "entry-choice", "reference-strong")
    provenance = lambda: browser.find_element("css selector", "#provenance").text
    assert wait_for(lambda: "reference settings" in provenance()), provenance()

    click_tab(browser, "Compare")
    choose(browser, "compare-a", "reference-strong")
    choose(browser, "compare-b", "small-images")
    browser.find_element("css selector", "#compare-button").click()
    note = lambda: browser.find_element("css selector", "#compare-note").text
    assert wait_for(lambda: "evaluated under different settings" in note()), note()
    browser.save_screenshot(str(ARTIFACTS / "space-compare.png"))

    click_tab(browser, "Submit")
    type_into(browser, "submit-model", "ground_truth")
    choose(browser, "submit-family", "reference responder")
    choose(browser, "submit-backend", "responder")
    type_into(browser, "submit-contact", "operator@example.org")
    browser.find_element("css selector", "#submit-button").click()
    status = lambda: browser.find_element("css selector", "#submit-status").text
    assert wait_for(lambda: "Submitted" in status()), status()
    queue = lambda: browser.find_element("css selector", "#queue-table").text
    assert wait_for(lambda: "ground_truth" in queue() and "PENDING" in queue()), queue()
    assert re.search(r"Workers.*0 seen", browser.find_element("css selector", "#workers-summary").text)
    browser.save_screenshot(str(ARTIFACTS / "space-submitted.png"))
    [request] = Queue(LocalStorage(space / "data" / "queue")).listing().requests
    assert (request.model, request.backend, request.contact) == ("ground_truth", "responder", "operator@example.org")
    time.sleep(0.5)
