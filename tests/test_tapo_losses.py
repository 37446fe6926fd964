"""TAPO's loss terms against hand computations on fixed log-probabilities."""

import math

import pytest
import torch
from oracles import clipped_policy_loss

from finebench.trainers.losses import inter_class_per_token, is_informative, k3_kl, token_mean
from finebench.trainers.rewards import accuracy_reward, fgvr_reward, format_reward


def test_token_mean_weighs_every_real_token_once():
    values = torch.tensor([[1.0, 2.0, 3.0], [4.0, 100.0, 100.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    assert token_mean(values, mask).item() == pytest.approx((1 + 2 + 3 + 4) / 4)  # not the mean of row means


def test_dynamic_sampling_keeps_mixed_groups_only():
    assert not is_informative([1.0, 1.0]) and not is_informative([0.0, 0.0]) and is_informative([1.0, 0.0])
    assert not is_informative([1.0] * 99 + [0.0]) and is_informative([1.0] * 98 + [0.0, 0.0])  # 0.99 is out


def test_policy_loss_oracle_by_hand():
    """The oracle itself, checked by hand, before test_tapo_trainer holds TRL's loss to it."""
    mask = torch.ones(1, 3)
    old = torch.log(torch.tensor([[0.5, 0.5, 0.5]]))
    # ratios 1.5 (clipped at 1.28 for A > 0), 0.5 (clipped at 0.8 for A < 0, then dual-capped), 1.0
    new = torch.log(torch.tensor([[0.75, 0.25, 0.5]]))
    positive = clipped_policy_loss(new, old, torch.tensor([2.0]), mask)
    expected_positive = (max(-2 * 1.5, -2 * 1.28) + max(-2 * 0.5, -2 * 0.8) + -2 * 1.0) / 3
    assert positive.item() == pytest.approx(expected_positive, rel=1e-5)
    negative = clipped_policy_loss(new, old, torch.tensor([-1.0]), mask, clip_dual=None)
    expected_negative = (max(1.5, 1.28) + max(0.5, 0.8) + 1.0) / 3
    assert negative.item() == pytest.approx(expected_negative, rel=1e-5)
    huge = torch.log(torch.tensor([[0.5, 0.5, 0.5]])) + torch.tensor([[3.0, 0.0, 0.0]])  # ratio e^3 = 20.1
    capped = clipped_policy_loss(huge, old, torch.tensor([-1.0]), mask, clip_dual=3.0)
    assert capped.item() == pytest.approx((3.0 + 1.0 + 1.0) / 3, rel=1e-5)  # -A * dual caps the first token


def test_k3_kl_clamps_and_both_directions():
    logp = torch.tensor([[-1.0, -2.0, -1.0]])
    negative = torch.tensor([[-2.0, -1.0, -40.0]])
    release = k3_kl(logp, negative)
    d = torch.tensor([-1.0, 1.0, -20.0])  # negative - logp, the last clamped to -20
    assert torch.allclose(release[0], (d.exp() - d - 1).clamp(-10, 10))
    assert release[0, 2].item() == pytest.approx(10.0)  # exp(-20) + 20 - 1 = 19 -> clamped to 10
    paper = k3_kl(logp, negative, "paper")
    d = torch.tensor([1.0, -1.0, 20.0])
    assert paper[0, 0].item() == pytest.approx(math.e - 2) and paper[0, 2].item() == pytest.approx(10.0)
    assert torch.all(k3_kl(logp, logp) == 0)
    with pytest.raises(ValueError):
        k3_kl(logp, negative, "sideways")


def test_inter_class_terms_combine_and_detach_the_negative():
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    logp = torch.tensor([[-1.0, -0.5, -9.0]], requires_grad=True)
    negative = torch.tensor([[-1.5, -0.2, -9.0]], requires_grad=True)
    terms = inter_class_per_token(logp, negative, gamma=0.01, eta_anchor=0.03, eta_negative=0.03)
    kl = (k3_kl(logp.detach(), negative.detach())[0, :2]).mean().item()
    expected = -0.01 * kl + 0.03 * (1.0 + 0.5) / 2 + 0.03 * (1.5 + 0.2) / 2  # entropies: -mean log-probability
    total = token_mean(terms["total"], mask)
    assert total.item() == pytest.approx(expected, rel=1e-5)
    assert token_mean(terms["inter_class_kl"], mask).item() == pytest.approx(kl, rel=1e-5)
    assert token_mean(terms["entropy_negative"], mask).item() == pytest.approx((1.5 + 0.2) / 2)
    total.backward()
    assert negative.grad is None and logp.grad is not None  # the negative pass carries no gradient


def test_rewards_as_released():
    good = "<think>long wings</think> <answer>Laysan Albatross</answer>"
    assert format_reward(good) == 1.0 and accuracy_reward(good, "laysan albatross") == 1.0
    assert fgvr_reward(good, "Laysan Albatross") == pytest.approx(1.0)
    spaced = "< think >x</ think >\n< answer > Laysan Albatross </ answer >"
    assert format_reward(spaced) == 1.0
    assert fgvr_reward("<answer>Laysan Albatross</answer>", "Laysan Albatross") == pytest.approx(0.9)
    assert fgvr_reward("<think>x</think><answer>Sooty</answer>", "Laysan Albatross") == pytest.approx(0.1)
    assert fgvr_reward("Laysan Albatross", "Laysan Albatross") == 0.0


def test_config_defaults_and_ablations():
    from finebench.trainers.config import ABLATIONS, TAPO, TAPO_7B

    assert (TAPO.clip_low, TAPO.clip_high, TAPO.group_size, TAPO.kl_weight) == (0.2, 0.28, 10, 0.01)
    assert (TAPO.entropy_anchor, TAPO.entropy_negative, TAPO.format_weight) == (0.03, 0.03, 0.1)
    assert (TAPO_7B.epochs, TAPO_7B.global_batch_size, TAPO_7B.rollout_batch_size) == (5, 64, 192)
    assert not ABLATIONS["dapo"].inter_class and ABLATIONS["dapo"].rollouts_positive == 0
    assert ABLATIONS["dapo+intra"].rollouts_positive == 5 and not ABLATIONS["dapo+intra"].inter_class
    assert ABLATIONS["dapo+inter"].inter_class and ABLATIONS["dapo+inter"].rollouts_positive == 0
    assert {"tapo", "dapo", "cls-rl", "no-thinking-rl"} <= set(ABLATIONS)


def test_triplets_pair_each_anchor_with_its_class_and_the_nearest_other(tmp_path):
    import json

    import numpy as np

    from finebench.scoring.encoders import load_encoder
    from finebench.trainers.triplets import (
        build_triplets,
        nearest_by_name,
        nearest_from_vectors,
        save_table,
        save_triplets,
    )

    vectors = {"a": np.array([1.0, 0.0]), "b": np.array([0.9, 0.1]), "c": np.array([0.0, 1.0])}
    table = nearest_from_vectors(vectors)
    assert table["a"].nearest == "b" and table["b"].nearest == "a" and table["c"].nearest == "b"
    samples = [(f"{name}/{i}", name) for name in "abc" for i in range(4)]
    triplets = build_triplets(samples, table, seed=1)
    assert len(triplets) == 12 and triplets == build_triplets(samples, table, seed=1)
    for triplet in triplets:
        assert triplet.positive != triplet.anchor and triplet.positive.split("/")[0] == triplet.anchor_class
        assert triplet.negative.split("/")[0] == table[triplet.anchor_class].nearest == triplet.negative_class
    names = nearest_by_name(["Laysan Albatross", "Black Footed Albatross", "Common Raven", "American Crow"],
                            load_encoder("minilm"))
    assert names["Common Raven"].nearest == "American Crow"
    assert json.loads(save_table(names, tmp_path / "nearest.json").read_text())["American Crow"]["nearest"]
    assert len(save_triplets(triplets, tmp_path / "t.jsonl").read_text().splitlines()) == 12
    with pytest.raises(ValueError, match="without a second image"):
        build_triplets([("a/0", "a"), ("b/0", "b"), ("b/1", "b")], table)


def test_incorrect_rollouts_weigh_less_in_the_inter_class_term():
    from finebench.trainers.losses import kl_weights_by_correctness

    weights = kl_weights_by_correctness(torch.tensor([1, 0]))
    assert weights.tolist() == pytest.approx([1.0, 0.1])
    mask = torch.ones(2, 2)
    logp = torch.tensor([[-1.0, -1.0], [-1.0, -1.0]])
    negative = torch.tensor([[-2.0, -2.0], [-2.0, -2.0]])
    weighted = token_mean(inter_class_per_token(logp, negative, kl_sample_weights=weights)["inter_class_kl"], mask)
    plain = token_mean(inter_class_per_token(logp, negative)["inter_class_kl"], mask)
    assert weighted.item() == pytest.approx(plain.item() * (1 + 0.1) / 2)


def test_easyr1_export_of_real_few_shot_triplets(prepared_home, manifests, tmp_path):
    import datasets
    import numpy as np
    import pyarrow.parquet as pq

    from finebench.trainers.easyr1 import easyr1_rows, write_easyr1
    from finebench.trainers.triplets import build_triplets, nearest_from_vectors

    rows = pq.read_table(prepared_home / "fewshot" / "pet_4shot_seed1.parquet").to_pylist()
    classes = sorted({row["class_name"] for row in rows})
    rng = np.random.default_rng(0)
    table = nearest_from_vectors({name: rng.normal(size=8) for name in classes})
    triplets = build_triplets([(row["sample_id"], row["class_name"]) for row in rows], table)
    images = {row["sample_id"]: row["image"]["bytes"] for row in rows}
    questions = {line.question for line in manifests["pet", "seen"].lines}
    path = write_easyr1(easyr1_rows(triplets, images, questions), tmp_path / "tapo_train.parquet")
    exported = datasets.load_dataset("parquet", data_files=str(path), split="train")
    assert len(exported) == len(rows) == 88
    first = exported[0]
    assert first["problem"].startswith("<image>") and first["problem"][7:] in questions
    assert first["answer"] in classes and first["negative_class"] == table[first["answer"]].nearest
    assert first["image_noisy"][0].size == first["images"][0].size == first["image_aug"][0].size
