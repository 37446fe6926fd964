"""The leaderboard in a real headless Chromium (Selenium + Debian's chromedriver) and through gradio_client.

Screenshots of every tab are saved to test-artifacts/ for a person to look at.
"""

import json
import random
import time
from pathlib import Path

import pandas as pd
import pytest
from chromium import choose, click_tab, free_port, page_text, wait_for

from finebench.leaderboard.app import build_app
from finebench.leaderboard.benchmark import synthetic_entry
from finebench.leaderboard.columns import DEFAULT_COLUMNS
from finebench.leaderboard.queue import Queue
from finebench.leaderboard.settings import Settings
from finebench.leaderboard.storage import LocalStorage
from finebench.results import entries

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
TABS = ["Closed-world accuracy", "Open-world similarity", "Open-world text inclusion", "Circular accuracy",
        "Per dataset", "Position bias", "Details", "Compare", "Submit", "About"]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("board")
    model = root / "models" / "tiny-vlm"
    model.mkdir(parents=True)
    (model / "model.safetensors").write_bytes(b"0" * 64)
    (model / "config.json").write_text(json.dumps({"model_type": "qwen2_5_vl"}))
    settings = Settings(results=(str(root / "results"),), queue=str(root / "queue"), runs_dir=root / "runs",
                        local_model_roots=(root / "models",))
    app = build_app(settings)
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}", settings, model, app
    app.close()


@pytest.mark.slow(seconds=25)
def test_the_app_in_chromium(served, browser):
    url, settings, model, _ = served
    ARTIFACTS.mkdir(exist_ok=True)
    browser.get(url)
    assert wait_for(lambda: "Fine-R1-7B" in page_text(browser)), "the bundled rows never appeared"
    assert "SigLIP-L (384)" in page_text(browser) and "88.71" in page_text(browser)
    for title in TABS:
        click_tab(browser, title)
        time.sleep(1.0)
        browser.save_screenshot(str(ARTIFACTS / f"tab-{title.lower().replace(' ', '-')}.png"))
    click_tab(browser, "Closed-world accuracy")
    search = browser.find_element("css selector", "#search textarea, #search input")
    search.send_keys("Qwen2.5")
    table = lambda: browser.find_element("css selector", "#table-closed_accuracy").text
    assert wait_for(lambda: "Qwen2.5-VL-7B" in table() and "Fine-R1-7B" not in table()), table()
    browser.save_screenshot(str(ARTIFACTS / "filtered.png"))

    click_tab(browser, "Submit")
    browser.find_element("css selector", "#submit-model textarea, #submit-model input").send_keys(str(model))
    browser.find_element("css selector", "#submit-contact textarea, #submit-contact input").send_keys("me@example.org")
    browser.find_element("css selector", "#submit-button").click()
    status = lambda: browser.find_element("css selector", "#submit-status").text
    assert wait_for(lambda: "Submitted" in status()), status()
    queue_table = lambda: browser.find_element("css selector", "#queue-table").text
    assert wait_for(lambda: "PENDING" in queue_table() and "tiny-vlm" in queue_table()), queue_table()
    browser.save_screenshot(str(ARTIFACTS / "submitted.png"))
    [request] = Queue(LocalStorage(settings.queue)).listing().requests
    assert request.model == str(model) and request.contact == "me@example.org"


def test_the_same_submission_through_gradio_client(served):
    from gradio_client import Client

    url, settings, _, _ = served
    client = Client(url, verbose=False)
    arguments = dict(model="ground_truth", revision="main", precision="bfloat16", family="reference responder",
                     backend="responder", contact="api@example.org", protocol="official")
    accepted = client.predict(*arguments.values(), api_name="/submit")
    assert "Submitted" in accepted
    refused = client.predict(*arguments.values(), api_name="/submit")
    assert "Refused" in refused and "already submitted" in refused
    models = [r.model for r in Queue(LocalStorage(settings.queue)).listing().requests]
    assert models.count("ground_truth") == 1


def test_reload_shows_an_entry_published_after_the_start(served):
    """The worker publishes while the app runs: the Reload results button reads the folders again."""
    from gradio_client import Client

    url, settings, _, app = served
    entry = synthetic_entry(0, random.Random(0))
    entry["model"]["name"] = "published-after-start"
    entries.write(entry, Path(settings.results[0]) / entries.file_name(entry))
    board = app.leaderboard
    assert "published-after-start" not in set(board.frames["Closed-world accuracy"]["model"])
    client = Client(url, verbose=False)
    outputs = client.predict("", [], [], [], [], [], DEFAULT_COLUMNS, "full", [], False, "aircraft",
                             api_name="/reload")
    shown = next(iter(outputs)) if isinstance(outputs, (list, tuple)) else outputs
    assert "published-after-start" in json.dumps(shown, default=str)  # the first table the button redraws
    assert any(key.startswith("published-after-start · ") for key in board.by_key)  # and the Details choices
    assert "published-after-start" in set(board.view("Closed-world accuracy", "published", [], [], [], [], [], None)
                                           ["model"])


def test_csv_download_is_the_filtered_table(served):
    from gradio_client import Client

    url, _, _, app = served
    client = Client(url, verbose=False)
    first = client.predict("", [], [], [], [], [], DEFAULT_COLUMNS, "full", [], False, api_name="/download")
    again = client.predict("", [], [], [], [], [], DEFAULT_COLUMNS, "full", [], False, api_name="/download")
    table = pd.read_csv(first)
    assert list(table["model"]) == list(app.leaderboard.view("Closed-world accuracy", "", [], [], [], [], [], None)
                                        ["model"])
    assert Path(first).read_bytes() == Path(again).read_bytes()


def test_lite_entries_are_ranked_on_their_own_and_shown_apart():
    from finebench.leaderboard import data

    rng = random.Random(1)
    full, lite = synthetic_entry(0, rng), synthetic_entry(1, rng)
    lite["subset"], lite["model"]["name"], lite["model"]["family"] = "lite", "lite-run", None
    frame = data.metric_frame([full, lite], "closed_accuracy")
    assert list(frame.sort_values("subset")["rank"]) == [1, 1]  # each first in its own subset
    assert list(data.filter_frame(frame)["model"]) == [full["model"]["name"]]  # full-benchmark rows by default
    shown = data.filter_frame(frame, subset="lite")
    assert list(shown["model"]) == ["lite-run"] and list(shown["family"]) == ["unspecified"]


HOSTILE = "<img src=x onerror=alert(1)>[verified](https://evil.example) **bold** # heading"


def test_untrusted_names_are_shown_as_text_never_as_markup(served, browser):
    """A submitter chooses the model's name: the table and the Details view show it as the characters it is."""
    url, settings, _, app = served
    entry = synthetic_entry(7, random.Random(7))
    entry["model"]["name"] = entry["model"]["id"] = HOSTILE
    entries.write(entry, Path(settings.results[0]) / entries.file_name(entry))
    browser.get(url)
    assert wait_for(lambda: "Fine-R1-7B" in page_text(browser))
    browser.find_element("css selector", "#reload-results").click()
    table = lambda: browser.find_element("css selector", "#table-closed_accuracy")
    assert wait_for(lambda: "[verified](https://evil.example)" in table().text), table().text
    click_tab(browser, "Details")
    choose(browser, "entry-choice", "verified")
    provenance = lambda: browser.find_element("css selector", "#provenance")
    assert wait_for(lambda: "[verified](https://evil.example) **bold** # heading" in provenance().text), \
        provenance().text
    browser.save_screenshot(str(ARTIFACTS / "untrusted-name.png"))
    for area in (table(), provenance()):
        assert not area.find_elements("css selector", "img, a[href*='evil'], h1")
        assert "bold" not in [strong.text for strong in area.find_elements("css selector", "strong")]
    assert HOSTILE in provenance().text  # every character shown, < and > included
