"""Reference formulas the tests hold library code to, each itself checked by hand in the tests."""

import math

import torch

from finebench.trainers.losses import token_mean


def clipped_policy_loss(logp, old_logp, advantages, mask, clip_low=0.2, clip_high=0.28, clip_dual=3.0):
    """The release's policy objective (verl's compute_policy_loss), written out: the oracle TRL's loss as
    configured by grpo_config is checked against (tests/test_tapo_trainer.py).

    loss_t = max(-A r_t, -A clip(r_t, 1 - low, 1 + high)); for A < 0 also capped at -A * dual; token mean.
    """
    advantages = advantages.unsqueeze(-1).expand_as(logp)
    log_ratio = (logp - old_logp).clamp(-20, 20)
    clipped = log_ratio.clamp(math.log(1 - clip_low), math.log(1 + clip_high)).exp()
    loss = torch.max(-advantages * log_ratio.exp(), -advantages * clipped)
    if clip_dual is not None:
        loss = torch.where(advantages < 0, torch.min(loss, -advantages * clip_dual), loss)
    return token_mean(loss, mask)
