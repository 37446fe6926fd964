import json

import pytest

from finebench.errors import FinebenchError
from finebench.leaderboard.settings import Settings
from finebench.leaderboard.submission import WeightsInfo, validate_submission


@pytest.fixture
def settings(tmp_path):
    return Settings(results=(str(tmp_path / "results"),), queue=str(tmp_path / "queue"), runs_dir=tmp_path / "runs",
                    local_model_roots=(tmp_path / "models",), allow_custom_code=("org/trusted",),
                    max_model_bytes=10_000)


def checkpoint(folder, files=("model.safetensors",), config=None, size=100):
    folder.mkdir(parents=True)
    for name in files:
        (folder / name).write_bytes(b"0" * size)
    (folder / "config.json").write_text(json.dumps(config or {"model_type": "qwen2_5_vl"}))
    return str(folder)


def submit(settings, model, backend="hf", hub=None, **changes):
    values = {"revision": "main", "precision": "bfloat16", "family": "general MLLM", "backend": backend,
              "contact": "me@example.org", "protocol": "finebench", **changes}
    return validate_submission(model, values["revision"], values["precision"], values["family"], values["backend"],
                               values["contact"], values["protocol"], settings,
                               check_hub=hub or (lambda m, r: WeightsInfo(("model.safetensors", "config.json"), 10, {})))


def test_a_good_local_and_hub_submission(settings, tmp_path):
    request = submit(settings, checkpoint(tmp_path / "models" / "tiny"))
    assert request.lmms_eval_model == "qwen2_5_vl" and request.status == "PENDING"
    assert submit(settings, "Qwen/Qwen2.5-VL-7B-Instruct", backend="vllm").lmms_eval_model == "vllm"
    assert submit(settings, "ground_truth", backend="responder").lmms_eval_model == "ground_truth"


@pytest.mark.parametrize("model,message", [
    ("not a model", "neither a Hugging Face model id"),
    ("org/../../etc", "neither a Hugging Face model id"),
    ("/etc/../tmp/x", "contains '..'"),
    ("/somewhere/else", "not under a folder the operator opened"),
])
def test_bad_names_and_paths(settings, model, message):
    with pytest.raises(FinebenchError, match=message):
        submit(settings, model)


def test_weights_code_and_size_rules(settings, tmp_path):
    with pytest.raises(FinebenchError, match="safetensors only"):
        submit(settings, checkpoint(tmp_path / "models" / "pickled", files=("pytorch_model.bin",)))
    with pytest.raises(FinebenchError, match="safetensors only"):
        submit(settings, checkpoint(tmp_path / "models" / "mixed", files=("model.safetensors", "extra.pt")))
    custom = {"auto_map": {"AutoModel": "modeling.Model"}}
    with pytest.raises(FinebenchError, match="(?s)custom code.*FINEBENCH_ALLOW_CUSTOM_CODE"):
        submit(settings, checkpoint(tmp_path / "models" / "custom", config=custom))
    allowed = lambda m, r: WeightsInfo(("model.safetensors",), 10, {"config.json": custom})
    assert submit(settings, "org/trusted", hub=allowed).model == "org/trusted"
    with pytest.raises(FinebenchError, match="over the limit"):
        submit(settings, checkpoint(tmp_path / "models" / "big", size=20_000))


def test_form_fields(settings):
    for changes, message in (({"revision": "../main"}, "not a branch"), ({"contact": ""}, "contact"),
                             ({"precision": "int3"}, "precision"), ({"family": "alien"}, "family"),
                             ({"backend": "tpu"}, "backend"), ({"protocol": "paper"}, "protocol")):
        arguments = {"backend": "responder", **changes}
        with pytest.raises(FinebenchError, match=message):
            submit(settings, "ground_truth", **arguments)
    with pytest.raises(FinebenchError, match="not a reference responder"):
        submit(settings, "smartest_option", backend="responder")


def test_a_relative_path_is_stored_absolute_and_is_the_same_request(settings, tmp_path, monkeypatch):
    from finebench.leaderboard.queue import DuplicateRequest, Queue
    from finebench.leaderboard.storage import LocalStorage

    folder = checkpoint(tmp_path / "models" / "tiny")
    monkeypatch.chdir(tmp_path / "models")
    relative = submit(settings, "./tiny")
    assert relative.model == str((tmp_path / "models" / "tiny").resolve())  # the worker never sees "./" or "~"
    queue = Queue(LocalStorage(tmp_path / "queue"))
    queue.submit(relative)
    with pytest.raises(DuplicateRequest):
        queue.submit(submit(settings, folder))
    assert [r.model for r in queue.listing().requests] == [relative.model]


@pytest.mark.parametrize("carrier", ["tokenizer_config.json", "processor_config.json", "modeling_evil.py"])
def test_custom_code_is_found_in_every_file_that_can_carry_it(settings, tmp_path, carrier):
    folder = checkpoint(tmp_path / "models" / "sneaky")
    content = "import os\n" if carrier.endswith(".py") else json.dumps({"auto_map": {"AutoTokenizer": "t.T"}})
    (tmp_path / "models" / "sneaky" / carrier).write_text(content)
    with pytest.raises(FinebenchError, match=f"custom code .*{carrier}"):
        submit(settings, folder)


def test_a_folder_name_cannot_smuggle_model_arguments(settings, tmp_path):
    folder = checkpoint(tmp_path / "models" / "x,pretrained=" / "elsewhere")
    with pytest.raises(FinebenchError, match="more model arguments"):
        submit(settings, folder)


def test_messages_that_point_at_the_fix(settings):
    with pytest.raises(FinebenchError, match="--backend responder"):
        submit(settings, "first_option")
    with pytest.raises(FinebenchError, match="5000 characters given"):
        submit(settings, "ground_truth", backend="responder", contact="x" * 5000)
    with pytest.raises(FinebenchError, match="bfloat16 only"):
        submit(settings, "Qwen/Qwen2.5-VL-7B-Instruct", precision="float16")
    assert submit(settings, "Qwen/Qwen2.5-VL-7B-Instruct", backend="vllm", precision="float16").precision == "float16"


def test_the_worker_checks_again_and_passes_each_value_as_one_argument(settings, tmp_path):
    from finebench.harness.evalrun import PathLinks
    from finebench.harness.tasknames import protocol_tasks
    from finebench.leaderboard.worker import Evaluation, evaluation_arguments, model_arguments

    folder = checkpoint(tmp_path / "models" / "tiny")
    request = submit(settings, folder, backend="vllm", precision="float16")
    with PathLinks() as links:
        arguments = evaluation_arguments(request, tmp_path / "out", settings, links, Evaluation(lite=True))
    model_args = arguments[arguments.index("--model_args") + 1]
    assert model_args == f"model={folder},dtype=float16,trust_remote_code=False" and "--batch_size" not in arguments
    with PathLinks() as links:  # the operator's settings, after the request's own
        arguments = evaluation_arguments(request, tmp_path / "out", settings, links,
                                         Evaluation(model_args="tensor_parallel_size=2", batch_size=8))
    assert arguments[arguments.index("--model_args") + 1].endswith(",trust_remote_code=False,tensor_parallel_size=2")
    assert arguments[arguments.index("--batch_size") + 1] == "8"
    assert arguments[arguments.index("--tasks") + 1] == protocol_tasks(request.protocol)  # not lite: the benchmark
    with PathLinks() as links:  # the hf backend: the benchmark's pixel budget, not lmms-eval's smaller default
        arguments = evaluation_arguments(submit(settings, folder, revision="other"), tmp_path / "out", settings,
                                         links, Evaluation(lite=True))
    assert arguments[arguments.index("--model_args") + 1] == f"pretrained={folder},min_pixels=3136,max_pixels=12845056"
    with pytest.raises(FinebenchError, match="more arguments"):
        model_arguments({"pretrained": "/m,pretrained=/elsewhere"})
    (tmp_path / "models" / "tiny" / "model.safetensors").unlink()  # swapped for a pickle after acceptance
    (tmp_path / "models" / "tiny" / "pytorch_model.bin").write_bytes(b"0")
    with PathLinks() as links, pytest.raises(FinebenchError, match="safetensors only"):
        evaluation_arguments(request, tmp_path / "out", settings, links)


def test_a_hub_revision_is_pinned_to_its_commit(settings):
    pinned = lambda m, r: WeightsInfo(("model.safetensors",), 10, {}, sha="0123abcd" * 5)
    assert submit(settings, "Qwen/Qwen2.5-VL-7B-Instruct", hub=pinned).sha == "0123abcd" * 5
