"""TAPO's loss terms as small pure functions, each checkable by hand.

Shapes: per-token tensors are (batch, response_length) with a 0/1 `mask` of real tokens.
The formulas follow the released EasyR1/verl code of Fine-R1 (verl/trainer/core_algos.py
and verl/workers/actor/dp_actor.py at commit 84cdc5c), where it and the paper agree; where
they differ, both are offered and named.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Hashable, Sequence

import torch

LOG_RATIO_CLAMP = 20.0  # |log ratio| before exp, as released
KL_CLAMP = 10.0  # |k3 estimate|, as released ("low_var_kl")


def token_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """DAPO's token-level average: every real token of the batch weighs the same."""
    return (values * mask).sum() / mask.sum().clamp(min=1)


def group_advantages(rewards: torch.Tensor, groups: Sequence[Hashable], eps: float = 1e-6) -> torch.Tensor:
    """(reward - group mean) / (group std + eps), std unbiased as torch.std; one value per rollout.

    With intra-class augmentation the anchor's and the positive's rollouts share one group id,
    so their advantages come from the pooled group.
    """
    members: dict[Hashable, list[int]] = defaultdict(list)
    for index, group in enumerate(groups):
        members[group].append(index)
    advantages = torch.empty_like(rewards, dtype=torch.float32)
    for indices in members.values():
        if len(indices) < 2:
            raise ValueError("a group needs at least two rollouts to have a spread")
        values = rewards[indices].float()
        advantages[indices] = (values - values.mean()) / (values.std() + eps)
    return advantages


def keep_informative_groups(rewards: torch.Tensor, groups: Sequence[Hashable], low: float = 0.01,
                            high: float = 0.99) -> list[Hashable]:
    """DAPO's dynamic sampling: the groups whose mean accuracy is strictly between low and high."""
    members: dict[Hashable, list[float]] = defaultdict(list)
    for value, group in zip(rewards.tolist(), groups):
        members[group].append(value)
    return [group for group, values in members.items() if low < sum(values) / len(values) < high]


def clipped_policy_loss(logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor,
                        clip_low: float = 0.2, clip_high: float = 0.28, clip_dual: float | None = 3.0) -> torch.Tensor:
    """DAPO's clip-higher PPO objective (to minimise), token-averaged; `advantages` is (batch,) or per token.

    loss_t = max(-A r_t, -A clip(r_t, 1 - low, 1 + high)); for A < 0 also capped at -A * dual
    (dual-clip PPO, as released; None turns it off).
    """
    advantages = advantages if advantages.dim() == logp.dim() else advantages.unsqueeze(-1).expand_as(logp)
    log_ratio = (logp - old_logp).clamp(-LOG_RATIO_CLAMP, LOG_RATIO_CLAMP)
    ratio = log_ratio.exp()
    clipped = log_ratio.clamp(math.log(1 - clip_low), math.log(1 + clip_high)).exp()
    loss = torch.max(-advantages * ratio, -advantages * clipped)
    if clip_dual is not None:
        loss = torch.where(advantages < 0, torch.min(loss, -advantages * clip_dual), loss)
    return token_mean(loss, mask)


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


def entropy_estimate(logp: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """-mean log-probability of the sampled tokens: the release's estimator of entropy."""
    return token_mean(-logp, mask)


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


def tapo_loss(logp: torch.Tensor, old_logp: torch.Tensor, logp_negative: torch.Tensor | None,
              advantages: torch.Tensor, mask: torch.Tensor, clip_low: float = 0.2, clip_high: float = 0.28,
              clip_dual: float | None = 3.0, gamma: float = 0.01, eta_anchor: float = 0.03,
              eta_negative: float = 0.03, kl_direction: str = "release",
              kl_sample_weights: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
    """The whole TAPO objective, token-averaged; without a negative image it is DAPO's."""
    policy = clipped_policy_loss(logp, old_logp, advantages, mask, clip_low, clip_high, clip_dual)
    metrics = {"policy_loss": policy.detach().item()}
    if logp_negative is None:
        return policy, metrics
    terms = inter_class_per_token(logp, logp_negative, gamma, eta_anchor, eta_negative, kl_direction,
                                  kl_sample_weights)
    loss = policy + token_mean(terms.pop("total"), mask)
    metrics.update({name: token_mean(values, mask).item() for name, values in terms.items()}, loss=loss.item())
    return loss, metrics
