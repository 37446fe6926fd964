"""What every `finebench train` stage leaves behind: the model card beside the checkpoint, and the
checkpoints a rerun resumes from."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

from finebench import __version__, atomic
from finebench.harness.tasknames import BENCHMARK


def model_card(title: str, tag: str, base_model: str, data: Path, rows: int, seed: int, config: dict,
               method: Sequence[str] = ()) -> str:
    """Front matter, provenance (base, data, seed, date, version), the method, the config, how to evaluate."""
    return "\n".join([
        "---", "library_name: transformers", f"tags: [finebench, fine-grained-recognition, {tag}]", "---",
        f"# {Path(str(base_model)).name} + {title} (finebench)", "",
        f"- base model: `{base_model}`", f"- data: `{data}` ({rows} examples)", f"- seed: {seed}",
        f"- trained with finebench {__version__} on {datetime.now(timezone.utc).date()}",
        *[f"- {line}" for line in method],
        "- config:", "```json", json.dumps(config, indent=2, default=str), "```", "",
        "Evaluate and submit (finebench's docs: the reference trainer):", "",
        "```bash",
        f"finebench eval --model qwen2_5_vl --model_args pretrained=<this folder> --tasks {BENCHMARK} "
        "--log_samples --output_path runs/<name>",
        "finebench submit <this folder> --contact <you@example.org>",
        "```",
    ]) + "\n"


def last_checkpoint(folder: Path) -> str | None:
    """The newest checkpoint-N folder a previous run of the same command left, to resume from."""
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(folder)) if folder.is_dir() else None


def save_final(trainer, processor, final: Path, card: Callable[[], str]) -> Path:
    """Write the final model folder: weights, processor, model card, and nothing pickled.

    Every process takes part in save_model (ZeRO-3 and FSDP gather the weights there); one writes
    the rest. Trainer leaves training_args.bin, a pickle, which the leaderboard refuses as unsafe:
    it goes, the card holds the same settings as JSON.
    """
    trainer.save_model(str(final))
    if trainer.accelerator.is_main_process:
        (final / "training_args.bin").unlink(missing_ok=True)
        processor.save_pretrained(str(final))
        atomic.write_text(final / "README.md", card())
    return final
