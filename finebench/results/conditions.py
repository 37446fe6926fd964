"""The conditions an entry was evaluated under, and whether two entries can be ranked or compared together.

Two runs of the same model differ by points when they decode differently or see the images at another
resolution: an independent study on the released benchmark (Fine-R1 repository, stage1_v1, 2026-06-20) warns
"do not compare fast-512 and matched-2048 outputs as if they were the same protocol" and pins the pixel
budget through training, inference and scoring. So every entry's conditions are read from what its run
recorded (the task's generation_kwargs, lmms-eval's --gen_kwargs and --model_args, the backend), and

    REFERENCE              the benchmark's own: greedy, 2048 new tokens (the released evaluation), images
                           between 3,136 and 12,845,056 pixels (the release's qwen_vl_utils defaults), bfloat16
    differences(a, b)      what two entries' recorded conditions disagree on, in words
    group(entry)           "reference", or a label shared by entries evaluated under the same other conditions:
                           the leaderboard ranks within a group, and compare judges significance within one

A condition a run did not record (the paper's transcribed rows, a backend whose defaults are unknown) is "not
recorded" and differs from nothing: only what is known is held against an entry. The backend is shown but not
compared: the same model under the hf and vLLM backends is the same protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

REFERENCE_PIXELS = (3136, 12845056)  # (min, max): the release's qwen_vl_utils defaults
REFERENCE_MAX_NEW_TOKENS = 2048
GREEDY = "greedy"
REFERENCE_LABEL = "reference"

# What lmms-eval 0.7.3's backends use when --model_args name no pixel budget or precision (their __init__ defaults).
BACKEND_PIXELS = {"qwen2_5_vl": (200704, 1605632), "qwen2_vl": (3136, 602112)}
BACKEND_PRECISION = {"qwen2_5_vl": "bfloat16", "qwen2_vl": "bfloat16"}
PRECISION_ARGUMENTS = ("dtype", "torch_dtype")
PRECISION_NAMES = {"bf16": "bfloat16", "fp16": "float16", "half": "float16", "fp32": "float32", "float": "float32"}


@dataclass(frozen=True)
class Conditions:
    max_new_tokens: int | None = None
    decoding: str | None = None  # "greedy", "sampling (temperature 0.7, top_p 0.9)", "beam search (4 beams)"
    pixels: tuple[int, int] | None = None  # (min, max) pixels per image
    precision: str | None = None
    backend: str | None = None  # shown, never held against an entry

    def described(self) -> dict[str, str]:
        """Each condition in words, for tables and Details ("not recorded" where the run did not say)."""
        return {"max new tokens": _or_unknown(self.max_new_tokens), "decoding": _or_unknown(self.decoding),
                "pixels": "not recorded" if self.pixels is None else f"{self.pixels[0]:,}–{self.pixels[1]:,}",
                "precision": _or_unknown(self.precision), "backend": _or_unknown(self.backend)}


COMPARED = tuple(field.name for field in fields(Conditions) if field.name != "backend")
REFERENCE = Conditions(REFERENCE_MAX_NEW_TOKENS, GREEDY, REFERENCE_PIXELS, "bfloat16")


def _or_unknown(value) -> str:
    return "not recorded" if value is None else str(value)


def parse_arguments(text: str | None) -> dict[str, str]:
    """lmms-eval's "k=v,k=v" (--model_args, --gen_kwargs) as it splits them."""
    return dict(part.split("=", 1) for part in str(text or "").split(",") if "=" in part)


def _number(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _decoding(generation: dict) -> str | None:
    """Greedy, sampling or beam search, as lmms-eval's Qwen backends decide it: temperature > 0 samples."""
    if not generation:
        return None
    temperature = _number(generation.get("temperature")) or 0.0
    beams = int(_number(generation.get("num_beams")) or 1)
    sampling = temperature > 0 or str(generation.get("do_sample")).lower() == "true" and "temperature" not in generation
    if sampling:
        top_p = _number(generation.get("top_p"))
        return f"sampling (temperature {temperature:g}" + (f", top_p {top_p:g})" if top_p and top_p < 1 else ")")
    return f"beam search ({beams} beams)" if beams > 1 else GREEDY


def _pixels(model_args: dict, backend: str | None) -> tuple[int, int] | None:
    default = BACKEND_PIXELS.get(backend or "")
    low, high = _number(model_args.get("min_pixels")), _number(model_args.get("max_pixels"))
    if default is None and (low is None or high is None):
        return None  # the backend's own default, which finebench does not know
    return (int(low) if low is not None else default[0], int(high) if high is not None else default[1])


def _precision(model_args: dict, backend: str | None) -> str | None:
    named = next((model_args[key] for key in PRECISION_ARGUMENTS if model_args.get(key)), None)
    if named is None:
        return BACKEND_PRECISION.get(backend or "")
    named = str(named).removeprefix("torch.").lower()
    return None if named == "auto" else PRECISION_NAMES.get(named, named)


def of(entry: dict) -> Conditions:
    """The conditions an entry's run recorded (ingest keeps the task's generation_kwargs, the --gen_kwargs
    override and --model_args in its provenance)."""
    provenance = entry.get("provenance") or {}
    backend = (entry.get("model") or {}).get("backend")
    generation = dict(provenance.get("generation") or {})
    generation.update(parse_arguments(provenance.get("cli_generation_override")))  # lmms-eval: the CLI wins
    model_args = parse_arguments(provenance.get("model_args"))
    tokens = _number(generation.get("max_new_tokens"))
    return Conditions(int(tokens) if tokens is not None else None, _decoding(generation),
                      _pixels(model_args, backend) if provenance.get("model_args") is not None else None,
                      _precision(model_args, backend) if provenance.get("model_args") is not None else None,
                      backend)


def differences(a: Conditions, b: Conditions) -> list[str]:
    """The compared conditions both record and disagree on, each as "name: a vs b"."""
    found = []
    for name in COMPARED:
        value_a, value_b = getattr(a, name), getattr(b, name)
        if value_a is not None and value_b is not None and value_a != value_b:
            words_a, words_b = a.described()[_label(name)], b.described()[_label(name)]
            found.append(f"{_label(name)}: {words_a} vs {words_b}")
    return found


def _label(name: str) -> str:
    return name.replace("_", " ")


def off_reference(conditions: Conditions) -> list[str]:
    """How an entry's recorded conditions depart from the benchmark's reference (empty: they do not)."""
    return differences(conditions, REFERENCE)


def group(conditions: Conditions) -> str:
    """The reference label, or one naming the departures: entries with the same label were evaluated alike."""
    departures = off_reference(conditions)
    if not departures:
        return REFERENCE_LABEL
    return "; ".join(departure.split(" vs ")[0] for departure in departures)
