"""TAPOConfig: every knob of TAPO with its default and where the default comes from.

Sources: "release" = the authors' EasyR1/verl configs and scripts at commit 84cdc5c
(TAPO/examples/tapo/tapo_3b.sh, config_tapo.yaml, reward_function/cls_thinking.py);
"paper" = the ICLR 2026 text. Where they differ, the release is the default and the
paper's choice is a flag.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class TAPOConfig:
    # DAPO
    clip_low: float = 0.2  # release and paper: PPO's lower clip
    clip_high: float = 0.28  # release and paper: DAPO's clip-higher
    clip_dual: float | None = 3.0  # release: verl's dual-clip for negative advantages
    loss_averaging: str = "token"  # release and paper: token-level mean over the batch
    reference_kl: float = 0.0  # release and paper: no reference model
    dynamic_sampling: bool = True  # release and paper: keep groups with 0.01 < mean accuracy < 0.99
    accuracy_band: tuple[float, float] = (0.01, 0.99)  # release
    max_resampling_rounds: int = 20  # paper ("up to 20"); the release script retries without bound
    # intra-class augmentation (anchor + positive rollouts pooled in one group)
    rollouts_anchor: int = 5  # release and paper (n1)
    rollouts_positive: int = 5  # release and paper (n2); 0 turns intra-class augmentation off
    update_on_positive_image: bool = True  # release: the positive's rollouts are updated on the positive
    #   image (with the anchor's text); paper: every update is conditioned on the anchor (False)
    # inter-class augmentation (implicit perception loss on the most similar other class)
    inter_class: bool = True
    kl_weight: float = 0.01  # release kl_prcp_coef (gamma): the KL is subtracted, i.e. maximised
    kl_direction: str = "release"  # "release": d = logp_neg - logp; "paper": d = logp - logp_neg
    kl_weight_incorrect: float = 0.1  # release incorrect_weighting: incorrect rollouts' KL counts 0.1x
    entropy_anchor: float = 0.03  # release ori_entropy_loss_coef (eta1)
    entropy_negative: float = 0.03  # release aug_entropy_loss_coef (eta2)
    # reward and prompt
    format_weight: float = 0.1  # release: 0.9 accuracy + 0.1 format
    thinking: bool = True  # release: <think>…</think> <answer>…</answer>; No-Thinking-RL: <answer> only
    # sampling and optimisation (release, Qwen2.5-VL-3B)
    temperature: float = 1.0
    top_p: float = 0.99
    learning_rate: float = 1e-6
    weight_decay: float = 1e-2
    epochs: int = 10  # 7B: 5
    global_batch_size: int = 128  # prompts (groups) per optimiser step; 7B: 64
    rollout_batch_size: int = 384  # prompts kept per generation, after dynamic sampling; 7B: 192
    max_response_length: int = 2048  # release config (the script's 4096 is defined but never passed)
    min_pixels: int = 200_704
    max_pixels: int = 1_003_520
    name: str = "TAPO"
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def group_size(self) -> int:
        return self.rollouts_anchor + self.rollouts_positive


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

