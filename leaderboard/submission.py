"""Checking a submission before it enters the queue, and again before it is evaluated: names, paths,
weights (safetensors only), custom code (Python files, auto_map in any config), size. A Hub
revision is pinned to the commit it resolved to, and the worker fetches that commit."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from finebench.errors import FinebenchError
from finebench.harness.tasknames import RESPONDER_NAMES
from finebench.results.entries import FAMILIES
from finebench.scoring.protocols import Protocol

from .queue import Request
from .settings import Settings

HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
REVISION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
CONTACT = re.compile(r"^[^\s<>\"']{2,100}$")
PRECISIONS = ("bfloat16", "float16", "float32")
BACKENDS = {"hf": "qwen2_5_vl", "vllm": "vllm", "responder": None}
UNSAFE_WEIGHTS = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")


# Every file transformers reads an auto_map from (custom classes it would import with trust_remote_code).
CODE_CONFIGS = ("config.json", "tokenizer_config.json", "processor_config.json", "preprocessor_config.json",
                "image_processor_config.json", "video_preprocessor_config.json", "feature_extractor_config.json",
                "generation_config.json")
ARGUMENT_SEPARATORS = ",=\n\r"  # lmms-eval splits --model_args on ',' and '='


@dataclass(frozen=True)
class WeightsInfo:
    files: tuple[str, ...]
    total_bytes: int
    configs: dict  # file name -> its JSON, for each of CODE_CONFIGS present
    sha: str | None = None  # the commit a Hub revision resolved to


def _read_config(path: Path, name: str) -> dict:
    try:
        config = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as error:
        raise FinebenchError(f"{name} cannot be read as JSON ({error})", "fix the file and resubmit") from None
    return config if isinstance(config, dict) else {"_not_an_object": True}


def local_weights(path: Path) -> WeightsInfo:
    files = tuple(sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()))
    configs = {name: _read_config(path / name, name) for name in CODE_CONFIGS if (path / name).is_file()}
    size = sum((path / name).stat().st_size for name in files if name.endswith(".safetensors"))
    return WeightsInfo(files, size, configs)


def hub_weights(model: str, revision: str) -> WeightsInfo:
    """File list, safetensors size, code-bearing configs and resolved commit of a Hub model (needs the Hub)."""
    from huggingface_hub import HfApi, hf_hub_download

    info = HfApi().model_info(model, revision=revision, files_metadata=True)
    files = tuple(sibling.rfilename for sibling in info.siblings)
    size = sum(sibling.size or 0 for sibling in info.siblings if sibling.rfilename.endswith(".safetensors"))
    configs = {name: _read_config(Path(hf_hub_download(model, name, revision=info.sha)), name)
               for name in CODE_CONFIGS if name in files}
    return WeightsInfo(files, size, configs, info.sha)


def custom_code(weights: WeightsInfo) -> list[str]:
    """Where a model carries code transformers or vLLM would run with trust_remote_code: Python files, and
    auto_map in any config that can hold one."""
    return [name for name in weights.files if name.endswith(".py")] + \
        [f"auto_map in {name}" for name, config in weights.configs.items() if "auto_map" in config]


def _check_weights(model: str, weights: WeightsInfo, settings: Settings) -> None:
    unsafe = [name for name in weights.files if name.endswith(UNSAFE_WEIGHTS)]
    if unsafe or not any(name.endswith(".safetensors") for name in weights.files):
        raise FinebenchError(f"{model}: weights must be safetensors only (found {unsafe or 'no .safetensors file'})",
                             "convert the checkpoint with `save_pretrained(..., safe_serialization=True)` "
                             "and resubmit")
    code = custom_code(weights)
    if code and model not in settings.allow_custom_code:
        raise FinebenchError(f"{model} ships custom code ({', '.join(code[:5])}), which the leaderboard does not run",
                             "ask the operator to allow-list it (FINEBENCH_ALLOW_CUSTOM_CODE), or submit a model "
                             "supported by transformers itself")
    if weights.total_bytes > settings.max_model_bytes:
        raise FinebenchError(f"{model} has {weights.total_bytes / 2**30:.1f} GiB of weights, over the limit of "
                             f"{settings.max_model_bytes / 2**30:.0f} GiB", "submit a smaller model")


def _local_model(model: str, settings: Settings) -> Path:
    path = Path(model)
    if ".." in path.parts:
        raise FinebenchError(f"{model!r} contains '..'", "give the checkpoint's absolute path")
    resolved = path.expanduser().resolve()
    if any(character in str(resolved) for character in ARGUMENT_SEPARATORS):
        raise FinebenchError(f"{model!r} resolves to {str(resolved)!r}, whose ',', '=' or line break lmms-eval would "
                             "read as more model arguments", "rename the folder (letters, digits, - _ . /)")
    if not any(resolved.is_relative_to(root.resolve()) for root in settings.local_model_roots):
        raise FinebenchError(f"{model!r} is not under a folder the operator opened for local submissions",
                             "submit a Hugging Face model id, or ask the operator to add the folder to "
                             "FINEBENCH_LOCAL_MODEL_ROOTS")
    if not resolved.is_dir():
        raise FinebenchError(f"{model!r} is not a folder", "give the folder written by save_pretrained")
    return resolved


def validate_submission(model: str, revision: str, precision: str, family: str, backend: str, contact: str,
                        protocol: str, settings: Settings, check_hub=hub_weights) -> Request:
    """A Request ready for the queue, or a FinebenchError that says what to change."""
    model, revision, contact = model.strip(), (revision or "main").strip(), contact.strip()
    if backend not in BACKENDS:
        raise FinebenchError(f"unknown backend {backend!r}", f"choose among {', '.join(BACKENDS)}")
    if precision not in PRECISIONS:
        raise FinebenchError(f"unknown precision {precision!r}", f"choose among {', '.join(PRECISIONS)}")
    if family not in FAMILIES:
        raise FinebenchError(f"unknown family {family!r}", f"choose among {', '.join(FAMILIES)}")
    if protocol not in list(Protocol):
        raise FinebenchError(f"unknown protocol {protocol!r}", f"choose {' or '.join(Protocol)}")
    if not REVISION.match(revision) or ".." in revision:
        raise FinebenchError(f"revision {revision!r} is not a branch, tag or commit name",
                             "use e.g. main or a commit hash")
    if backend == "hf" and precision != "bfloat16":
        raise FinebenchError(f"the hf backend (lmms-eval's qwen2_5_vl) loads models in bfloat16 only, not {precision}",
                             "choose bfloat16, or the vllm backend, which loads the precision asked for")
    if not contact:
        raise FinebenchError("a contact (e-mail or Hugging Face user name) is required", "fill in the contact field")
    if not CONTACT.match(contact):
        raise FinebenchError(f"the contact must be 2 to 100 characters without spaces, quotes or <> "
                             f"({len(contact)} characters given)", "give an e-mail address or a Hugging Face user name")
    sha = None
    if backend == "responder":
        if model not in RESPONDER_NAMES:
            raise FinebenchError(f"{model!r} is not a reference responder",
                                 f"choose among {', '.join(RESPONDER_NAMES)}")
    elif model.startswith(("/", "~", ".")):
        folder = _local_model(model, settings)
        _check_weights(model, local_weights(folder), settings)
        # the checked folder, not what was typed: the worker has another cwd and home, and the request id
        # (the duplicate check) must not depend on how the path was spelled
        model = str(folder)
    elif HUB_ID.match(model):
        weights = check_hub(model, revision)
        _check_weights(model, weights, settings)
        sha = weights.sha
    elif model in RESPONDER_NAMES:
        raise FinebenchError(f"{model!r} is a reference responder, not a model to load",
                             "submit it with the backend 'responder' (--backend responder)")
    else:
        raise FinebenchError(f"{model!r} is neither a Hugging Face model id (owner/name) nor an absolute path",
                             "write it as owner/name, e.g. Qwen/Qwen2.5-VL-7B-Instruct")
    return Request(model=model, revision=revision, protocol=protocol, precision=precision, family=family,
                   backend=backend, contact=contact, lmms_eval_model=BACKENDS[backend] or model, sha=sha)


def recheck(request: Request, folder: Path, settings: Settings) -> None:
    """The submission's checks again, on the files the worker is about to load (a local folder can change
    after it was accepted; a Hub snapshot is checked as downloaded)."""
    _check_weights(request.model, local_weights(folder), settings)
