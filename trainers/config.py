"""TAPOConfig: every knob of TAPO, declared once, with its default, what it does and where the default
comes from; `finebench train tapo` derives its flags from these declarations (`knob_flags`).

Sources: "release" = the authors' EasyR1/verl configs and scripts at commit 84cdc5c
(TAPO/examples/tapo/tapo_3b.sh, config_tapo.yaml, reward_function/cls_thinking.py);
"paper" = the ICLR 2026 text. Where they differ, the release is the default and the
paper's choice is a flag.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from finebench.errors import FinebenchError


def knob(default: Any, help: str, source: str, choices: tuple | None = None) -> Any:
    """A TAPO setting: its default, what it does and where the default comes from (shown by --help)."""
    return field(default=default, metadata={"help": help, "source": source, "choices": choices})


@dataclass(frozen=True)
class TAPOConfig:
    # DAPO
    clip_low: float = knob(0.2, "PPO's lower clip", "release and paper")
    clip_high: float = knob(0.28, "DAPO's clip-higher", "release and paper")
    clip_dual: float | None = knob(3.0, "dual clip for negative advantages ('none' turns it off)", "release (verl)")
    reference_kl: float = knob(0.0, "weight of the KL to a reference model (0: no reference model)",
                               "release and paper")
    dynamic_sampling: bool = knob(True, "keep only groups whose mean accuracy lies within --accuracy-band",
                                  "release and paper")
    accuracy_band: tuple[float, float] = knob((0.01, 0.99), "LOW:HIGH, exclusive bounds of a kept group's accuracy",
                                              "release")
    max_resampling_rounds: int = knob(20, "dynamic sampling's bound on redraws", "paper ('up to 20'); the release "
                                                                                 "retries without bound")
    # intra-class augmentation: anchor and positive rollouts pooled in one group
    rollouts_anchor: int = knob(5, "rollouts on the anchor image (n1)", "release and paper")
    rollouts_positive: int = knob(5, "rollouts on the positive image (n2; 0 turns intra-class augmentation off)",
                                  "release and paper")
    update_on: str = knob("own", "image each rollout's update is conditioned on: its own, or the anchor's",
                          "release (own); the paper conditions every update on the anchor", ("own", "anchor"))
    # inter-class augmentation: implicit perception loss on the most similar other class
    inter_class: bool = knob(True, "the inter-class KL and entropy terms on the negative image", "release and paper")
    kl_weight: float = knob(0.01, "gamma: weight of the KL to the negative image (subtracted, i.e. maximised)",
                            "release kl_prcp_coef")
    kl_direction: str = knob("release", "direction of the k3 KL: release d = logp_neg - logp, paper d = logp - "
                                        "logp_neg", "release", ("release", "paper"))
    kl_weight_incorrect: float = knob(0.1, "factor on incorrect rollouts' KL", "release incorrect_weighting")
    entropy_anchor: float = knob(0.03, "eta1: entropy bonus on the anchor", "release ori_entropy_loss_coef")
    entropy_negative: float = knob(0.03, "eta2: entropy bonus on the negative", "release aug_entropy_loss_coef")
    # reward and prompt
    format_weight: float = knob(0.1, "reward = (1 - w) x inclusion accuracy + w x format", "release")
    thinking: bool = knob(True, "<think>…</think> <answer>…</answer>; off: <answer> only (No-Thinking-RL)", "release")
    # sampling and optimisation (Qwen2.5-VL-3B)
    temperature: float = knob(1.0, "sampling temperature of the rollouts", "release")
    top_p: float = knob(0.99, "nucleus sampling of the rollouts", "release")
    learning_rate: float = knob(1e-6, "learning rate", "release and paper")
    weight_decay: float = knob(1e-2, "weight decay", "release and paper")
    epochs: int = knob(10, "epochs over the rows (7B: 5)", "release and paper")
    global_batch_size: int = knob(128, "prompts (groups) per optimiser step (7B: 64)", "release and paper")
    rollout_batch_size: int = knob(384, "prompts kept per generation, after dynamic sampling (7B: 192)",
                                   "release and paper")
    max_completion_length: int = knob(2048, "tokens per rollout", "release config (the script's 4096 is defined "
                                                                    "but never passed)")
    min_pixels: int = knob(200_704, "smallest image, in pixels", "release")
    max_pixels: int = knob(1_003_520, "largest image, in pixels", "release")
    name: str = "TAPO"
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        problems = [problem for problem in self._problems() if problem]
        if problems:
            raise FinebenchError(f"TAPO settings that cannot work: {'; '.join(problems)}",
                                 "correct the flags (finebench train tapo --help lists each with its range)")

    def _problems(self) -> list[str | None]:
        low, high = self.accuracy_band
        return [
            None if self.rollouts_anchor >= 1 else f"rollouts_anchor (n1) is {self.rollouts_anchor}, at least 1",
            None if self.rollouts_positive >= 0 else f"rollouts_positive (n2) is {self.rollouts_positive}, not >= 0",
            None if 0 <= low < high <= 1 else f"accuracy_band {self.accuracy_band} is not 0 <= LOW < HIGH <= 1",
            None if self.clip_low > 0 and self.clip_high > 0 else "clip_low and clip_high must be positive",
            None if self.clip_dual is None or self.clip_dual > 1 else f"clip_dual {self.clip_dual} must exceed 1",
            None if self.max_resampling_rounds >= 0 else "max_resampling_rounds must be 0 or more",
            None if 0 < self.min_pixels <= self.max_pixels else f"pixels {self.min_pixels}:{self.max_pixels} are "
                                                                 "not 0 < MIN <= MAX",
            None if 0 <= self.format_weight <= 1 else f"format_weight {self.format_weight} is outside 0..1",
            None if self.temperature > 0 and 0 < self.top_p <= 1 else "temperature > 0 and 0 < top_p <= 1",
            None if min(self.epochs, self.global_batch_size, self.rollout_batch_size, self.max_completion_length) >= 1
            else "epochs, batch sizes and max_completion_length must be at least 1",
            *(None if getattr(self, spec.name) in spec.metadata["choices"] else
              f"{spec.name} is {getattr(self, spec.name)!r}, one of {spec.metadata['choices']}"
              for spec in knobs() if spec.metadata["choices"]),
        ]

    @property
    def group_size(self) -> int:
        return self.rollouts_anchor + self.rollouts_positive

    @property
    def updates_on_own_image(self) -> bool:
        return self.update_on == "own"


def knobs() -> tuple:
    """The dataclass fields that are TAPO settings (every field but the preset's name and notes)."""
    return tuple(spec for spec in fields(TAPOConfig) if "help" in spec.metadata)


TAPO = TAPOConfig()
TAPO_7B = replace(TAPO, name="TAPO (7B)", epochs=5, global_batch_size=64, rollout_batch_size=192)
# The ablations of the paper (Table 3 and Fig. 3), by name.
ABLATIONS = {
    "tapo": TAPO,
    "dapo": replace(TAPO, name="DAPO", rollouts_anchor=10, rollouts_positive=0, inter_class=False),
    "dapo+intra": replace(TAPO, name="DAPO + intra-class", inter_class=False),
    "dapo+inter": replace(TAPO, name="DAPO + inter-class", rollouts_anchor=10, rollouts_positive=0),
    # the no-CoT baselines (Li et al., 2025): RL straight from the base model, without the CoT SFT stage
    "cls-rl": replace(TAPO, name="CLS-RL", rollouts_anchor=10, rollouts_positive=0, inter_class=False,
                      notes=("start from the base model (no CoT SFT); think-then-answer prompt and reward",)),
    "no-thinking-rl": replace(TAPO, name="No-Thinking-RL", rollouts_anchor=10, rollouts_positive=0,
                              inter_class=False, thinking=False,
                              notes=("start from the base model (no CoT SFT); the prompt asks for the answer "
                                     "alone and the format reward checks <answer>…</answer> only",)),
}
PRESETS = {**ABLATIONS, "tapo-7b": TAPO_7B}
