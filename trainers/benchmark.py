"""`finebench bench tapo`: one TAPO step against one plain DAPO step on the same batch, same run.

Both trainers start from the same tiny random Qwen2.5-VL, train on the same rows with the
same number of rollouts of the same length (min_new_tokens = max), dynamic sampling off so
each step generates once. Three arms: plain DAPO on TRL's own GRPOTrainer (the
target's reference), the DAPO preset of TAPOTrainer (same rollouts through TAPO's sampling and
replay, to show that machinery's own cost), and TAPO (5 + 5 rollouts on anchor and positive, the
negative-image pass and its loss terms). A step is the trainer's whole optimiser step:
generation, scoring, forward and backward, update. The arms run in alternation and each
reports its median step and range; the negative-image pass is timed on its own inside TAPO.
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


def _run(model: Path, rows, config, steps: int, tokens: int, workdir: Path, stock: bool = False):
    """Step times and negative-pass times (seconds) of `steps` optimiser steps, the first dropped as warm-up.

    stock: TRL's own GRPOTrainer with the same settings (plain DAPO, none of TAPO's machinery).
    """
    from transformers import AutoProcessor
    from trl import GRPOTrainer

    from .rewards import FGVRReward
    from .tapo import TAPOTrainer, grpo_config

    processor = AutoProcessor.from_pretrained(model, padding_side="left")
    args = grpo_config(config, output_dir=str(workdir / "out"), use_cpu=True, bf16=False, report_to=[],
                       save_strategy="no", per_device_train_batch_size=config.group_size, max_steps=steps + 1,
                       max_completion_length=tokens, generation_kwargs={"min_new_tokens": tokens},
                       logging_strategy="no", seed=0, disable_tqdm=True)
    timer = _StepTimer()
    common = dict(model=str(model), args=args, train_dataset=rows, processing_class=processor,
                  callbacks=[timer.callback()])
    if stock:
        trainer = GRPOTrainer(reward_funcs=[FGVRReward()], **common)
    else:
        trainer = TAPOTrainer(tapo=config, **common)
    negative: list[float] = []
    if config.inter_class and not stock:
        original = trainer._negative_logps

        def timed(*arguments):
            started = time.perf_counter()
            result = original(*arguments)
            negative.append(time.perf_counter() - started)
            return result

        trainer._negative_logps = timed
    trainer.train()
    return timer.times[1:], negative[1:]


def _summary(values: list[float]) -> str:
    """Median and range in ms: medians of separate runs do not add up, the range shows the noise."""
    low, middle, high = min(values) * 1000, statistics.median(values) * 1000, max(values) * 1000
    return f"{middle:7.1f} ms  (range {low:.1f}-{high:.1f})"


def bench_tapo(steps: int = 4, tokens: int = 48, image_size: int = 112, rounds: int = 2) -> str:
    from finebench.harness.tinymodel import build_tiny_qwen2_5_vl

    tapo = replace(TAPO, dynamic_sampling=False, min_pixels=3136, max_pixels=12544)
    dapo = replace(ABLATIONS["dapo"], dynamic_sampling=False, min_pixels=3136, max_pixels=12544)
    arms = (("TRL", dapo, True), ("DAPO", dapo, False), ("TAPO", tapo, False))
    times: dict[str, list[float]] = {name: [] for name, _, _ in arms}
    negative: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        model = build_tiny_qwen2_5_vl(workdir / "model")
        rows = noise_rows(steps + 1, image_size)
        for _ in range(rounds):
            for name, config, stock in arms:
                step_times, negative_times = _run(model, rows, config, steps, tokens, workdir, stock)
                times[name] += step_times
                negative += negative_times
    median = {name: statistics.median(values) for name, values in times.items()}
    ratio, ratio_stock = median["TAPO"] / median["DAPO"], median["TAPO"] / median["TRL"]
    verdict = "meets" if ratio_stock <= TARGET_RATIO else "misses"
    return "\n".join([
        f"One optimiser step, tiny Qwen2.5-VL on CPU, {tapo.group_size} rollouts x {tokens} tokens, {image_size}px "
        f"images, {len(times['TAPO'])} steps per arm (runs alternate, warm-up dropped):",
        f"  plain DAPO, TRL's GRPOTrainer (10 rollouts on the anchor)     {_summary(times['TRL'])}",
        f"  DAPO preset of TAPOTrainer (same rollouts, TAPO's sampling)   {_summary(times['DAPO'])}",
        f"  TAPO (5 anchor + 5 positive, negative-image pass + terms)     {_summary(times['TAPO'])}",
        f"  negative-image pass alone, inside the TAPO steps              {_summary(negative)}",
        f"  ratio TAPO / plain DAPO: {ratio_stock:.2f} ({verdict} the target of <= {TARGET_RATIO}); "
        f"TAPO / DAPO preset: {ratio:.2f}",
    ])
