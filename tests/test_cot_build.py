"""CoT construction with a scripted teacher: captions -> concepts -> Table 5 prompt, resampling and filters,
resuming after a crash; the OpenAI-compatible and transformers teachers on a loopback server and a tiny model."""

import http.server
import io
import json
import threading
from contextlib import contextmanager

import pytest
from PIL import Image

from finebench.data.registry import get_dataset
from finebench.scoring.encoders import load_encoder
from finebench.trainers.concepts import candidate_concepts, select_concepts
from finebench.trainers.cot_build import CotSettings, build_cot
from finebench.trainers.cot_checks import is_mixed_language, options_of, rejection
from finebench.trainers.sft import load_sft_rows
from finebench.trainers.teachers import HFTeacher, OpenAITeacher, load_teacher

PET = get_dataset("pet")
ALWAYS_UNTAGGED = "Persian"


def structured(prediction: str, options: str, analysis: str = "Long fur, a flat face.") -> str:
    return (f"<analysis>{analysis}</analysis><options>{options}</options>"
            f"<comparison>Only one of them has this coat.</comparison><prediction>{prediction}</prediction>")


class ScriptedTeacher:
    """Captions name the class; CoT answers go wrong, then mixed-language, then right (one class never tags)."""

    name = "scripted"

    def __init__(self, fail_after: int | None = None):
        self.calls, self.fail_after, self.attempts = 0, fail_after, {}
        self.prompts = []

    def chat(self, image, prompt, n, temperature, max_tokens):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise KeyboardInterrupt("the teacher went away")
        self.prompts.append(prompt)
        if not prompt.startswith("This is a picture of a "):
            return ["The image shows a cat with a fluffy coat. Its eyes are round and copper coloured. "
                    "It sits on a red sofa."] * n
        label = prompt[len("This is a picture of a "):].split(" with the following visual features")[0]
        other = "Bengal" if label != "Bengal" else "Sphynx"
        attempt = self.attempts[label] = self.attempts.get(label, 0) + 1
        if label == ALWAYS_UNTAGGED:
            return [f"I think it is a {label}."] * n
        answers = {1: structured(other, f"{label}, {other}"), 2: structured(label, f"- {label}\n- {other}", "长毛")}
        return [answers.get(attempt, structured(label, f"1. {label}\n2. {other}"))] * n


def test_build_resamples_filters_and_resumes(prepared_home, manifests, tmp_path):
    seen = sorted(manifests["pet", "seen"].classes)
    output = tmp_path / "cot"
    settings = CotSettings(captions=3, concepts=2, attempts=3)
    crashing = ScriptedTeacher(fail_after=10)
    with pytest.raises(KeyboardInterrupt):
        build_cot(crashing, ["pet"], output, settings=settings, encoder="minilm", home=prepared_home)
    finished_before = len((output / "progress.jsonl").read_text().splitlines())
    assert finished_before == 1 and not (output / "cot_sft.jsonl").exists()

    teacher = ScriptedTeacher()
    summary = build_cot(teacher, ["pet"], output, settings=settings, encoder="minilm", home=prepared_home)
    # only the images not done before: 3 captions and 3 CoT samples each (wrong, mixed language, right)
    assert teacher.calls == (len(seen) - finished_before) * (3 + 3)
    assert summary.images == len(seen) and summary.kept == len(seen) - 1 and summary.dropped == 1
    assert summary.rejections == {"wrong_prediction": len(seen) - 1, "mixed_language": len(seen) - 1,
                                  "missing_tags": 3}
    stats = json.loads((output / "cot_stats.json").read_text())
    assert stats["kept"] == len(seen) - 1 and stats["captions"] == 3 * len(seen)
    first_prompt = next(p for p in teacher.prompts if p.startswith("This is a picture of a"))
    assert "Question: " in first_prompt and "<prediction>predicted subcategory here </prediction>" in first_prompt
    rows = load_sft_rows(output / "cot_sft.jsonl")
    assert len(rows) == len(seen) - 1 and rows[0]["images"][0].size[0] > 0
    records = [json.loads(line) for line in (output / "cot_sft.jsonl").open()]
    for record in records:
        completion = record["completion"][0]["content"][0]["text"]
        assert record["class_name"] in seen and record["class_name"] != ALWAYS_UNTAGGED
        assert completion.startswith("<think> Analysis of Visual Features:")
        assert completion.endswith(f"</think>\n\n<answer>{record['class_name']}</answer>")


def test_checks_of_a_structured_answer():
    names = PET.class_names
    assert rejection("no tags at all", "Bengal", names) == "missing_tags"
    assert rejection(structured("Bengal or Sphynx", "Bengal, Sphynx"), "Bengal", names) == "wrong_prediction"
    assert rejection(structured("Bengal", "Sphynx, Persian"), "Bengal", names) == "prediction_not_in_options"
    assert rejection(structured("Bengal", "Bengal, Sphynx", "斑点 coat"), "Bengal", names) == "mixed_language"
    assert rejection(structured("It is a bengal.", "1. Bengal\n2. Sphynx"), "Bengal", names) is None
    assert options_of("- Bengal\n* Sphynx; 3) Persian, Ragdoll.") == ["Bengal", "Sphynx", "Persian", "Ragdoll"]
    assert not is_mixed_language("Crème brûlée coloured coat") and is_mixed_language("A Привет cat")


def test_concepts_pool_captions_and_drop_redundant_ones():
    captions = ["The image shows a bird with a red crest. It has a black mask around the beak.",
                "A bird with a red crest perches on a branch. The tail is long and red.",
                "1. A bright red crest on the head\n2. Black mask around the beak"]
    candidates = candidate_concepts(captions)
    assert "a bird with a red crest" in candidates and "It has a black mask around the beak" in candidates
    assert candidates["Black mask around the beak"] == {2} and candidates["a bird with a red crest"] == {0}
    kept = select_concepts(captions, "Northern Cardinal", "bird", load_encoder("minilm"), keep=2)
    # the crest, said three times, is kept once; the second concept is the mask, not a crest paraphrase
    assert sum("crest" in concept for concept in kept) == 1 and sum("mask" in concept for concept in kept) == 1
    assert sum("crest" in concept for concept in select_concepts(
        captions, "Northern Cardinal", "bird", load_encoder("minilm"), keep=2, relevance_weight=1.0)) == 2


@contextmanager
def chat_server(answer):
    """A loopback OpenAI-compatible server: answer(request body) -> the choices' texts; yields its /v1 URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            choices = [{"index": i, "message": {"role": "assistant", "content": text}}
                       for i, text in enumerate(answer(body))]
            payload = json.dumps({"choices": choices}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (56, 56), "red").save(buffer, format="PNG")
    return buffer.getvalue()


def test_openai_teacher_sends_the_image_and_asks_again_when_n_is_ignored():
    bodies = []

    def one_choice_whatever_n_says(body):
        bodies.append(body)
        return [f"answer {len(bodies)}"]

    with chat_server(one_choice_whatever_n_says) as url:
        teacher = load_teacher(f"openai:{url}:teacher-32b")
        assert isinstance(teacher, OpenAITeacher) and teacher.model == "teacher-32b"
        assert teacher.chat(png(), "Describe it.", 2, 0.7, 64) == ["answer 1", "answer 2"]
    assert bodies[0]["model"] == "teacher-32b" and bodies[0]["n"] == 2 and bodies[1]["n"] == 1
    parts = bodies[0]["messages"][0]["content"]
    assert parts[0]["image_url"]["url"].startswith("data:image/jpeg;base64,") and parts[1]["text"] == "Describe it."


def test_hf_teacher_samples_from_a_local_model(tmp_path):
    from finebench.harness.tinymodel import build_tiny_qwen2_5_vl

    teacher = HFTeacher(str(build_tiny_qwen2_5_vl(tmp_path / "tiny")), device="cpu")
    answers = teacher.chat(png(), "Describe the bird.", 2, 1.0, 4)
    assert len(answers) == 2 and all(isinstance(answer, str) for answer in answers)


def test_unknown_teacher_is_explained():
    from finebench.errors import FinebenchError

    with pytest.raises(FinebenchError, match="openai:<base url>:<model>"):
        load_teacher("gpt")


def test_cot_command_with_an_openai_compatible_teacher(prepared_home, manifests, tmp_path, monkeypatch, capsys):
    from finebench.cli import main

    scripted = ScriptedTeacher()

    def scripted_answers(body):
        prompt = body["messages"][0]["content"][1]["text"]
        return scripted.chat(None, prompt, body["n"], body["temperature"], body["max_tokens"])

    monkeypatch.setenv("FINEBENCH_HOME", str(prepared_home))
    with chat_server(scripted_answers) as url:
        assert main(["train", "cot", "--teacher", f"openai:{url}:scripted", "--datasets", "pet", "--captions", "2",
                     "--attempts", "3", "--encoder", "minilm", "--output", str(tmp_path / "cot")]) == 0
    seen = manifests["pet", "seen"].classes
    report = capsys.readouterr().out
    assert f"kept {len(seen) - 1}, dropped 1" in report and "missing_tags 3" in report
    assert len((tmp_path / "cot" / "cot_sft.jsonl").read_text().splitlines()) == len(seen) - 1
