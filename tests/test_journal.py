"""The generation journal on its own: answers on disk chunk by chunk, served back after a crash, never
served when what determines them changed, a torn last line skipped; the journal command's listing and
clearing. (Through lmms-eval and a kill -9: test_resume.py.)"""

import json
from types import SimpleNamespace

import pytest

from finebench.errors import FinebenchError
from finebench.harness import journal
from finebench.harness.journal import Journal, clear, model_identity, summaries

TASK = "finegrained-lite_bird_seen_closed"


def data_home(root, fingerprint="a"):
    """A FINEBENCH_HOME whose prepared metadata gives bird_seen this fingerprint."""
    (root / "prepared").mkdir(parents=True)
    (root / "prepared" / "metadata.json").write_text(json.dumps({"units": {"bird_seen": {"fingerprint": fingerprint}}}))
    return root


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FINEBENCH_HOME", str(data_home(tmp_path / "home")))
    return tmp_path / "home"


def request(doc_id, task=TASK, prompt="Which bird?", settings=None):
    settings = settings or {"max_new_tokens": 16, "temperature": 0}
    return SimpleNamespace(task_name=task, doc_id=doc_id, idx=0, args=(prompt, settings, None, doc_id, task, "test"))


class Model:
    """Answers "answer <doc_id>" and remembers which doc_ids it was asked, chunk by chunk."""

    def __init__(self, fail_on_chunk=None):
        self.chunks, self.fail_on_chunk = [], fail_on_chunk

    def __call__(self, requests):
        if len(self.chunks) == self.fail_on_chunk:
            raise RuntimeError("the node went away")
        self.chunks.append([item.doc_id for item in requests])
        return [f"answer {item.doc_id}" for item in requests]


IDENTITY = model_identity("tests.Model", "seed=0")


def test_answers_are_served_back_by_a_new_process(home, tmp_path):
    requests = [request(doc_id) for doc_id in range(7)]
    first = Model()
    answers = Journal(tmp_path / "j", IDENTITY).generate(first, requests, chunk=3)
    assert answers == [f"answer {doc_id}" for doc_id in range(7)] and first.chunks == [[0, 1, 2], [3, 4, 5], [6]]
    again = Model()
    assert Journal(tmp_path / "j", IDENTITY).generate(again, requests, chunk=3) == answers and again.chunks == []


def test_a_crash_keeps_every_finished_chunk(home, tmp_path):
    requests = [request(doc_id) for doc_id in range(10)]
    with pytest.raises(RuntimeError):
        Journal(tmp_path / "j", IDENTITY).generate(Model(fail_on_chunk=2), requests, chunk=4)
    resumed = Model()
    answers = Journal(tmp_path / "j", IDENTITY).generate(resumed, requests, chunk=4)
    assert resumed.chunks == [[8, 9]] and answers == [f"answer {doc_id}" for doc_id in range(10)]


def test_a_line_torn_by_a_kill_is_generated_again(home, tmp_path):
    requests = [request(doc_id) for doc_id in range(4)]
    first = Journal(tmp_path / "j", IDENTITY)
    first.generate(Model(), requests, chunk=4)
    text = first.path.read_text()
    first.path.write_text(text[: text.rindex("\n", 0, len(text) - 1) + 20])  # the last line cut mid-way
    resumed, model = Journal(tmp_path / "j", IDENTITY), Model()
    assert resumed.skipped == 1
    resumed.generate(model, requests, chunk=4)
    assert model.chunks == [[3]]


@pytest.mark.parametrize("changed", ["prompt", "settings", "model", "data"])
def test_nothing_is_served_when_what_determines_the_answer_changed(home, tmp_path, monkeypatch, changed):
    Journal(tmp_path / "j", IDENTITY).generate(Model(), [request(0)], chunk=1)
    identity, item = IDENTITY, request(0)
    if changed == "prompt":
        item = request(0, prompt="Which bird is it?")
    elif changed == "settings":
        item = request(0, settings={"max_new_tokens": 16, "temperature": 0.7})
    elif changed == "model":
        identity = model_identity("tests.Model", "seed=1")
    else:  # the unit prepared again from other images
        monkeypatch.setenv("FINEBENCH_HOME", str(data_home(tmp_path / "reprepared", fingerprint="b")))
    model = Model()
    Journal(tmp_path / "j", identity).generate(model, [item], chunk=1)
    assert model.chunks == [[0]]


def test_a_retrained_local_checkpoint_starts_a_new_journal(tmp_path):
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    (checkpoint / "model.safetensors").write_bytes(b"1")
    before = model_identity("qwen2_5_vl", f"pretrained={checkpoint},device=cpu")
    (checkpoint / "model.safetensors").write_bytes(b"22")
    assert journal.identity_id(before) != journal.identity_id(model_identity("qwen2_5_vl", f"pretrained={checkpoint}"
                                                                                         ",device=cpu"))


def test_other_benchmarks_tasks_are_never_journaled(home, tmp_path):
    model = Model()
    for _ in range(2):
        Journal(tmp_path / "j", IDENTITY).generate(model, [request(0, task="mmmu_val")], chunk=1)
    assert model.chunks == [[0], [0]] and not list((tmp_path / "j").rglob("rank-*.jsonl"))


def test_chunks_follow_the_models_batch(monkeypatch):
    assert journal.chunk_size(SimpleNamespace(batch_size_per_gpu=256)) == 256
    assert journal.chunk_size(SimpleNamespace(batch_size=1)) == journal.CHUNK_DEFAULT
    monkeypatch.setenv(journal.CHUNK_VARIABLE, "5")
    assert journal.chunk_size(SimpleNamespace(batch_size=64)) == 5


def test_list_and_clear(home, tmp_path):
    Journal(tmp_path / "j", IDENTITY).generate(Model(), [request(0), request(1)], chunk=2)
    other = model_identity("tests.Model", "seed=1")
    Journal(tmp_path / "j", other).generate(Model(), [request(0)], chunk=2)
    rows = {row["model_args"]: row for row in summaries(tmp_path / "j")}
    assert rows["seed=0"]["answers"] == 2 and rows["seed=1"]["answers"] == 1
    with pytest.raises(FinebenchError, match="journal list"):
        clear(tmp_path / "j", ["nonsense"])
    assert clear(tmp_path / "j", [rows["seed=1"]["id"]]) == [rows["seed=1"]["id"]]
    assert [row["model_args"] for row in summaries(tmp_path / "j")] == ["seed=0"]
    clear(tmp_path / "j")
    assert summaries(tmp_path / "j") == []
