"""TAPO's terms beyond TRL's DAPO loss, as small pure functions, each checkable by hand.

The clipped policy objective and the group advantages are TRL's (configured by
trainers.tapo.grpo_config; tests/test_tapo_trainer.py checks them against hand computations).
Here: the dynamic-sampling filter, the inter-class k3 KL, its per-rollout weights and the
entropy terms. Shapes: per-token tensors are (batch, response_length) with a 0/1 `mask` of
real tokens. The formulas follow the released EasyR1/verl code of Fine-R1
(verl/trainer/core_algos.py and verl/workers/actor/dp_actor.py at commit 84cdc5c), where it
and the paper agree; where they differ, both are offered and named.
"""

from __future__ import annotations

from typing import Sequence

import torch

LOG_RATIO_CLAMP = 20.0  # |log ratio| before exp, as released
KL_CLAMP = 10.0  # |k3 estimate|, as released ("low_var_kl")


def token_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """DAPO's token-level average: every real token of the batch weighs the same."""
    return (values * mask).sum() / mask.sum().clamp(min=1)


def is_informative(accuracies: Sequence[float], low: float = 0.01, high: float = 0.99) -> bool:
    """DAPO's dynamic-sampling filter for one group: its mean accuracy lies strictly between low and high."""
    return low < sum(accuracies) / len(accuracies) < high


def k3_kl(logp: torch.Tensor, logp_negative: torch.Tensor, direction: str = "release") -> torch.Tensor:
    """Per-token k3 estimate exp(d) - d - 1 with the release's clamps (|d| <= 20, |kl| <= 10).

    release: d = logp_negative - logp (verl's low_var_kl with the negative image as reference);
    paper: d = logp - logp_negative (the ratio g = pi(o|x) / pi(o|x_neg) of Eq. 4).
    """
    if direction not in ("release", "paper"):
        raise ValueError(f"direction must be 'release' or 'paper', not {direction!r}")
    d = (logp_negative - logp) if direction == "release" else (logp - logp_negative)
    d = d.float().clamp(-LOG_RATIO_CLAMP, LOG_RATIO_CLAMP)
    return (d.exp() - d - 1).clamp(-KL_CLAMP, KL_CLAMP)


def kl_weights_by_correctness(correct: torch.Tensor, incorrect_weight: float = 0.1) -> torch.Tensor:
    """The release's per-rollout KL weights: 1 for a correct rollout, incorrect_weight otherwise."""
    return torch.where(correct.bool(), torch.ones_like(correct, dtype=torch.float32),
                       torch.full_like(correct, incorrect_weight, dtype=torch.float32))


def inter_class_per_token(logp: torch.Tensor, logp_negative: torch.Tensor, gamma: float = 0.01,
                          eta_anchor: float = 0.03, eta_negative: float = 0.03, kl_direction: str = "release",
                          kl_sample_weights: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """TAPO's terms beyond DAPO's, per token: -gamma * KL + eta_anchor * H_anchor + eta_negative * H_negative.

    The KL is maximised (the answer should depend on the image), the two entropy estimates kept
    low. The negative image's log-probabilities carry no gradient: the release computes them once
    per rollout batch, like the old policy's. kl_sample_weights (batch,) scales each rollout's
    KL: the release weighs incorrect rollouts 0.1 and correct ones 1 (`incorrect_weighting`).
    Returns "total" and its three parts, each (batch, response_length).
    """
    logp_negative = logp_negative.detach()
    kl = k3_kl(logp, logp_negative, kl_direction)
    if kl_sample_weights is not None:
        kl = kl * kl_sample_weights.to(kl.dtype).unsqueeze(-1)
    entropy_anchor, entropy_negative = -logp, -logp_negative
    total = -gamma * kl + eta_anchor * entropy_anchor + eta_negative * entropy_negative
    return {"total": total, "inter_class_kl": kl, "entropy_anchor": entropy_anchor,
            "entropy_negative": entropy_negative}
