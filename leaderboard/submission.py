"""Checking a submission before it enters the queue: names, paths, weights, code, size."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from finebench.errors import FinebenchError
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


@dataclass(frozen=True)
class WeightsInfo:
    files: tuple[str, ...]
    total_bytes: int
    config: dict


def local_weights(path: Path) -> WeightsInfo:
    files = tuple(sorted(p.name for p in path.iterdir() if p.is_file()))
    config = json.loads((path / "config.json").read_text()) if (path / "config.json").is_file() else {}
    size = sum((path / name).stat().st_size for name in files if name.endswith(".safetensors"))
    return WeightsInfo(files, size, config)


def hub_weights(model: str, revision: str) -> WeightsInfo:
    """File list, safetensors size and config of a Hub model (needs network access)."""
    from huggingface_hub import HfApi, hf_hub_download

    info = HfApi().model_info(model, revision=revision, files_metadata=True)
    files = tuple(sibling.rfilename for sibling in info.siblings)
    size = sum(sibling.size or 0 for sibling in info.siblings if sibling.rfilename.endswith(".safetensors"))
    config = json.loads(Path(hf_hub_download(model, "config.json", revision=revision)).read_text()) \
        if "config.json" in files else {}
    return WeightsInfo(files, size, config)


def _check_weights(model: str, weights: WeightsInfo, settings: Settings) -> None:
    unsafe = [name for name in weights.files if name.endswith(UNSAFE_WEIGHTS)]
    if unsafe or not any(name.endswith(".safetensors") for name in weights.files):
        raise FinebenchError(f"{model}: weights must be safetensors only (found {unsafe or 'no .safetensors file'})",
                             "convert the checkpoint with `save_pretrained(..., safe_serialization=True)` "
                             "and resubmit")
    if weights.config.get("auto_map") and model not in settings.allow_custom_code:
        raise FinebenchError(f"{model} ships custom code (auto_map in config.json), which the leaderboard "
                             "does not run",
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
    if not CONTACT.match(contact):
        raise FinebenchError("a contact (e-mail or Hugging Face user name) is required", "fill in the contact field")
    if backend == "responder":
        from finebench.harness.responders import RESPONDERS  # imports lmms-eval: only when a responder is asked for

        if model not in RESPONDERS:
            raise FinebenchError(f"{model!r} is not a reference responder", f"choose among {', '.join(RESPONDERS)}")
    elif model.startswith(("/", "~", ".")):
        folder = _local_model(model, settings)
        _check_weights(model, local_weights(folder), settings)
        # the checked folder, not what was typed: the worker has another cwd and home, and the request id
        # (the duplicate check) must not depend on how the path was spelled
        model = str(folder)
    elif HUB_ID.match(model):
        _check_weights(model, check_hub(model, revision), settings)
    else:
        raise FinebenchError(f"{model!r} is neither a Hugging Face model id (owner/name) nor an absolute path",
                             "write it as owner/name, e.g. Qwen/Qwen2.5-VL-7B-Instruct")
    return Request(model=model, revision=revision, protocol=protocol, precision=precision, family=family,
                   backend=backend, contact=contact, lmms_eval_model=BACKENDS[backend] or model)
