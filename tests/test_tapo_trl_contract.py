"""The TRL hooks TAPOTrainer overrides or relies on, pinned: a TRL release that changes them fails here,
by name, instead of training something that is silently not TAPO."""

import inspect
import re

import pytest
import trl
from trl import GRPOConfig, GRPOTrainer

from finebench.trainers.tapo import TAPOTrainer


def source(hook: str) -> str:
    return inspect.getsource(getattr(GRPOTrainer, hook))


def parameters(hook: str) -> list[str]:
    return list(inspect.signature(getattr(GRPOTrainer, hook)).parameters)


def pinned(condition: bool, hook: str, what: str) -> None:
    if not condition:
        pytest.fail(f"TRL {trl.__version__} changed GRPOTrainer.{hook}: {what}. TAPOTrainer (trainers/tapo.py) relies "
                    "on it: adapt the override, or pin trl in pyproject.toml to a release that passes this test.")


def test_groups_are_consecutive_copies_of_one_row():
    pinned("mini_repeat_count=self.num_generations" in source("_get_train_sampler"), "_get_train_sampler",
           "the sampler no longer repeats each row num_generations times in a row (TAPO's groups)")
    pinned(source("_generate_and_score_completions").count(".view(-1, num_generations)") >= 1,
           "_generate_and_score_completions", "advantages are no longer normalised over consecutive groups")


def test_generation_and_scoring_hooks():
    pinned(parameters("_generate_and_score_completions") == ["self", "inputs"], "_generate_and_score_completions",
           "its signature")
    scoring = source("_generate_and_score_completions")
    for needle, what in [("self._generate(prompts)", "it no longer generates through self._generate(prompts)"),
                         ('"image" in inputs[0]', "rows' images are no longer read from the `image` column"),
                         ("self._calculate_rewards(inputs", "rewards are no longer computed on the rows given"),
                         ('"completion_ids": completion_ids', "the output lost completion_ids"),
                         ('"num_items_in_batch": num_items_in_batch', "the output lost num_items_in_batch")]:
        pinned(needle in scoring, "_generate_and_score_completions", what)
    pinned("self._generate_and_score_completions(generation_batch)" in source("_prepare_inputs"), "_prepare_inputs",
           "generation is no longer done through _generate_and_score_completions")


def test_generate_returns_what_the_replay_returns():
    pinned(parameters("_generate") == ["self", "prompts"], "_generate", "its signature")
    returned = re.findall(r"return (.+)", source("_generate"))[-1].strip()
    expected = "prompt_ids, completion_ids, tool_mask, completions, logprobs, extra_fields, images, tool_images"
    pinned(returned == expected,
           "_generate", f"it now returns {returned}")
    pinned(parameters("_generate_single_turn") == ["self", "prompt_ids", "images", "multimodal_fields",
                                                   "num_generations", "has_tool_images"],
           "_generate_single_turn", "its signature")
    pinned("ordered_set_of_prompt_ids = all_prompts[::num_generations]" in inspect.getsource(
        __import__("trl.generation.vllm_generation", fromlist=["x"])), "vllm_generation.generate",
        "vLLM's server mode no longer samples num_generations completions per run of identical prompts")
    pinned(parameters("_tokenize_prompts") == ["self", "prompts"]
           and "return prompt_ids, images, multimodal_fields" in source("_tokenize_prompts"),
           "_tokenize_prompts", "its signature or return value")


def test_loss_hooks():
    logps = parameters("_get_per_token_logps_and_entropies")
    for name in ("model", "input_ids", "attention_mask", "logits_to_keep", "batch_size", "pixel_values",
                 "image_grid_thw", "num_images", "mm_token_type_ids"):
        pinned(name in logps, "_get_per_token_logps_and_entropies", f"the parameter {name} is gone")
    loss = source("_compute_loss")
    pinned(parameters("_compute_loss") == ["self", "model", "inputs"], "_compute_loss", "its signature")
    pinned(loss.count("self._get_per_token_logps_and_entropies(") == 1, "_compute_loss",
           "it no longer computes the policy log-probabilities in exactly one call (TAPO captures them)")
    pinned('normalizer = inputs["num_items_in_batch"].clamp(min=1.0) / self.accelerator.num_processes' in loss
           and "normalizer * self.current_gradient_accumulation_steps / self.args.steps_per_generation" in loss,
           "_compute_loss", "the 'dapo' token normaliser TAPO's extra terms share")
    pinned("coef_1 = torch.clamp(coef_1, max=self.args.delta)" in loss, "_compute_loss",
           "`delta` no longer caps the ratio (TAPO uses it as the release's dual clip)")


def test_config_fields():
    fields = GRPOConfig.__dataclass_fields__
    for name in ("loss_type", "epsilon", "epsilon_high", "delta", "beta", "num_generations", "steps_per_generation",
                 "scale_rewards", "max_completion_length", "temperature", "top_p",
                 "vllm_importance_sampling_correction"):
        pinned(name in fields, "GRPOConfig", f"the field {name} is gone")


def test_tapo_overrides_exactly_these_hooks():
    overridden = {name for name, value in vars(TAPOTrainer).items() if callable(value) and hasattr(GRPOTrainer, name)}
    assert overridden == {"__init__", "_generate_and_score_completions", "_generate", "_generate_single_turn",
                          "_get_per_token_logps_and_entropies", "_compute_loss"}
