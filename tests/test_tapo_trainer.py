"""TAPOTrainer on a tiny Qwen2.5-VL: intra-class rollouts, pooled advantages, the update image, the
negative-image pass and dynamic sampling, each checked on one generation batch."""

import io
from types import SimpleNamespace

import datasets
import pytest
import torch
from PIL import Image
from transformers import AutoProcessor

from finebench.errors import FinebenchError
from finebench.harness.tinymodel import build_tiny_qwen2_5_vl
from finebench.trainers.config import TAPO, TAPO_7B, TAPOConfig
from finebench.trainers.tapo import TAPOTrainer, batch_layout, check_arguments, grpo_config
from finebench.trainers.tapo_data import rl_prompt, row_features

COLOURS = {"anchor": "red", "positive": "blue", "negative": "green"}


def cell(colour: str) -> dict:
    buffer = io.BytesIO()
    Image.new("RGB", (56, 56), colour).save(buffer, format="PNG")
    return {"bytes": buffer.getvalue(), "path": f"{colour}.png"}


def row(anchor_id: str, difficulty: str = "mixed", negative: str = "green") -> dict:
    return {"prompt": rl_prompt("What kind of bird is this?"), "image": cell("red"), "positive_image": cell("blue"),
            "negative_image": cell(negative), "solution": "Cardinal", "negative_class": "Summer Tanager",
            "anchor_id": anchor_id, "dataset": "bird", "difficulty": difficulty}


def dataset(rows):
    features = row_features()
    features["difficulty"] = datasets.Value("string")
    return datasets.Dataset.from_list(rows, features=features)


def accuracy(completions, rollout_image, difficulty, **_):
    """easy groups are always right, hard ones always wrong, mixed ones right on the anchor only."""
    return [float(level == "easy" or (level == "mixed" and image == "anchor"))
            for image, level in zip(rollout_image, difficulty)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = build_tiny_qwen2_5_vl(tmp_path_factory.mktemp("tiny") / "model")
    return folder, AutoProcessor.from_pretrained(folder, padding_side="left")


def make_trainer(tiny, tmp_path, rows, tapo=None, **training):
    folder, processor = tiny
    tapo = tapo or TAPOConfig(rollouts_anchor=2, rollouts_positive=2, min_pixels=3136, max_pixels=12544)
    settings = dict(output_dir=str(tmp_path / "out"), use_cpu=True, bf16=False, per_device_train_batch_size=4,
                    max_completion_length=6, report_to=[], save_strategy="no", seed=0)
    settings.update(training)
    trainer = TAPOTrainer(model=str(folder), args=grpo_config(tapo, **settings), train_dataset=dataset(rows),
                          processing_class=processor, tapo=tapo, reward_funcs=[accuracy], accuracy_func=accuracy)
    trainer.model.train()
    return trainer


def colour_of(image) -> str:
    return {(255, 0, 0): "red", (0, 0, 255): "blue", (0, 128, 0): "green"}[image.convert("RGB").getpixel((0, 0))]


@pytest.mark.parametrize("update_on", ["own", "anchor"])
def test_intra_class_group_comes_from_two_images_with_pooled_advantages(tiny, tmp_path, update_on):
    tapo = TAPOConfig(rollouts_anchor=2, rollouts_positive=2, update_on=update_on,
                      min_pixels=3136, max_pixels=12544)
    trainer = make_trainer(tiny, tmp_path, [row("a")], tapo)
    seen = []
    generate = trainer._generate_single_turn

    def spy(prompt_ids, images, *args):
        seen.extend(colour_of(image_list[0]) for image_list in images)
        return generate(prompt_ids, images, *args)

    trainer._generate_single_turn = spy
    ds = trainer.train_dataset
    output = trainer._generate_and_score_completions([ds[0] for _ in range(4)])
    assert seen == ["red", "red", "blue", "blue"]  # n1 rollouts on the anchor, n2 on the positive
    # rewards 1, 1, 0, 0 pooled into one group: mean 0.5, std 0.577; two separate groups would give zeros
    assert output["advantages"].tolist() == pytest.approx([0.866, 0.866, -0.866, -0.866], abs=1e-3)
    # the update's image inputs: each rollout's own image (release) or the anchor for all (paper)
    processor = trainer.processing_class.image_processor
    encoded = {colour: processor(images=[Image.new("RGB", (56, 56), colour)], return_tensors="pt")["pixel_values"]
               for colour in ("red", "blue")}
    rows_per_image = encoded["red"].shape[0]
    pixel_values = output["pixel_values"].split(rows_per_image)
    expected = ["red", "red", "blue", "blue"] if update_on == "own" else ["red"] * 4
    for values, colour in zip(pixel_values, expected):
        assert torch.equal(values, encoded[colour])


def test_negative_pass_scores_the_same_completion_with_the_negative_image(tiny, tmp_path):
    trainer = make_trainer(tiny, tmp_path, [row("a"), row("same", negative="red")],
                           TAPOConfig(rollouts_anchor=2, rollouts_positive=0, min_pixels=3136, max_pixels=12544,
                                      dynamic_sampling=False), per_device_train_batch_size=2)

    def policy_logps(output):
        ids = torch.cat([output["prompt_ids"], output["completion_ids"]], dim=1)
        mask = torch.cat([output["prompt_mask"], output["completion_mask"]], dim=1)
        with torch.no_grad():
            return trainer._get_per_token_logps_and_entropies(
                trainer.model, ids, mask, output["completion_ids"].size(1), pixel_values=output["pixel_values"],
                image_grid_thw=output["image_grid_thw"], num_images=output["num_images"],
                mm_token_type_ids=output.get("mm_token_type_ids"))[0]

    ds = trainer.train_dataset
    same = trainer._generate_and_score_completions([ds[1], ds[1]])
    mask = same["completion_mask"].bool()
    assert torch.allclose(same["negative_per_token_logps"][mask], policy_logps(same)[mask], atol=1e-5)
    other = trainer._generate_and_score_completions([ds[0], ds[0]])
    assert other["negative_per_token_logps"].shape == other["completion_ids"].shape
    assert not torch.allclose(other["negative_per_token_logps"][other["completion_mask"].bool()],
                              policy_logps(other)[other["completion_mask"].bool()], atol=1e-7)
    assert other["kl_weights"].tolist() == [1.0, 1.0]  # mixed: both rollouts are on the anchor, hence right


def test_dynamic_sampling_drops_all_right_and_all_wrong_groups(tiny, tmp_path):
    refills = [row(f"m{i}") for i in range(3)]
    trainer = make_trainer(tiny, tmp_path, refills, per_device_train_batch_size=12)
    batch = [dataset([example])[0] for example in (row("easy", "easy"), row("hard", "hard"), row("mix"))
             for _ in range(4)]
    output = trainer._generate_and_score_completions(batch)
    record = trainer.sampling_history[-1]
    assert (record.rounds, record.informative_first_round, record.filled_with_uninformative) == (2, 1, 0)
    assert record.anchors[0] == "mix" and all(anchor.startswith("m") for anchor in record.anchors[1:])
    assert output["advantages"].shape == (12,) and output["advantages"].abs().min() > 0.5


def test_dynamic_sampling_stops_at_its_bound(tiny, tmp_path):
    tapo = TAPOConfig(rollouts_anchor=2, rollouts_positive=2, max_resampling_rounds=2, min_pixels=3136,
                      max_pixels=12544)
    trainer = make_trainer(tiny, tmp_path, [row("h", "hard")], tapo)
    output = trainer._generate_and_score_completions([trainer.train_dataset[0]] * 4)
    assert trainer.sampling_history[-1].rounds == 3  # the first draw and two redraws, then it gives up
    assert trainer.sampling_history[-1].filled_with_uninformative == 1
    assert output["advantages"].abs().sum() == 0  # an all-wrong group teaches the policy loss nothing


def test_settings_that_would_break_groups_are_refused(tiny, tmp_path):
    with pytest.raises(FinebenchError, match="num_generations is 8 but n1 \\+ n2 = 4"):
        make_trainer(tiny, tmp_path, [row("a")], num_generations=8, per_device_train_batch_size=8)
    # two devices of 2 rollouts each: TRL accepts it (4 in all), but a group of 4 would span both devices
    two_devices = SimpleNamespace(num_generations=4, loss_type="dapo", per_device_train_batch_size=2,
                                  steps_per_generation=1)
    with pytest.raises(FinebenchError, match="straddle two devices"):
        check_arguments(TAPOConfig(rollouts_anchor=2, rollouts_positive=2), two_devices)


def test_batch_layout_reproduces_the_release_batches():
    # 128 prompts x 10 rollouts per optimiser step, 384 x 10 per generation, over 4 GPUs x 2 rollouts
    assert batch_layout(TAPO, processes=4, per_device=2) == (160, 480)
    assert batch_layout(TAPO_7B, processes=4, per_device=2) == (80, 240)
    assert batch_layout(TAPO, processes=1, per_device=10) == (128, 384)
    with pytest.raises(FinebenchError, match="cannot be split into 4 processes x 3 per device"):
        batch_layout(TAPO, processes=4, per_device=3)


def test_rows_and_reward_must_agree_on_thinking():
    from finebench.trainers.config import ABLATIONS
    from finebench.trainers.tapo_data import check_prompts

    rows = [row("a")]
    check_prompts(rows, TAPO)
    with pytest.raises(FinebenchError, match="think-then-answer responses but No-Thinking-RL rewards answer-only"):
        check_prompts(rows, ABLATIONS["no-thinking-rl"])


def test_rollouts_use_vllm_only_where_it_can_run(monkeypatch):
    import importlib.util

    from finebench.trainers.cli import generation_backend

    assert generation_backend("off") is None and generation_backend("server") == "server"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object() if name == "vllm" else None)
    assert generation_backend("auto") == "colocate"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert generation_backend("auto") is None  # no GPU: HF generate


def test_tapo_loss_is_trl_dapo_loss_plus_the_token_averaged_inter_class_terms(tiny, tmp_path):
    from trl import GRPOTrainer

    from finebench.trainers.losses import token_mean

    trainer = make_trainer(tiny, tmp_path, [row("a")])
    output = trainer._generate_and_score_completions([trainer.train_dataset[0]] * 4)
    model = trainer.model
    trainer.current_gradient_accumulation_steps = 1  # what the training loop sets before a step
    tapo_loss = trainer._compute_loss(model, output)
    dapo_loss = GRPOTrainer._compute_loss(trainer, model, output)
    ids = torch.cat([output["prompt_ids"], output["completion_ids"]], dim=1)
    mask = torch.cat([output["prompt_mask"], output["completion_mask"]], dim=1)
    logps = trainer._get_per_token_logps_and_entropies(
        model, ids, mask, output["completion_ids"].size(1), pixel_values=output["pixel_values"],
        image_grid_thw=output["image_grid_thw"], num_images=output["num_images"],
        mm_token_type_ids=output.get("mm_token_type_ids"))[0]
    weights = torch.tensor([1.0, 1.0, 0.1, 0.1])  # the release's: right (anchor) 1, wrong (positive) 0.1
    assert torch.equal(output["kl_weights"], weights)
    negative = output["negative_per_token_logps"]
    d = (negative - logps).clamp(-20, 20)  # the release's direction: log pi(o|x_neg) - log pi(o|x)
    kl = (d.exp() - d - 1).clamp(-10, 10) * weights.unsqueeze(-1)
    by_hand = -0.01 * kl + 0.03 * -logps + 0.03 * -negative  # -gamma KL + eta1 H + eta2 H_neg, per token
    expected = dapo_loss + token_mean(by_hand, output["completion_mask"])
    assert tapo_loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert tapo_loss.item() != pytest.approx(dapo_loss.item(), rel=1e-3)


def test_a_model_that_cannot_be_loaded_is_explained(tmp_path):
    from finebench.trainers.models import load_model_and_processor

    (tmp_path / "empty").mkdir()
    with pytest.raises(FinebenchError, match="cannot load the model") as raised:
        load_model_and_processor(str(tmp_path / "empty"))
    assert "config.json" in raised.value.fix


def test_trl_policy_loss_as_configured_is_the_release_objective(tiny, tmp_path):
    """clip 0.2 / 0.28, the dual clip 3.0 (TRL's `delta`), token mean: against the hand-checked oracle."""
    from oracles import clipped_policy_loss
    from trl import GRPOTrainer

    trainer = make_trainer(tiny, tmp_path, [row("a")])
    output = trainer._generate_and_score_completions([trainer.train_dataset[0]] * 4)
    trainer.current_gradient_accumulation_steps = 1
    ids = torch.cat([output["prompt_ids"], output["completion_ids"]], dim=1)
    mask = torch.cat([output["prompt_mask"], output["completion_mask"]], dim=1)
    with torch.no_grad():
        logps = trainer._get_per_token_logps_and_entropies(
            trainer.model, ids, mask, output["completion_ids"].size(1), pixel_values=output["pixel_values"],
            image_grid_thw=output["image_grid_thw"], num_images=output["num_images"],
            mm_token_type_ids=output.get("mm_token_type_ids"))[0]
    # ratios e^1, e^-1, e^2 (beyond the dual clip for A < 0), e^0.1 across tokens; A = +0.87, +0.87, -0.87, -0.87
    shifts = torch.tensor([1.0, -1.0, 2.0, 0.1]).repeat(logps.size(1) // 4 + 1)[:logps.size(1)]
    output["old_per_token_logps"] = logps - shifts
    trl_loss = GRPOTrainer._compute_loss(trainer, trainer.model, output)
    expected = clipped_policy_loss(logps, output["old_per_token_logps"], output["advantages"],
                                   output["completion_mask"])
    assert trl_loss.item() == pytest.approx(expected.item(), rel=1e-4)
    without_dual = clipped_policy_loss(logps, output["old_per_token_logps"], output["advantages"],
                                       output["completion_mask"], clip_dual=None)
    assert expected.item() != pytest.approx(without_dual.item(), rel=1e-3)  # the dual clip did bind


def test_the_replay_returns_what_trl_generate_returns(tiny, tmp_path):
    """TRL's _generate returns (prompt_ids, completion_ids, tool_mask, completions, logprobs, extra_fields, images,
    tool_images) (pinned in test_tapo_trl_contract.py); the replay must hand back the same, in that order."""
    from finebench.trainers.tapo import Rollout

    trainer = make_trainer(tiny, tmp_path, [row("a")])
    example = trainer.train_dataset[0]
    rollout = Rollout(example, [1, 2, 3], [4, 5], [{"role": "assistant", "content": "x"}], 1.0, [-0.5, -0.25])
    with trainer._replaying([rollout]):
        replayed = trainer._generate(["a prompt"])
    assert replayed[:6] == ([[1, 2, 3]], [[4, 5]], None, [rollout.completion], [[-0.5, -0.25]], {})
    assert replayed[6] == [[example["image"]]] and replayed[7] == []
