"""The install: the lock that the README's commands and CI use, the checks of a fresh environment, and
what a command says when the extra it needs is not installed.

CI runs this suite in a virtual environment made by the README's test command from the lock, so the
tests here that look at "the installed environment" look at exactly what a new user gets.
"""

import json
import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from finebench import extras
from finebench.harness import doctor

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def readme_install_commands():
    """The README's command blocks that install (the two a new user copies), joined as the trial does."""
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    return [" ".join(line.rstrip("\\").strip() for line in block.strip().splitlines())
            for block in blocks if "pip install" in block]


def pyproject():
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def test_the_readme_commands_and_ci_install_from_the_lock():
    demo, tests = readme_install_commands()[:2]
    assert '-e ".[eval]" -c constraints.txt' in demo and "finebench demo" in demo
    assert '-e ".[dev]" -c constraints.txt' in tests and "pytest" in tests
    ci = (REPO / ".ci" / "run").read_text()
    assert tests in ci, "CI must run the README's test command as written"
    assert 'CI="${CI:-true}"' in ci  # skipped tests fail under CI


@pytest.mark.parametrize("lock, selected", [("constraints.txt", ("dev",)),
                                            ("constraints-gpu.txt", ("eval", "clip", "leaderboard", "train",
                                                                     "deepspeed", "vllm"))])
def test_each_lock_pins_every_requirement_within_its_bounds(lock, selected):
    pins = doctor.read_lock(REPO / lock)
    project = pyproject()["project"]
    wanted = [*project["dependencies"]]
    for extra in selected:
        for text in project["optional-dependencies"][extra]:
            if text.startswith("finebench["):
                inner = text[len("finebench["):-1].split(",")
                wanted += [t for name in inner for t in project["optional-dependencies"][name]]
            else:
                wanted.append(text)
    for text in wanted:
        requirement = Requirement(text)
        name = extras.normalise(requirement.name)
        assert name in pins, f"{name} is not in {lock}: run .ci/lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), \
            f"{lock} pins {name}=={pins[name]}, outside {requirement.specifier}: run .ci/lock"
    assert "do not edit" in (REPO / lock).read_text().splitlines()[0]


def test_the_lock_keeps_filelock_below_the_release_that_broke_lmms_eval():
    for lock in ("constraints.txt", "constraints-gpu.txt"):
        assert tuple(map(int, doctor.read_lock(REPO / lock)["filelock"].split(".")[:2])) < (4, 3)
    assert any(text.startswith("filelock") and "<4.3" in text
               for text in pyproject()["project"]["optional-dependencies"]["eval"])


def test_this_environment_is_the_lock():
    """What CI tested is what the lock says: the README's test command installed it from the lock."""
    check = doctor.check_lock(REPO / "constraints.txt")
    assert check.status == doctor.OK, check.found


@pytest.mark.slow(seconds=30)
def test_a_fresh_install_passes_doctor_then_evaluates_through_the_lmms_eval_script(prepared_home, tmp_path):
    environment = {**os.environ, "FINEBENCH_HOME": str(prepared_home), "FINEBENCH_QUEUE": str(tmp_path / "q"),
                   "FINEBENCH_LEADERBOARD_RESULTS": str(tmp_path / "r")}
    result = subprocess.run([BIN / "finebench", "doctor", "--encoder", "minilm"], capture_output=True,
                            text=True, env=environment, timeout=600)
    table = result.stdout
    assert result.returncode == 0 and table.rstrip().endswith("no blockers"), table + result.stderr
    assert "✓ versions" in table and "✓ lmms-eval" in table and "✓ tasks" in table and "'minilm' loads" in table
    assert "✓ prepared bird_seen" in table and str(prepared_home / "archives") in table  # where it came from
    output = tmp_path / "run"
    subprocess.run([BIN / "lmms-eval", "--model", "ground_truth", "--tasks", "finegrained-lite_bird_seen_closed",
                    "--include_path", str(REPO / "tasks"), "--log_samples", "--output_path", str(output),
                    "--verbosity", "DEBUG"], check=True, capture_output=True, env=environment, timeout=600)
    results = json.loads(next(output.rglob("*_results.json")).read_text())
    assert results["n-samples"]["finegrained-lite_bird_seen_closed"]["effective"] == 50
    assert results["results"]["finegrained-lite_bird_seen_closed"]["finebench_accuracy,none"] == 100.0


# ------------------------------------------------------------------ an install without the extras


SITE_PATHS = [path for path in sys.path if path and Path(path).resolve() != REPO]  # not the clone's egg-info


def installed(name: str) -> metadata.Distribution:
    return next(iter(metadata.distributions(name=name, path=SITE_PATHS)))


def _requirements_closure(root: str) -> set[str]:
    """The distributions `pip install <root>` (no extras) brings, read from this environment's metadata."""
    wanted, todo = set(), [(root, ())]
    while todo:
        name, selected = todo.pop()
        key = (extras.normalise(name), tuple(sorted(selected)))
        if key in wanted:
            continue
        wanted.add(key)
        for text in installed(name).requires or ():
            requirement = Requirement(text)
            if requirement.marker is None or any(requirement.marker.evaluate({"extra": extra})
                                                 for extra in ("", *selected)):
                todo.append((requirement.name, tuple(requirement.extras)))
    return {name for name, _ in wanted}


@pytest.fixture(scope="module")
def core_python(tmp_path_factory):
    """A Python that sees finebench and only what its core needs, as after `pip install -e .`: the
    very files of this environment, linked into a site folder, in a venv without pip (a second)."""
    root = tmp_path_factory.mktemp("core-install")
    site = root / "site"
    site.mkdir()
    for name in _requirements_closure("finebench"):
        distribution = installed(name)
        for top in {file.parts[0] for file in distribution.files or () if file.parts[0] not in ("..", "__pycache__")}:
            if not (site / top).exists():
                (site / top).symlink_to(distribution.locate_file(top))
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", root / "venv"], check=True)
    [packages] = (root / "venv" / "lib").glob("python*/site-packages")
    (packages / "core.pth").write_text(f"import site; site.addsitedir({str(site)!r})\n")
    return root / "venv" / "bin" / "python"


def run_core(python, *arguments, home):
    return subprocess.run([python, "-m", "finebench", *arguments], capture_output=True, text=True, timeout=300,
                          env={"PATH": os.environ["PATH"], "FINEBENCH_HOME": str(home), "HF_HUB_OFFLINE": "1"})


def test_the_core_environment_lacks_every_extra(core_python):
    probe = ("import importlib.util as u; "
             "print([m for m in ('gradio', 'lmms_eval', 'trl', 'open_clip') if u.find_spec(m)])")
    assert subprocess.run([core_python, "-c", probe], capture_output=True, text=True).stdout.strip() == "[]"


@pytest.mark.parametrize("command, extra", [
    (["leaderboard"], "leaderboard"),
    (["submit", "org/model", "--contact", "me@example.org"], "leaderboard"),
    (["eval", "--model", "ground_truth", "--tasks", "finegrained-lite"], "eval"),
    (["demo"], "eval"),
    (["worker", "--once"], "leaderboard' and 'eval"),
    (["rescore", "run", "--output", "out"], "eval"),
    (["train", "sft", "--model", "m", "--data", "d.jsonl", "--output", "o"], "train"),
    (["bench", "clip"], "clip"),
])
def test_a_command_without_its_extra_says_which_in_one_line(core_python, tmp_path, command, extra):
    result = run_core(core_python, *command, home=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr and len(lines) == 2, result.stderr
    assert f"needs the '{extra}' extra" in lines[0]
    assert lines[1].strip().startswith("fix: pip install -e") and "-c " in lines[1] and "constraints.txt" in lines[1]


def test_the_core_prepares_builds_tables_and_runs_doctor(core_python, tmp_path, manifest_dir):
    home = tmp_path / "home"
    assert run_core(core_python, "fixtures", "--output", str(tmp_path / "data"), "--manifests", str(manifest_dir),
                    "--datasets", "pet", "--lines-per-split", "5", home=home).returncode == 0
    prepared = run_core(core_python, "prepare", "--data-root", str(tmp_path / "data"), "--manifests",
                        str(manifest_dir), "--datasets", "pet", "--allow-missing", home=home)
    assert prepared.returncode == 0, prepared.stderr
    tables = run_core(core_python, "tables", "--table", "1", home=home)
    assert tables.returncode == 0 and "Qwen2.5-VL-7B" in tables.stdout
    status = run_core(core_python, "status", home=home)
    assert "pet_seen" in status.stdout and str((tmp_path / "data").resolve()) in status.stdout
    checked = run_core(core_python, "doctor", "--json", home=home)
    found = {check["name"]: check for check in json.loads(checked.stdout)["checks"]}
    assert checked.returncode == 1 and found["lmms-eval"]["status"] == doctor.FAIL
    assert "[eval]" in found["lmms-eval"]["fix"] and found["prepared pet_seen"]["status"] == doctor.WARN
