"""TAPOConfig declares every knob once; `finebench train tapo` derives its flags from it."""

import dataclasses

import pytest

from finebench.cli import build_parser
from finebench.errors import FinebenchError
from finebench.trainers.cli import chosen_config
from finebench.trainers.config import PRESETS, TAPO, TAPOConfig, knobs

BASE = ["train", "tapo", "--model", "m", "--data", "d", "--output", "o"]


def parse(*flags):
    return chosen_config(build_parser().parse_args([*BASE, *flags]))


def test_every_knob_has_a_flag_help_and_source():
    tapo_parser = build_parser()._subparsers._group_actions[0].choices["train"]._subparsers._group_actions[0] \
        .choices["tapo"]
    flags = {option for action in tapo_parser._actions for option in action.option_strings}
    for spec in knobs():
        assert f"--{spec.name.replace('_', '-')}" in flags, spec.name
        assert spec.metadata["help"] and spec.metadata["source"], spec.name
    assert {spec.name for spec in dataclasses.fields(TAPOConfig)} - {spec.name for spec in knobs()} == {"name", "notes"}


def test_the_preset_is_kept_unless_a_flag_changes_it():
    assert parse() == TAPO
    assert parse("--preset", "tapo-7b") == PRESETS["tapo-7b"]
    assert parse("--preset", "dapo", "--kl-weight", "0.5").kl_weight == 0.5
    assert parse("--preset", "dapo", "--kl-weight", "0.5").rollouts_positive == 0  # the rest is the preset's


def test_flags_of_every_kind_and_the_old_shorthands():
    config = parse("--rollouts", "3:2", "--pixels", "3136:12544", "--update-on", "anchor", "--kl-direction", "paper",
                   "--no-dynamic-sampling", "--accuracy-band", "0.1:0.9", "--clip-dual", "none",
                   "--max-completion-length", "64", "--max-resampling-rounds", "3")
    assert (config.rollouts_anchor, config.rollouts_positive) == (3, 2)
    assert (config.min_pixels, config.max_pixels) == (3136, 12544)
    assert config.update_on == "anchor" and not config.updates_on_own_image and config.kl_direction == "paper"
    assert not config.dynamic_sampling and config.accuracy_band == (0.1, 0.9) and config.clip_dual is None
    assert (config.max_completion_length, config.max_resampling_rounds) == (64, 3)
    assert parse("--rollouts", "3:2", "--rollouts-positive", "4").rollouts_positive == 4  # the knob's own flag wins


@pytest.mark.parametrize("flags, problem", [
    (("--rollouts-anchor", "0"), "rollouts_anchor (n1) is 0"),
    (("--accuracy-band", "0.9:0.1"), "accuracy_band"),
    (("--pixels", "9000:100"), "pixels 9000:100"),
    (("--clip-dual", "0.5"), "clip_dual 0.5 must exceed 1"),
    (("--top-p", "0"), "top_p"),
])
def test_settings_that_cannot_work_are_refused_with_the_reason(flags, problem):
    with pytest.raises(FinebenchError, match="TAPO settings that cannot work") as caught:
        parse(*flags)
    assert problem in str(caught.value)


def test_a_bad_choice_or_pair_is_an_argparse_error(capsys):
    for flags in (("--update-on", "positive"), ("--rollouts", "5"), ("--kl-direction", "sideways")):
        with pytest.raises(SystemExit):
            parse(*flags)
    assert "invalid" in capsys.readouterr().err
