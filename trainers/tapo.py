"""TAPO on TRL: a GRPOTrainer with intra-class rollouts, the inter-class KL and dynamic sampling.

How it sits on TRL's loop (every hook used is pinned by tests/test_tapo_trl_contract.py):
- `_generate_and_score_completions` is wrapped. Each group of the batch (TRL repeats a row
  `num_generations` times in a row) is rolled out here: the first n1 copies on the anchor
  image, the last n2 on the positive (another image of the same class). Dynamic sampling
  keeps the groups whose accuracy is strictly inside the band and draws fresh rows until
  the batch is full or the bound is reached. The kept rollouts are then handed to TRL's
  own scoring through a replayed `_generate`, so TRL computes rewards, pooled advantages
  (one group = anchor + positive rollouts), masks and image inputs as usual, on the image
  the update is conditioned on: each rollout's own (release) or the anchor's (paper).
- After scoring, one forward pass without gradient gives each rollout's log-probabilities
  under the negative image (the most similar other class), stored with the batch.
- `_compute_loss` adds -gamma * KL + eta1 * H + eta2 * H_neg to TRL's DAPO loss, using the
  policy log-probabilities TRL has just computed (captured, not recomputed).
- `_generate_single_turn` is told how many consecutive prompts are identical (gcd(n1, n2)),
  so vLLM's server mode, which samples n completions per distinct prompt, keeps both images.
"""

from __future__ import annotations

import math
import random
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch

from finebench.errors import FinebenchError

from .config import TAPO, TAPOConfig
from .losses import inter_class_per_token, is_informative, kl_weights_by_correctness, token_mean
from .rewards import FGVRReward, inclusion_accuracy

try:  # TRL is the `train` extra: without it, say how to get it
    from trl import GRPOConfig, GRPOTrainer
    from trl.data_utils import apply_chat_template, prepare_multimodal_messages
    from trl.models.utils import disable_gradient_checkpointing
except ImportError as error:  # pragma: no cover - only without the extra
    raise FinebenchError(f"the TAPO trainer needs TRL ({error})", 'pip install "finebench[train]"') from None

ANCHOR, POSITIVE = "anchor", "positive"
# Columns of a TAPO training row (finebench.trainers.tapo_data writes them).
IMAGE, POSITIVE_IMAGE, NEGATIVE_IMAGE, GROUP_KEY = "image", "positive_image", "negative_image", "anchor_id"


@dataclass
class Rollout:
    """One completion and everything TRL's scoring needs to replay it."""

    row: dict  # the row TRL scores: `image` is the image the update is conditioned on
    prompt_ids: list[int]  # tokenised with that image
    completion_ids: list[int]
    completion: Any
    accuracy: float
    sampling_logps: list[float] | None = None  # vLLM's, for TRL's importance-sampling correction


@dataclass(frozen=True)
class SamplingRecord:
    """What dynamic sampling did for one batch (kept in TAPOTrainer.sampling_history)."""

    rounds: int
    informative_first_round: int
    groups: int
    filled_with_uninformative: int
    anchors: tuple[str, ...]  # the anchor of each group kept, in batch order


def rollout_unit(rollouts_anchor: int, rollouts_positive: int) -> int:
    """How many consecutive rollouts share one prompt and image: vLLM samples that many at once."""
    return math.gcd(rollouts_anchor, rollouts_positive) if rollouts_positive else rollouts_anchor


def grpo_config(tapo: TAPOConfig = TAPO, **training) -> GRPOConfig:
    """TRL's GRPOConfig carrying TAPO's optimisation settings; `training` sets or overrides any field.

    TRL's `delta` (an upper bound on the ratio) equals verl's dual clip here: with clip_high < delta it
    only binds for negative advantages, where it caps the loss at -A * delta.
    """
    values = dict(loss_type="dapo", epsilon=tapo.clip_low, epsilon_high=tapo.clip_high, delta=tapo.clip_dual,
                  beta=tapo.reference_kl, num_generations=tapo.group_size, scale_rewards="group",
                  temperature=tapo.temperature, top_p=tapo.top_p, learning_rate=tapo.learning_rate,
                  weight_decay=tapo.weight_decay, num_train_epochs=tapo.epochs,
                  max_completion_length=tapo.max_completion_length, max_grad_norm=1.0, lr_scheduler_type="constant",
                  # Conditioning the positive's rollouts on the anchor (paper) changes the image on purpose: TRL's
                  # vLLM importance-sampling correction would reweight them by pi(o|anchor) / pi(o|positive).
                  vllm_importance_sampling_correction=tapo.updates_on_own_image)
    values.update(training)
    return GRPOConfig(**values)


def batch_layout(tapo: TAPOConfig, processes: int, per_device: int) -> tuple[int, int]:
    """(gradient_accumulation_steps, steps_per_generation) that give the config's batches on this many processes.

    TAPOConfig counts prompts as the release does: global_batch_size per optimiser step,
    rollout_batch_size per generation (after dynamic sampling); TRL counts rollouts per device.
    """
    layout = []
    batches = ((tapo.global_batch_size, "global_batch_size"), (tapo.rollout_batch_size, "rollout_batch_size"))
    for prompts, name in batches:
        rollouts = prompts * tapo.group_size
        if rollouts % (processes * per_device):
            raise FinebenchError(f"{name} {prompts} x {tapo.group_size} rollouts cannot be split into {processes} "
                                 f"processes x {per_device} per device",
                                 "choose a per-device batch size that divides it, or pass --grad-accum and "
                                 "--steps-per-generation yourself")
        layout.append(rollouts // (processes * per_device))
    return layout[0], layout[1]


def check_arguments(tapo: TAPOConfig, args: GRPOConfig) -> None:
    """Refuse settings under which TAPO's groups or loss would silently be something else."""
    problems = []
    if args.num_generations != tapo.group_size:
        problems.append(f"num_generations is {args.num_generations} but n1 + n2 = {tapo.group_size}")
    if args.loss_type != "dapo":
        problems.append(f"loss_type is {args.loss_type!r}; TAPO's extra terms are token-averaged like 'dapo'")
    per_device = args.per_device_train_batch_size * args.steps_per_generation
    if per_device % tapo.group_size:
        problems.append(f"per_device_train_batch_size x steps_per_generation = {per_device} is not a multiple of "
                        f"the group size {tapo.group_size}, so a group would straddle two devices")
    if problems:
        raise FinebenchError("TAPO cannot run with these trainer settings: " + "; ".join(problems),
                             "build the arguments with finebench.trainers.tapo.grpo_config(tapo, ...)")


class TAPOTrainer(GRPOTrainer):
    """GRPOTrainer + TAPO. Rows need prompt, image, positive_image, negative_image, solution, anchor_id."""

    def __init__(self, model, args: GRPOConfig, train_dataset, processing_class=None, tapo: TAPOConfig = TAPO,
                 reward_funcs=None, accuracy_func: Callable[..., list[float]] = inclusion_accuracy, **kwargs):
        check_arguments(tapo, args)
        if kwargs.get("tools") or kwargs.get("rollout_func") or kwargs.get("environment_factory"):
            raise FinebenchError("TAPO rolls out single-turn answers", "drop tools, rollout_func and environments")
        reward_funcs = reward_funcs or [FGVRReward(tapo.format_weight, tapo.thinking)]
        super().__init__(model=model, reward_funcs=reward_funcs, args=args, train_dataset=train_dataset,
                         processing_class=processing_class, **kwargs)
        self.tapo = tapo
        self.accuracy_func = accuracy_func
        self.sampling_history: list[SamplingRecord] = []
        self._refill = random.Random(args.seed + 7919 * self.accelerator.process_index)
        self._replayed: list[Rollout] | None = None
        self._capturing_logps = False
        self._captured_logps: torch.Tensor | None = None

    # -- generation: intra-class rollouts and dynamic sampling ---------------------------------------------------

    def _generate_and_score_completions(self, inputs: list[dict]) -> dict:
        if not self.model.training:
            return super()._generate_and_score_completions(inputs)
        rollouts = [rollout for group in self._collect_groups(inputs) for rollout in group]
        rows = [rollout.row for rollout in rollouts]
        with self._replaying(rollouts):
            output = super()._generate_and_score_completions(rows)
        if self.tapo.inter_class:
            output["negative_per_token_logps"] = self._negative_logps(rows, output)
            accuracy = torch.tensor([rollout.accuracy for rollout in rollouts], device=self.accelerator.device)
            output["kl_weights"] = kl_weights_by_correctness(accuracy > 0.5, self.tapo.kl_weight_incorrect)
        return output

    def _collect_groups(self, inputs: list[dict]) -> list[list[Rollout]]:
        """Roll out the batch's groups; with dynamic sampling, redraw until it is full of informative ones."""
        target = len(inputs) // self.num_generations
        kept: list[list[Rollout]] = []
        spare: list[list[Rollout]] = []
        rows, rounds, first_round = inputs, 0, 0
        while True:
            rounds += 1
            for group in self._roll_out(rows):
                (kept if self._is_informative(group) else spare).append(group)
            if rounds == 1:
                first_round = len(kept)
            if not self.tapo.dynamic_sampling or rounds > self.tapo.max_resampling_rounds:
                break
            # every process generates the same number of rounds, or the collective calls would hang
            shortfall = torch.tensor(float(target - len(kept)), device=self.accelerator.device)
            if self.accelerator.gather(shortfall).max().item() <= 0:
                break
            rows = self._draw_rows(target)
        chosen = kept[:target]
        filled = target - len(chosen)
        chosen += spare[len(spare) - filled:] if filled else []
        self._record_sampling(SamplingRecord(rounds, first_round, target, filled,
                                            tuple(group[0].row[GROUP_KEY] for group in chosen)))
        return chosen

    def _is_informative(self, group: list[Rollout]) -> bool:
        return not self.tapo.dynamic_sampling or is_informative([r.accuracy for r in group], *self.tapo.accuracy_band)

    def _draw_rows(self, groups: int) -> list[dict]:
        """Fresh training rows for another round, each repeated to a full group like TRL's sampler does."""
        dataset = self.train_dataset
        indices = [self._refill.randrange(len(dataset)) for _ in range(groups)]
        return [dataset[index] for index in indices for _ in range(self.num_generations)]

    def _roll_out(self, rows: list[dict]) -> list[list[Rollout]]:
        """Generate one completion per row: n1 per group on the anchor image, n2 on the positive."""
        size = self.num_generations
        generation_rows, update_rows = [], []
        for start in range(0, len(rows), size):
            group = rows[start:start + size]
            if len({row[GROUP_KEY] for row in group}) != 1:
                anchors = [row[GROUP_KEY] for row in group]
                raise RuntimeError("a TAPO group mixes rows of different anchors: TRL's sampler changed "
                                   f"(see tests/test_tapo_trl_contract.py); anchors {anchors}")
            for position, row in enumerate(group):
                source = ANCHOR if position < self.tapo.rollouts_anchor else POSITIVE
                image = row[IMAGE] if source == ANCHOR else row[POSITIVE_IMAGE]
                generation_rows.append({**row, IMAGE: image, "rollout_image": source})
                update_image = image if self.tapo.updates_on_own_image else row[IMAGE]
                update_rows.append({**row, IMAGE: update_image, "rollout_image": source})
        prompts = [self._with_image(row) for row in generation_rows]
        # no tools, rollout_func or environments (refused in __init__): no tool mask, no extra fields
        prompt_ids, completion_ids, _, completions, logps, _, _, _ = self._generate(prompts)
        if not self.tapo.updates_on_own_image:  # the update sees the anchor: tokenise with it
            prompt_ids = self._tokenize_prompts([self._with_image(row) for row in update_rows])[0]
        columns = {key: [row[key] for row in generation_rows] for key in generation_rows[0] if key != "prompt"}
        accuracy = self.accuracy_func(completions=completions, **columns)
        rollouts = [Rollout(update_rows[i], list(prompt_ids[i]), list(completion_ids[i]), completions[i],
                            float(accuracy[i]), logps[i] if logps is not None else None)
                    for i in range(len(rows))]
        return [rollouts[start:start + size] for start in range(0, len(rollouts), size)]

    @staticmethod
    def _with_image(row: dict) -> list[dict]:
        return prepare_multimodal_messages(row["prompt"], images=[row[IMAGE]])

    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        if self.model.training:  # consecutive identical prompts: n1 and n2 are both multiples of this
            num_generations = rollout_unit(self.tapo.rollouts_anchor, self.tapo.rollouts_positive)
        return super()._generate_single_turn(prompt_ids, images, multimodal_fields, num_generations, has_tool_images)

    @contextmanager
    def _replaying(self, rollouts: list[Rollout]):
        self._replayed = rollouts
        try:
            yield
        finally:
            self._replayed = None

    def _generate(self, prompts: list):
        """TRL's generation, or, while scoring kept rollouts, their completions played back."""
        if self._replayed is None:
            return super()._generate(prompts)
        rollouts = self._replayed
        if len(prompts) != len(rollouts):
            raise RuntimeError(f"replaying {len(rollouts)} rollouts for {len(prompts)} prompts")
        logps = [r.sampling_logps for r in rollouts] if rollouts[0].sampling_logps is not None else None
        return ([r.prompt_ids for r in rollouts], [r.completion_ids for r in rollouts], None,
                [r.completion for r in rollouts], logps, {}, [[r.row[IMAGE]] for r in rollouts], [])

    def _record_sampling(self, record: SamplingRecord) -> None:
        self.sampling_history.append(record)
        metrics = self._metrics["train"]
        metrics["dynamic_sampling/rounds"].append(record.rounds)
        metrics["dynamic_sampling/informative_first_round"].append(record.informative_first_round / record.groups)
        metrics["dynamic_sampling/filled_with_uninformative"].append(record.filled_with_uninformative / record.groups)

    # -- inter-class augmentation ----------------------------------------------------------------------------------

    def _negative_logps(self, rows: list[dict], output: dict) -> torch.Tensor:
        """Each rollout's per-token log-probabilities with the negative image in place of its own (no gradient)."""
        prompts = [prepare_multimodal_messages(row["prompt"], images=[row[NEGATIVE_IMAGE]]) for row in rows]
        texts = [apply_chat_template({"prompt": prompt}, self.processing_class, **self.chat_template_kwargs)["prompt"]
                 for prompt in prompts]
        encoded = self.processing_class(images=[[row[NEGATIVE_IMAGE]] for row in rows], text=texts, padding=True,
                                        padding_side="left", return_tensors="pt")
        encoded = super(GRPOTrainer, self)._prepare_inputs(encoded)  # Trainer's: onto the device
        completion_ids, completion_mask = output["completion_ids"], output["completion_mask"]
        input_ids = torch.cat([encoded["input_ids"], completion_ids], dim=1)
        attention_mask = torch.cat([encoded["attention_mask"], completion_mask], dim=1)
        forward = {key: value for key, value in encoded.items() if key not in ("input_ids", "attention_mask")}
        for key in ("token_type_ids", "mm_token_type_ids"):  # per-token fields: zeros over the completion
            if key in forward:
                forward[key] = torch.cat([forward[key], forward[key].new_zeros(completion_ids.shape)], dim=1)
        with torch.no_grad(), disable_gradient_checkpointing(self.model, self.args.gradient_checkpointing_kwargs):
            logps, _, _ = self._get_per_token_logps_and_entropies(
                self.model, input_ids, attention_mask, completion_ids.size(1),
                batch_size=self.args.per_device_train_batch_size, num_images=[1] * len(rows), **forward)
        return logps

    def _get_per_token_logps_and_entropies(self, *args, **kwargs):
        result = super()._get_per_token_logps_and_entropies(*args, **kwargs)
        if self._capturing_logps:
            self._captured_logps = result[0]
        return result

    def _compute_loss(self, model, inputs):
        self._capturing_logps, self._captured_logps = True, None
        try:
            loss = super()._compute_loss(model, inputs)
        finally:
            self._capturing_logps = False
        if "negative_per_token_logps" not in inputs:
            return loss
        mask = inputs["completion_mask"]
        terms = inter_class_per_token(self._captured_logps, inputs["negative_per_token_logps"], self.tapo.kl_weight,
                                      self.tapo.entropy_anchor, self.tapo.entropy_negative, self.tapo.kl_direction,
                                      inputs["kl_weights"])
        normaliser = self._token_normaliser(inputs)
        mode = "train" if self.model.training else "eval"
        for name in ("inter_class_kl", "entropy_anchor", "entropy_negative"):
            value = token_mean(terms[name].detach(), mask)
            self._metrics[mode][f"tapo/{name}"].append(self.accelerator.gather(value).mean().item())
        return loss + (terms["total"] * mask).sum() / normaliser

    def _token_normaliser(self, inputs: dict) -> torch.Tensor:
        """The divisor TRL's 'dapo' loss uses, so the extra terms are token means over the same tokens."""
        normaliser = inputs["num_items_in_batch"].clamp(min=1.0) / self.accelerator.num_processes
        if self.model.training:
            normaliser = normaliser * self.current_gradient_accumulation_steps / self.args.steps_per_generation
        return normaliser


def describe(tapo: TAPOConfig) -> Sequence[str]:
    """One line per component switched on, for logs and model cards."""
    lines = [f"DAPO: clip {tapo.clip_low}/{tapo.clip_high}, dual clip {tapo.clip_dual}, token-level loss, no reference"]
    if tapo.dynamic_sampling:
        lines.append(f"dynamic sampling: accuracy in {tapo.accuracy_band}, up to {tapo.max_resampling_rounds} redraws")
    if tapo.rollouts_positive:
        where = "each rollout's own image" if tapo.updates_on_own_image else "the anchor image"
        lines.append(f"intra-class: {tapo.rollouts_anchor} anchor + {tapo.rollouts_positive} positive rollouts, "
                     f"pooled advantages, update on {where}")
    if tapo.inter_class:
        lines.append(f"inter-class: k3 KL to the negative image ({tapo.kl_direction} direction), gamma "
                     f"{tapo.kl_weight}, incorrect x{tapo.kl_weight_incorrect}, entropies {tapo.entropy_anchor}/"
                     f"{tapo.entropy_negative}")
    return lines


def train_tapo(base_model: str, data, output, tapo: TAPOConfig = TAPO, use_cpu: bool = False, **training):
    """Run TAPO from base_model (the CoT SFT checkpoint) on the rows of `finebench train data`.

    Checkpoints go to output/trainer every `save_steps` and a rerun resumes from the last one;
    the final model, its processor and a model card go to output/final, which is returned.
    """
    from dataclasses import asdict
    from pathlib import Path

    from .card import last_checkpoint, model_card, save_final
    from .curves import write_curves
    from .models import load_model_and_processor
    from .tapo_data import check_prompts, load_rows

    data, output = Path(data), Path(output)
    dataset = load_rows(data)
    check_prompts(dataset, tapo)
    model, processor = load_model_and_processor(base_model, torch.float32 if use_cpu else torch.bfloat16,
                                                padding_side="left", min_pixels=tapo.min_pixels,
                                                max_pixels=tapo.max_pixels)
    settings = dict(output_dir=str(output / "trainer"), use_cpu=use_cpu, bf16=not use_cpu, report_to=[],
                    logging_steps=1, save_strategy="steps", save_steps=50, save_total_limit=3)
    settings.update(training)
    args = grpo_config(tapo, **settings)
    trainer = TAPOTrainer(model=model, args=args, train_dataset=dataset, processing_class=processor, tapo=tapo)
    trainer.train(resume_from_checkpoint=last_checkpoint(output / "trainer"))
    config = {"tapo": asdict(tapo), "trainer": {key: getattr(args, key) for key in sorted(set(settings) | {
        "learning_rate", "num_generations", "per_device_train_batch_size", "gradient_accumulation_steps",
        "steps_per_generation", "max_steps", "num_train_epochs", "seed"})}}
    final = save_final(trainer, processor, output / "final", lambda: model_card(
        tapo.name, "tapo", base_model, data, len(dataset), args.seed, config, describe(tapo)))
    write_curves(trainer, output, f"{tapo.name} from {Path(str(base_model)).name}")
    return final
