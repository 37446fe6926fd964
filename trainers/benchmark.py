"""`finebench bench tapo`: one TAPO step against one plain DAPO step on the same batch, same run.

Both trainers start from the same tiny random Qwen2.5-VL, train on the same rows with the
same number of rollouts of the same length (min_new_tokens = max), dynamic sampling off so
each step generates once. DAPO rolls out 10 times on the anchor; TAPO 5 + 5 on anchor and
positive and adds the negative-image pass and its loss terms. A step is the trainer's whole
optimiser step: generation, scoring, forward and backward, update. The two are run in
alternation (DAPO, TAPO, DAPO, TAPO) and the median step of each is compared.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from .config import ABLATIONS, TAPO
from .tapo_data import noise_rows

TARGET_RATIO = 1.6


class _StepTimer:
    def __init__(self):
        self.times: list[float] = []

    def callback(self):
        from transformers import TrainerCallback

        timer = self

        class Timing(TrainerCallback):
            def on_step_begin(self, args, state, control, **kwargs):
                timer.started = time.perf_counter()

            def on_step_end(self, args, state, control, **kwargs):
                timer.times.append(time.perf_counter() - timer.started)

        return Timing()


def _run(model: Path, rows, config, steps: int, tokens: int, workdir: Path) -> tuple[list[float], list[float]]:
    """Step times and negative-pass times (seconds) of `steps` optimiser steps, the first dropped as warm-up."""
    from transformers import AutoProcessor

    from .tapo import TAPOTrainer, grpo_config

    processor = AutoProcessor.from_pretrained(model, padding_side="left")
    args = grpo_config(config, output_dir=str(workdir / "out"), use_cpu=True, bf16=False, report_to=[],
                       save_strategy="no", per_device_train_batch_size=config.group_size, max_steps=steps + 1,
                       max_completion_length=tokens, generation_kwargs={"min_new_tokens": tokens},
                       logging_strategy="no", seed=0, disable_tqdm=True)
    timer = _StepTimer()
    trainer = TAPOTrainer(model=str(model), args=args, train_dataset=rows, processing_class=processor, tapo=config,
                          callbacks=[timer.callback()])
    negative: list[float] = []
    if config.inter_class:
        original = trainer._negative_logps

        def timed(*arguments):
            started = time.perf_counter()
            result = original(*arguments)
            negative.append(time.perf_counter() - started)
            return result

        trainer._negative_logps = timed
    trainer.train()
    return timer.times[1:], negative[1:]


def bench_tapo(steps: int = 4, tokens: int = 48, image_size: int = 112, rounds: int = 2) -> str:
    from finebench.tinymodel import build_tiny_qwen2_5_vl

    tapo = replace(TAPO, dynamic_sampling=False, min_pixels=3136, max_pixels=12544)
    dapo = replace(ABLATIONS["dapo"], dynamic_sampling=False, min_pixels=3136, max_pixels=12544)
    times: dict[str, list[float]] = {"DAPO": [], "TAPO": []}
    negative: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        model = build_tiny_qwen2_5_vl(workdir / "model")
        rows = noise_rows(steps + 1, image_size)
        for _ in range(rounds):
            for name, config in (("DAPO", dapo), ("TAPO", tapo)):
                step_times, negative_times = _run(model, rows, config, steps, tokens, workdir)
                times[name] += step_times
                negative += negative_times
    dapo_step, tapo_step = statistics.median(times["DAPO"]), statistics.median(times["TAPO"])
    ratio = tapo_step / dapo_step
    verdict = "meets" if ratio <= TARGET_RATIO else "misses"
    return "\n".join([
        f"One optimiser step, tiny Qwen2.5-VL on CPU, {tapo.group_size} rollouts x {tokens} tokens, {image_size}px "
        f"images, median of {len(times['TAPO'])} steps each (alternating runs, warm-up dropped):",
        f"  DAPO  (10 rollouts on the anchor)                         {dapo_step * 1000:8.1f} ms",
        f"  TAPO  (5 anchor + 5 positive, negative-image pass + terms) {tapo_step * 1000:8.1f} ms",
        f"        of which the negative-image pass                     {statistics.median(negative) * 1000:8.1f} ms",
        f"  ratio TAPO / DAPO: {ratio:.2f} ({verdict} the target of <= {TARGET_RATIO})",
    ])
