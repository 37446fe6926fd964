"""The paper's baselines by name: hub ids, family, size, and how lmms-eval runs each.

`finebench baselines list` shows this table; `finebench baselines run NAME` runs one and
ingests the result. The HF path uses lmms-eval's model for the architecture, the vLLM
path lmms-eval's `vllm` model; the CLIP-like models run as `finebench_clip`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from finebench.errors import FinebenchError
from finebench.results.conditions import REFERENCE_PIXELS


@dataclass(frozen=True)
class Baseline:
    name: str
    hub_id: str
    family: str
    parameters: float | None  # billions
    hf_model: str | None  # lmms-eval model name for the Hugging Face path (None: not available there)
    hf_args: dict = field(default_factory=dict)
    vllm_args: dict = field(default_factory=dict)
    note: str = ""

    @property
    def backends(self) -> tuple[str, ...]:
        if self.family == "CLIP-like":
            return ("clip",)
        return (("hf",) if self.hf_model else ()) + ("vllm",)

    def lmms_eval_arguments(self, backend: str, extra_model_args: str = "") -> list[str]:
        """--model and --model_args for lmms-eval; extra_model_args (k=v,…, e.g. device_map=auto) go last."""
        if backend not in self.backends:
            raise FinebenchError(f"{self.name} has no {backend!r} backend", f"use one of {', '.join(self.backends)}")
        if backend == "clip":
            model, arguments = "finebench_clip", dict(self.hf_args)
        elif backend == "hf":
            model, arguments = self.hf_model, {"pretrained": self.hub_id, **self.hf_args}
        else:
            model, arguments = "vllm", {"model": self.hub_id, **self.vllm_args}
        batch = ["--batch_size", "64"] if backend == "clip" else []  # images are encoded in batches
        model_args = ",".join(f"{k}={v}" for k, v in arguments.items())
        if extra_model_args:  # the caller's additions go last, so lmms-eval lets them override ours
            model_args = f"{model_args},{extra_model_args}"
        return ["--model", model, "--model_args", model_args, *batch]


QWEN_PIXELS = dict(zip(("min_pixels", "max_pixels"), REFERENCE_PIXELS))  # the benchmark's pixel budget
_QWEN_VLLM = {"max_pixels": REFERENCE_PIXELS[1]}

BASELINES = {b.name: b for b in (
    Baseline("CLIP-L", "openai/clip-vit-large-patch14-336", "CLIP-like", None, None, {"name": "clip-l"}),
    Baseline("EVA-G", "timm/eva_giant_patch14_clip_224.laion400m", "CLIP-like", None, None, {"name": "eva-g"}),
    Baseline("SigLIP-L", "google/siglip-large-patch16-384", "CLIP-like", None, None, {"name": "siglip-l"}),
    Baseline("SigLIP2-L", "google/siglip2-large-patch16-384", "CLIP-like", None, None, {"name": "siglip2-l"}),
    Baseline("Idefics2-8B", "HuggingFaceM4/idefics2-8b", "general MLLM", 8, "idefics2"),
    Baseline("Idefics3-8B", "HuggingFaceM4/Idefics3-8B-Llama3", "general MLLM", 8, None,
             note="lmms-eval has no Hugging Face backend for Idefics3: use --backend vllm"),
    Baseline("LLaVA-v1.6-Mistral-7B", "llava-hf/llava-v1.6-mistral-7b-hf", "general MLLM", 7, "llava_hf"),
    Baseline("LLaVA-OneVision-7B", "lmms-lab/llava-onevision-qwen2-7b-ov", "general MLLM", 7, "llava_onevision",
             {"conv_template": "qwen_1_5", "model_name": "llava_qwen"}),
    Baseline("InternVL2.5-2B", "OpenGVLab/InternVL2_5-2B", "general MLLM", 2, "internvl2", {},
             {"trust_remote_code": True}),
    Baseline("InternVL2.5-4B", "OpenGVLab/InternVL2_5-4B", "general MLLM", 4, "internvl2", {},
             {"trust_remote_code": True}),
    Baseline("InternVL2.5-8B", "OpenGVLab/InternVL2_5-8B", "general MLLM", 8, "internvl2", {},
             {"trust_remote_code": True}),
    Baseline("Qwen2-VL-2B", "Qwen/Qwen2-VL-2B-Instruct", "general MLLM", 2, "qwen2_vl", QWEN_PIXELS, _QWEN_VLLM),
    Baseline("Qwen2-VL-7B", "Qwen/Qwen2-VL-7B-Instruct", "general MLLM", 7, "qwen2_vl", QWEN_PIXELS, _QWEN_VLLM),
    Baseline("Qwen2.5-VL-3B", "Qwen/Qwen2.5-VL-3B-Instruct", "general MLLM", 3, "qwen2_5_vl", QWEN_PIXELS,
             _QWEN_VLLM),
    Baseline("Qwen2.5-VL-7B", "Qwen/Qwen2.5-VL-7B-Instruct", "general MLLM", 7, "qwen2_5_vl", QWEN_PIXELS,
             _QWEN_VLLM),
    Baseline("DeepPerception-7B", "MaxyLee/DeepPerception", "reasoning MLLM", 7, "qwen2_vl", QWEN_PIXELS,
             _QWEN_VLLM),
    Baseline("Fine-R1-3B", "StevenHH2000/Fine-R1-3B", "Fine-R1", 3, "qwen2_5_vl", QWEN_PIXELS, _QWEN_VLLM),
    Baseline("Fine-R1-7B", "StevenHH2000/Fine-R1-7B", "Fine-R1", 7, "qwen2_5_vl", QWEN_PIXELS, _QWEN_VLLM),
)}


def get_baseline(name: str) -> Baseline:
    matches = [b for key, b in BASELINES.items() if key.lower() == name.lower()]
    if not matches:
        raise FinebenchError(f"unknown baseline {name!r}", f"`finebench baselines list` shows the {len(BASELINES)}")
    return matches[0]


def table() -> str:
    header = f"{'name':<24}{'family':<16}{'size':>6}  {'backends':<10}  hub id"
    lines = [header] + [f"{b.name:<24}{b.family:<16}{(str(b.parameters) + 'B') if b.parameters else '-':>6}  "
                        f"{','.join(b.backends):<10}  {b.hub_id}{'  (' + b.note + ')' if b.note else ''}"
                        for b in BASELINES.values()]
    return "\n".join(lines)
