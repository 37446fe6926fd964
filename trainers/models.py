"""Loading the model a stage starts from (student, or the CoT teacher), with an error that says what to do."""

from __future__ import annotations

from finebench.errors import FinebenchError


def load_model_and_processor(location: str, dtype=None, **processor_options):
    """An image-text-to-text model and its processor from a Hub id or a folder."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    try:
        processor = AutoProcessor.from_pretrained(location, **processor_options)
        model = AutoModelForImageTextToText.from_pretrained(location, **({"dtype": dtype} if dtype else {}))
    except (OSError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise FinebenchError(f"cannot load the model {location!r} ({first_line})",
                             "pass a Hugging Face id the machine can download (e.g. Qwen/Qwen2.5-VL-3B-Instruct) or a "
                             "folder with config.json, safetensors weights and the processor files") from None
    return model, processor
