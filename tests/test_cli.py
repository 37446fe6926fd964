import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from finebench.cli import build_parser, main


def leaf_commands(parser, path=()):
    """(words, parser) of every command that runs something, walking the subcommands (a command that runs by
    itself and has subcommands too, like `leaderboard` and `leaderboard space`, counts once for each)."""
    subparsers = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    if not subparsers or (path and parser.get_default("handler") is not None):
        yield path, parser
    for action in subparsers:
        for name, child in action.choices.items():
            yield from leaf_commands(child, (*path, name))


def test_every_command_has_help_and_something_to_run(capsys):
    commands = list(leaf_commands(build_parser()))
    assert len(commands) == 40 and {("train", "tapo"), ("compare",), ("leaderboard",), ("leaderboard", "space")} <= \
        {words for words, _ in commands}
    for words, parser in commands:
        assert parser.get_default("handler") is not None or words == ("eval",), words
        if words == ("eval",):  # everything after `eval` is lmms-eval's: its help is ours, printed by run_eval
            assert main(["eval", "--help"]) == 0
            assert "usage: finebench eval" in capsys.readouterr().out
            continue
        with pytest.raises(SystemExit) as exited:
            main([*words, "--help"])
        assert exited.value.code == 0
        assert "usage: finebench" in capsys.readouterr().out


def test_old_spellings_still_work_and_say_so(tmp_path, capsys, manifest_dir):
    assert main(["fixtures", str(tmp_path / "old"), "--manifests", str(manifest_dir), "--datasets", "pet",
                 "--lines-per-split", "2", "--train-per-class", "1"]) == 0
    assert "now given with --output" in capsys.readouterr().err and (tmp_path / "old").is_dir()
    assert main(["tables", "--source", "reported", "--table", "1"]) == 0
    captured = capsys.readouterr()
    assert "--source is now --entries" in captured.err and "Table 1" in captured.out


def test_top_level_help_teaches_the_first_run():
    result = subprocess.run([sys.executable, "-m", "finebench", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "finebench prepare --data-root" in result.stdout
    assert "FINEBENCH_HOME" in result.stdout


def test_manifests_command_verifies_all_twelve(manifest_dir, capsys):
    assert main(["manifests", "--manifests", str(manifest_dir)]) == 0
    out = capsys.readouterr().out
    assert "35566 lines in all" in out and out.count("ok") == 12


def test_user_errors_exit_2_with_the_fix(manifest_dir, home, tmp_path, capsys):
    assert main(["prepare", "--data-root", str(tmp_path / "missing"), "--manifests", str(manifest_dir)]) == 2
    err = capsys.readouterr().err
    assert "is not a folder" in err and "fix:" in err and "Traceback" not in err


def test_status_after_prepare(small_archives, manifest_dir, home, capsys):
    assert main(["prepare", "--data-root", str(small_archives), "--manifests", str(manifest_dir), "--datasets", "pet",
                 "--allow-missing", "--seeds", "3"]) == 0
    out = capsys.readouterr().out
    assert "pet_unseen" in out and "written" in out
    assert main(["status"]) == 0
    status = capsys.readouterr().out
    assert "pet_seen" in status and "lite" in status and "pet_4shot_seed3" in status


def test_tasks_dir_holds_the_yamls(capsys):
    assert main(["tasks-dir"]) == 0
    folder = Path(capsys.readouterr().out.strip())
    assert (folder / "finegrained_bird_seen_closed.yaml").is_file() and (folder / "utils.py").is_file()


def test_fixtures_command(manifest_dir, tmp_path, capsys):
    assert main(["fixtures", "--output", str(tmp_path), "--manifests", str(manifest_dir), "--datasets", "dog",
                 "--lines-per-split", "2", "--layout", "fine-r1", "--size", "16x12"]) == 0
    assert (tmp_path / "dogs_120" / "lists" / "train_list.mat").is_file()
    assert len(list((tmp_path / "dogs_120" / "Images").rglob("*.jpg"))) == 4 + 120 * 5


def test_nonsense_numbers_are_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["prepare", "--data-root", ".", "--workers", "0"])
    assert exited.value.code == 2
    assert "expected a whole number of at least 1, not '0'" in capsys.readouterr().err


def test_baselines_run_appends_the_extra_model_arguments(home, monkeypatch, capsys):
    import finebench.harness.doctor
    import finebench.harness.evalrun

    commands, preflights = [], []
    monkeypatch.setattr(finebench.harness.evalrun, "run_lmms_eval",
                        lambda command, encoder, variables: commands.append(command) or 1)
    monkeypatch.setattr(finebench.harness.doctor, "preflight_evaluation",
                        lambda *args, encoder: preflights.append(args) or {})
    assert main(["baselines", "run", "SigLIP-L", "--model-args", "device=cpu", "--limit", "2"]) == 2
    assert commands[0][:4] == ["--model", "finebench_clip", "--model_args", "name=siglip-l,device=cpu"]
    assert preflights == [("baselines run", commands[0])]  # checked before the run
    assert "lmms-eval failed for SigLIP-L" in capsys.readouterr().err


def test_a_second_demo_in_the_same_home_is_refused_at_once(home, capsys):
    from finebench import atomic
    from finebench.demo import demo_home
    from finebench.errors import FinebenchError as Busy

    with atomic.exclusive(demo_home() / ".demo.lock", Busy("held by the first demo")):
        assert main(["demo", "--models", "ground_truth"]) == 2
    assert "another finebench demo is running in" in capsys.readouterr().err
    assert not (demo_home() / "archives").exists()  # refused before writing anything


def test_a_command_with_a_positional_named_run_still_runs(tmp_path, capsys):
    assert main(["rescore", str(tmp_path / "no-run"), "--output", str(tmp_path / "out")]) == 2
    assert "no lmms-eval results" in capsys.readouterr().err  # rescore itself answered, with its own error
