"""The leaderboard as a Hugging Face Space: `finebench leaderboard space OUT` writes a folder that Spaces runs
as it is, and that runs the same way on any machine (`pip install -r requirements.txt && python app.py`).

    OUT/README.md          the Space's front matter (sdk gradio at the locked version, app_file, Python) and the
                           operator's guide: Hub repositories, variables and secret, upload, workers
    OUT/requirements.txt   every distribution the app imports, and theirs, pinned from constraints.txt (no torch,
                           no lmms-eval: the Space shows and queues, GPU workers evaluate)
    OUT/app.py             reads FINEBENCH_QUEUE and FINEBENCH_LEADERBOARD_RESULTS (Space variables) and HF_TOKEN
                           (a Space secret); the defaults given to `space` otherwise, else folders beside it
    OUT/finebench/         the code the app runs, copied from this finebench (the core, the leaderboard, the
                           paper's rows): the Space runs exactly what was tested here

On a Space (SPACE_ID is set) the app refuses local folders for the queue and results, whose contents a restart
would wipe, and a Hub queue without a token to write it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import sys
from pathlib import Path

from finebench import atomic
from finebench.errors import FinebenchError
from finebench.locations import hub_repository

from .settings import QUEUE_VARIABLE, RESULTS_VARIABLE

# What the app runs, besides the finebench core: (package, folder inside the copied finebench/).
APP_PACKAGES = (("finebench.leaderboard", "leaderboard"), ("finebench.results.reported", "results/reported"))
LEFT_OUT = ("cli", "__pycache__")  # the command line is not the app's, and byte code is the machine's
# Core requirements the app never imports: datasets reads prepared data for evaluation, which runs on workers.
NOT_FOR_THE_APP = ("datasets",)
SPACE_ID_VARIABLE = "SPACE_ID"  # set by Hugging Face Spaces in a running Space
TOKEN_VARIABLE = "HF_TOKEN"
MARKER = "finebench-space.txt"  # names a folder this command wrote, so that --force replaces only such a one


# ------------------------------------------------------------------------------------------ requirements

def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_constraints(path: Path) -> dict[str, str]:
    """name (canonical) -> pinned version, from a pip constraints file of `name==version` lines."""
    pins = {}
    for line in path.read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if "==" in requirement:
            name, version = requirement.split("==", 1)
            pins[_canonical(name.split("[")[0])] = version.strip()
    return pins


def app_requirements() -> list[str]:
    """What the app needs of finebench's declared requirements: the core's and the leaderboard extra's."""
    from packaging.requirements import Requirement

    needed = []
    for text in importlib.metadata.requires("finebench") or []:
        requirement = Requirement(text)
        core = requirement.marker is None
        extra = requirement.marker is not None and requirement.marker.evaluate({"extra": "leaderboard"})
        if (core or extra) and _canonical(requirement.name) not in NOT_FOR_THE_APP:
            needed.append(text)
    return needed


def closure(requirements: list[str]) -> list[str]:
    """Every distribution the requirements pull in on this platform, by canonical name, each once (read from the
    installed distributions' metadata: the leaderboard extra must be installed here)."""
    from packaging.requirements import Requirement

    todo, seen, found = [Requirement(text) for text in requirements], set(), []
    while todo:
        requirement = todo.pop()
        name = _canonical(requirement.name)
        key = (name, frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        if name not in found:
            found.append(name)
        try:
            declared = importlib.metadata.requires(requirement.name) or []
        except importlib.metadata.PackageNotFoundError:
            raise FinebenchError(f"{requirement.name}, which the leaderboard needs, is not installed here",
                                 "install the leaderboard extra first: pip install -e '.[leaderboard]' "
                                 "-c constraints.txt") from None
        for text in declared:
            child = Requirement(text)
            extras = requirement.extras or {""}
            if child.marker is None or any(child.marker.evaluate({"extra": extra}) for extra in extras):
                todo.append(child)
    return sorted(found)


def pinned_requirements(constraints: Path | None) -> tuple[str, str]:
    """(requirements.txt text, gradio's version) pinned from the constraints file, or from what is installed
    here when there is none (said in the file's first line)."""
    pins = read_constraints(constraints) if constraints else {}
    lines, unpinned = [], []
    for name in closure(app_requirements()):
        version = pins.get(name) or (None if constraints else importlib.metadata.version(name))
        if version is None:
            unpinned.append(name)
        lines.append(f"{name}=={version}")
    if unpinned:
        raise FinebenchError(f"{constraints} pins no version of {', '.join(unpinned)}, which the app needs",
                             "regenerate the lock with .ci/lock, or name another file with --constraints")
    source = f"pinned from {constraints.name}" if constraints else \
        "pinned from the versions installed with this finebench (no constraints.txt was found)"
    header = f"# The leaderboard Space's requirements, {source}, by `finebench leaderboard space`.\n"
    gradio = next(line.split("==")[1] for line in lines if line.startswith("gradio=="))
    return header + "\n".join(lines) + "\n", gradio


def default_constraints() -> Path | None:
    """The checkout's lock, when finebench runs from a checkout (an editable install); None otherwise."""
    candidate = Path(__file__).resolve().parents[1] / "constraints.txt"
    return candidate if candidate.is_file() else None


# ------------------------------------------------------------------------------------------ the folder

def _package_folder(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise FinebenchError(f"the package {name} is not found", "reinstall finebench")
    return Path(list(spec.submodule_search_locations)[0])


def copy_code(target: Path) -> None:
    """The finebench core, the leaderboard and the paper's rows into target/finebench, laid out as installed."""
    ignore = shutil.ignore_patterns(*LEFT_OUT, "*.pyc")
    core = _package_folder("finebench")
    shutil.copytree(core, target / "finebench", ignore=ignore)
    for package, inside in APP_PACKAGES:
        folder = _package_folder(package)
        if not folder.is_relative_to(core):  # an editable install maps these from the checkout's top level
            shutil.copytree(folder, target / "finebench" / inside, ignore=ignore, dirs_exist_ok=True)


def _quoted(text: str) -> str:
    return repr(str(text))


def app_source(queue: str | None, results: str | None) -> str:
    defaults = {name: value for name, value in ((QUEUE_VARIABLE, queue), (RESULTS_VARIABLE, results)) if value}
    listed = "".join(f"    {_quoted(name)}: {_quoted(value)},\n" for name, value in defaults.items())
    return f'''"""The finebench leaderboard, as a Hugging Face Space or on any machine (`python app.py`).

Written by `finebench leaderboard space`. Settings come from the environment: on a Space, its variables
FINEBENCH_QUEUE and FINEBENCH_LEADERBOARD_RESULTS (hf://datasets/<owner>/<name>) and its secret HF_TOKEN.
Where a variable is not set, the default below applies; with none, the queue and results are the folders
data/queue and data/results beside this file (a local trial: a Space refuses them).
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULTS = {{
{listed}}}

if __name__ == "__main__":
    sys.path.insert(0, str(HERE))  # the finebench copied beside this file
    for name, value in DEFAULTS.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("FINEBENCH_HOME", str(HERE / "data"))
    from finebench.leaderboard.space import serve

    serve()
'''


def write_space(output: Path, queue: str | None = None, results: str | None = None, title: str = "finebench",
                constraints: Path | None = None, force: bool = False) -> Path:
    """Write the Space folder at output (replaced whole with force, if this command wrote it); return it."""
    for location, variable in ((queue, QUEUE_VARIABLE), (results, RESULTS_VARIABLE)):
        if location and not hub_repository(location, variable):
            raise FinebenchError(f"{variable} default {location!r} is not hf://datasets/<owner>/<name>",
                                 "a Space's own disk is wiped at each restart: give Hub dataset repositories")
    if output.exists() and any(output.iterdir()):
        if not force or not (output / MARKER).is_file():
            raise FinebenchError(f"{output} exists and is not empty",
                                 "name a new folder, or add --force to replace one this command wrote")
    constraints = constraints or default_constraints()
    requirements, gradio = pinned_requirements(constraints)
    output = output.absolute()
    output.parent.mkdir(parents=True, exist_ok=True)
    busy = FinebenchError(f"another `finebench leaderboard space` is writing {output}", "wait for it to finish")
    with atomic.exclusive(output.with_name(f".{output.name}.lock"), busy):
        _write(output, queue, results, title, requirements, gradio)
    return output


def _write(output: Path, queue: str | None, results: str | None, title: str, requirements: str, gradio: str) -> None:
    staging = output.with_name(f".{output.name}.writing")  # a run cut short leaves only this, removed next time
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        copy_code(staging)
        (staging / "requirements.txt").write_text(requirements)
        (staging / "app.py").write_text(app_source(queue, results))
        (staging / "README.md").write_text(space_readme(title, gradio, queue, results))
        (staging / MARKER).write_text("written by `finebench leaderboard space`; --force may replace this folder\n")
        atomic.replace_directory(staging, output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# ------------------------------------------------------------------------------------------ on the Space

def serve() -> None:
    """Start the app as a Space does (Gradio reads GRADIO_SERVER_NAME and GRADIO_SERVER_PORT, which Spaces set),
    after refusing what would lose submissions there."""
    from .app import build_app
    from .settings import load_settings

    try:
        settings = load_settings()
        check_space(settings.queue, settings.results)
        app = build_app(settings)
    except FinebenchError as error:  # said as the command line says it, without a traceback (the Space's log)
        print(f"finebench leaderboard: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    app.launch()


def check_space(queue: str, results: tuple[str, ...]) -> None:
    if not os.environ.get(SPACE_ID_VARIABLE):
        return
    local = [variable for variable, location in ((QUEUE_VARIABLE, queue), (RESULTS_VARIABLE, results[0]))
             if not hub_repository(location, variable)]
    if local:
        raise FinebenchError(f"{' and '.join(local)} name local folders, which this Space's restarts wipe",
                             "set them to hf://datasets/<owner>/<name> in the Space's settings (Variables)")
    if not os.environ.get(TOKEN_VARIABLE):
        raise FinebenchError("HF_TOKEN is not set: the app cannot write submissions to the queue repository",
                             "add a secret HF_TOKEN (a token that can write both repositories) in the Space's "
                             "settings")


def space_readme(title: str, gradio: str, queue: str | None, results: str | None) -> str:
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    queue_shown, results_shown = queue or "hf://datasets/<you>/finebench-queue", \
        results or "hf://datasets/<you>/finebench-results"
    return f"""---
title: {json.dumps(title)}
emoji: 🔎
colorFrom: indigo
colorTo: green
sdk: gradio
sdk_version: {gradio}
app_file: app.py
python_version: "{version}"
pinned: false
license: apache-2.0
short_description: Fine-grained visual recognition with multimodal LLMs
---

# {title}: the finebench leaderboard

Written by `finebench leaderboard space`. This folder is a Hugging Face Space as it is: the app shows the
published entries, takes submissions into a queue, and shows the queue and the workers. Evaluation runs
elsewhere, on GPU machines running `finebench worker`.

## Deploy (minutes)

1. Two dataset repositories, for the queue and the results (the token below must write both):

   ```bash
   hf repos create <you>/finebench-queue --repo-type dataset --private
   hf repos create <you>/finebench-results --repo-type dataset
   ```

2. The Space, with its variables and its secret (`--secrets HF_TOKEN` reads your token from the environment,
   never from the command line), then this folder uploaded to it:

   ```bash
   hf repos create <you>/finebench-leaderboard --repo-type space --space-sdk gradio \\
       -e FINEBENCH_QUEUE={queue_shown} \\
       -e FINEBENCH_LEADERBOARD_RESULTS={results_shown} --secrets HF_TOKEN
   hf upload <you>/finebench-leaderboard . . --repo-type space
   ```

   The defaults written into `app.py` (when `space` was given `--queue` and `--results`) apply where a
   variable is not set. On a Space, local folders and a missing token are refused at start, with the fix:
   a restart wipes a Space's disk.

3. Workers, one per GPU, on machines with the benchmark prepared (`finebench prepare --download`, or
   `finebench data pull` of a copy the lab pushed):

   ```bash
   pip install -e ".[eval,leaderboard,vllm]" -c constraints-gpu.txt
   export FINEBENCH_QUEUE={queue_shown}
   export FINEBENCH_LEADERBOARD_RESULTS={results_shown}
   finebench worker --recipe systemd > finebench-worker.service   # a service, restarted on failure
   finebench worker --recipe slurm --drain > finebench-worker.sbatch   # or a batch job per GPU
   ```

   SIGTERM (a service stop, the end of a Slurm job) gives the request being evaluated back to the queue;
   the next worker resumes it from the journal. The Submit tab shows every worker's state and last sign of
   life, and the requests per state.

## Run it here first

```bash
python3 -m venv .venv && .venv/bin/pip install -r requirements.txt && .venv/bin/python app.py
```

With no variable set, the queue and results are `data/queue` and `data/results` beside `app.py`;
`finebench worker` on the same machine, with `FINEBENCH_QUEUE` and `FINEBENCH_LEADERBOARD_RESULTS` set to
those folders, evaluates what is submitted.

## What is in this folder

- `app.py`: reads the settings and starts the app (`finebench/leaderboard/space.py`).
- `requirements.txt`: everything the app imports, pinned as finebench's lock was tested; no torch.
- `finebench/`: the code the app runs, copied from the finebench that wrote this folder.
"""
