"""CoT SFT (stage 1) on TRL's SFTTrainer: prompt/completion data, loss on the completion only.

The released recipe (LLaMA-Factory/cot_sft_{3b,7b}.sh): full fine-tuning, lr 5e-6 with a
cosine schedule and 6 warm-up steps, weight decay 0.1, 10 epochs, 4 per device x 4
accumulation steps on 4 GPUs (global batch 64), cutoff 4096 tokens, bf16, DeepSpeed ZeRO-3.
The 3B and 7B scripts are the same recipe (the paper: "full fine-tune them for 10 epochs"),
so there is one.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from finebench.errors import FinebenchError

from .card import last_checkpoint, model_card, save_final
from .curves import write_curves
from .models import load_model_and_processor


@dataclass(frozen=True)
class SFTRecipe:
    learning_rate: float = 5e-6
    lr_scheduler_type: str = "cosine"
    warmup_steps: int = 6
    weight_decay: float = 0.1
    num_train_epochs: float = 10
    per_device_train_batch_size: int = 4
    gradient_accumulation_steps: int = 4
    max_length: int = 4096
    bf16: bool = True
    lora: bool = False  # full fine-tuning, as released; LoRA (rank 64) as an option
    max_steps: int = -1
    seed: int = 42


RECIPE = SFTRecipe()
OLD_PRESET_NAMES = ("qwen2.5-vl-3b", "qwen2.5-vl-7b")  # once one preset per size, identical: still accepted


def load_sft_rows(path: Path):
    """The JSONL written by the CoT import (or construction) as a datasets.Dataset with PIL images."""
    import datasets

    rows = [json.loads(line) for line in Path(path).read_text("utf-8").splitlines() if line.strip()]
    if not rows:
        raise FinebenchError(f"{path} holds no SFT examples",
                             "write them with `finebench train import-cot` or `finebench train cot`")
    features = datasets.Features({"prompt": datasets.List({"role": datasets.Value("string"), "content": datasets.List(
        {"type": datasets.Value("string"), "text": datasets.Value("string")})}),
        "completion": datasets.List({"role": datasets.Value("string"), "content": datasets.List(
            {"type": datasets.Value("string"), "text": datasets.Value("string")})}),
        "images": datasets.List(datasets.Image())})
    def messages(turns: list[dict]) -> list[dict]:  # every content part with both keys, as the features say
        return [{"role": turn["role"], "content": [{"type": part["type"], "text": part.get("text")}
                                                    for part in turn["content"]]} for turn in turns]

    kept = [{"prompt": messages(row["prompt"]), "completion": messages(row["completion"]), "images": row["images"]}
            for row in rows]
    return datasets.Dataset.from_list(kept, features=features)


def train_sft(base_model: str, data: Path, output: Path, recipe: SFTRecipe = RECIPE,
              use_cpu: bool = False, report_to: tuple[str, ...] = ()) -> Path:
    """Fine-tune base_model on the CoT data; save a loadable checkpoint with its processor and model card.

    A checkpoint is kept at the end of every epoch in output/trainer, and a rerun resumes from the last one.
    """
    from trl import SFTConfig, SFTTrainer

    dataset = load_sft_rows(data)
    model, processor = load_model_and_processor(base_model)
    peft_config = None
    if recipe.lora:
        from peft import LoraConfig

        peft_config = LoraConfig(r=64, lora_alpha=128, target_modules="all-linear", task_type="CAUSAL_LM")
    arguments = SFTConfig(
        output_dir=str(output / "trainer"), learning_rate=recipe.learning_rate,
        lr_scheduler_type=recipe.lr_scheduler_type, warmup_steps=recipe.warmup_steps,
        weight_decay=recipe.weight_decay, num_train_epochs=recipe.num_train_epochs, max_steps=recipe.max_steps,
        per_device_train_batch_size=recipe.per_device_train_batch_size,
        gradient_accumulation_steps=recipe.gradient_accumulation_steps, max_length=recipe.max_length,
        bf16=recipe.bf16 and not use_cpu, use_cpu=use_cpu, seed=recipe.seed, report_to=list(report_to),
        save_strategy="epoch", save_total_limit=2, logging_steps=1)
    trainer = SFTTrainer(model=model, args=arguments, train_dataset=dataset, processing_class=processor,
                         peft_config=peft_config)
    trainer.train(resume_from_checkpoint=last_checkpoint(output / "trainer"))  # a rerun resumes
    final = save_final(trainer, processor, output / "final", lambda: model_card(
        "CoT SFT", "cot-sft", base_model, data, len(dataset), recipe.seed, asdict(recipe)))
    write_curves(trainer, output, f"CoT SFT of {Path(str(base_model)).name}")
    return final


def recipe_with(**overrides) -> SFTRecipe:
    """The released recipe with the settings given (None: keep the recipe's)."""
    return replace(RECIPE, **{key: value for key, value in overrides.items() if value is not None})
