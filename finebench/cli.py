"""The `finebench` command: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from finebench.results.entries import FAMILIES
from finebench.errors import FinebenchError
from finebench.data.registry import DATASET_KEYS
from finebench.results.tables import FORMATS, TABLES

DESCRIPTION = """\
finebench: fine-grained visual recognition benchmark for multimodal LLMs (the six datasets
of the Fine-R1 paper, seen and unseen classes, closed and open world).

Typical first run:
  finebench prepare --data-root ~/data              # the archives you downloaded
  finebench status                                  # what is prepared, and where

No archives yet? `finebench demo` generates stand-ins and prepares them.
Then: `finebench eval` (lmms-eval), `finebench tables`, `finebench leaderboard`, and
`finebench train data|cot|sft|tapo` to train Fine-R1 or your own model.
Data goes to $FINEBENCH_HOME (default ~/.cache/finebench). The official manifests are
downloaded at a pinned commit and checked by sha256, or read from --manifests DIR
(or $FINEBENCH_MANIFESTS).
"""


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 500x375, not {text!r}") from None
    if width < 1 or height < 1:
        raise argparse.ArgumentTypeError("width and height must be positive")
    return width, height


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {text!r}")
    return value


def _add_manifests(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--manifests", type=Path, metavar="DIR",
                        help="folder with the twelve official <dataset>_<seen|unseen>.jsonl "
                             "(default: $FINEBENCH_MANIFESTS, else download and verify)")


def _add_datasets(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--datasets", nargs="+", choices=DATASET_KEYS, metavar="NAME",
                        help=f"only these datasets ({', '.join(DATASET_KEYS)}); default: every one found")


def _add_fewshot(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--shots", type=_positive, default=4, help="training images per seen class (default 4)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="one set per seed (default 1 2 3)")
    parser.add_argument("--replace", action="store_true",
                        help="rebuild data that was prepared from other archives (refused without it)")


def needs(parser: argparse.ArgumentParser, *names: str) -> argparse.ArgumentParser:
    """Declare the extras a command needs: main() checks them before the command imports anything."""
    parser.set_defaults(extras=names)
    return parser


def build_parser() -> argparse.ArgumentParser:
    from finebench import __version__

    parser = argparse.ArgumentParser(prog="finebench", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"finebench {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    prepare = commands.add_parser(
        "prepare", help="turn downloaded archives into the benchmark's parquet files",
        description="Resolve every manifest line to an image under --data-root and write one parquet "
                    "dataset per (dataset, split) with the images embedded, the lite subset, and the "
                    "k-shot training sets. Resumable; re-running with nothing changed does nothing.",
        epilog="Archives may sit under their official names (CUB_200_2011/, fgvc-aircraft-2013b/, …) or "
               "the Fine-R1 ones (bird_200/, stanford-cars/, …), up to three folders deep.")
    prepare.add_argument("--data-root", type=Path, required=True, help="folder holding the extracted archives")
    _add_manifests(prepare)
    _add_datasets(prepare)
    prepare.add_argument("--allow-missing", action="store_true",
                         help="prepare the lines whose image exists and decodes; record the others")
    prepare.add_argument("--workers", type=_positive, help="image-reading threads (default: 2 per core, at most 8)")
    prepare.add_argument("--no-fewshot", action="store_true", help="skip the k-shot training sets")
    _add_fewshot(prepare)

    fewshot = commands.add_parser("fewshot", help="write k-shot training sets of the seen classes",
                                  description="Draw k images per seen class from each archive's train split, "
                                              "one parquet per seed, under $FINEBENCH_HOME/fewshot.")
    fewshot.add_argument("--data-root", type=Path, required=True, help="folder holding the extracted archives")
    _add_manifests(fewshot)
    _add_datasets(fewshot)
    _add_fewshot(fewshot)

    manifests = commands.add_parser("manifests", help="download (if needed) and verify the official manifests")
    _add_manifests(manifests)

    commands.add_parser("status", help="show what is prepared under $FINEBENCH_HOME, and from which archives")

    doctor = commands.add_parser(
        "doctor", help="check this machine before a run: versions, lmms-eval, data, encoder, GPU, storage",
        description="Check everything a run needs and print one row per finding (✓ fine, ✗ blocker, ! warning, "
                    "· for information) with the fix. Exit status 1 when there is a blocker.")
    doctor.add_argument("--encoder", help="the text encoder to try (default: $FINEBENCH_ENCODER or the release's "
                                          "google/siglip-base-patch16-256)")
    doctor.add_argument("--json", action="store_true", help="print the findings as JSON, for scripts")
    doctor.add_argument("--timeout", type=float, default=180, help="seconds each slow check may take (default 180)")

    fixtures = commands.add_parser(
        "fixtures", help="generate stand-in archives (tiny JPEGs, real metadata formats)",
        description="Write the six archives in their official layouts with generated JPEGs at the "
                    "manifests' file names: for tests, demos and benchmarks.")
    fixtures.add_argument("output", type=Path, help="folder to write the archives into")
    _add_manifests(fixtures)
    _add_datasets(fixtures)
    fixtures.add_argument("--lines-per-split", type=_positive, help="images per manifest (default: all)")
    fixtures.add_argument("--train-per-class", type=_positive, default=5, help="training images per class (default 5)")
    from finebench.data.fixtures import LAYOUTS  # the one list of layouts (costs ~50 ms of numpy import at start-up)
    fixtures.add_argument("--layout", choices=LAYOUTS, default="official",
                          help="folder names: as the official downloads extract, or as the Fine-R1 manifests")
    fixtures.add_argument("--size", type=_size, default=(32, 24), help="JPEG size WxH (default 32x24)")

    demo = needs(commands.add_parser(
        "demo", help="the whole pipeline offline: stand-in archives, prepare, lmms-eval, result entries",
        description="Generate stand-in archives, prepare them, run the lite benchmark through lmms-eval "
                    "for the reference responders and a tiny random Qwen2.5-VL, ingest and print the results. "
                    "Everything goes to a home of its own, $FINEBENCH_HOME/demo: your prepared data is never "
                    "touched."), "eval")
    _add_manifests(demo)
    demo.add_argument("--models", nargs="+", metavar="MODEL",
                      help="a subset of the demo's models (ground_truth, first_option, random_option, all_options, "
                           "tiny_qwen2_5_vl; default: all)")

    commands.add_parser(
        "eval", add_help=False, help="run lmms-eval with the finegrained_* tasks included",
        description="finebench eval [--encoder NAME] <lmms-eval arguments>")
    commands.add_parser("tasks-dir", help="print the task folder, for lmms-eval --include_path")

    rescore = needs(commands.add_parser(
        "rescore", help="recompute every metric of an lmms-eval run without generating again",
        description="Read the samples an lmms-eval run logged, score them again (e.g. with another text "
                    "encoder) and write a new output folder that `finebench ingest` reads."), "eval")
    rescore.add_argument("run", type=Path, help="the lmms-eval --output_path folder (run with --log_samples)")
    rescore.add_argument("--output", type=Path, required=True, help="folder for the rescored run")
    rescore.add_argument("--encoder", help="text encoder for the open-world similarity (default: $FINEBENCH_ENCODER "
                                           "or google/siglip-base-patch16-256; 'minilm' works offline)")

    ingest = commands.add_parser(
        "ingest", help="turn an lmms-eval run into result entries (one per protocol)",
        description="Build result entries (finebench.results.entries, schema version 1) with 95%% bootstrap "
                    "intervals and provenance from an lmms-eval output folder, write them and print them.")
    ingest.add_argument("run", type=Path, help="the lmms-eval --output_path folder (run with --log_samples)")
    ingest.add_argument("--output-dir", type=Path, help="where to write (default: $FINEBENCH_HOME/results)")
    ingest.add_argument("--name", help="display name of the model (default: its pretrained= argument)")
    ingest.add_argument("--family", choices=FAMILIES, help="model family, for the leaderboard's filters")
    ingest.add_argument("--source", choices=("reproduced", "submitted"), default="reproduced")

    tables = commands.add_parser(
        "tables", help="rebuild the paper's Tables 1, 2, 6 and 7 from result entries",
        description="Tables in the paper's layout (model groups; seen, unseen and average columns; best in bold, "
                    "second underlined) from any set of result entries.",
        epilog="Examples: finebench tables --source reported --format latex; "
               "finebench tables --source reported ~/.cache/finebench/results --compare reported")
    tables.add_argument("--source", nargs="+", default=["reported"], metavar="PATH",
                        help="entry files or folders; 'reported' is the bundled transcription of the paper")
    tables.add_argument("--table", nargs="+", type=int, choices=sorted(TABLES), default=sorted(TABLES))
    tables.add_argument("--protocol", choices=("official", "finebench"), default="official")
    tables.add_argument("--format", choices=FORMATS, default="markdown")
    tables.add_argument("--compare", nargs="+", metavar="PATH",
                        help="print each reproduced cell beside these entries' ('reported': the paper's)")

    board = needs(commands.add_parser(
        "leaderboard", help="start the Gradio leaderboard (bundled results, no network)",
        description="Serve the leaderboard: the paper's rows, every published entry, the submission form and the "
                    "queue. Settings come from FINEBENCH_* variables (see leaderboard/settings.py)."), "leaderboard")
    board.add_argument("--host", default="127.0.0.1")
    board.add_argument("--port", type=int, default=7860)
    board.add_argument("--share", action="store_true", help="also open a public gradio.live link")

    submit = needs(commands.add_parser(
        "submit", help="submit a model to the evaluation queue",
        description="Validate a submission (name, revision, safetensors weights, no custom code, size) and add it "
                    "to the queue ($FINEBENCH_QUEUE)."), "leaderboard")
    submit.add_argument("model", help="Hugging Face id (owner/name), an absolute path, or a reference responder")
    submit.add_argument("--revision", default="main")
    submit.add_argument("--precision", choices=("bfloat16", "float16", "float32"), default="bfloat16")
    submit.add_argument("--family", choices=FAMILIES, default="general MLLM")
    submit.add_argument("--backend", choices=("hf", "vllm", "responder"), default="hf")
    submit.add_argument("--protocol", choices=("finebench", "official"), default="finebench")
    submit.add_argument("--contact", required=True, help="e-mail or Hugging Face user name")

    worker = needs(commands.add_parser(
        "worker", help="evaluate queued submissions and publish their entries",
        description="Check this machine (finebench doctor's quick checks), take the oldest PENDING request, evaluate "
                    "it with lmms-eval, ingest and publish the entries, and mark the request FINISHED or FAILED."),
        "leaderboard", "eval")
    worker.add_argument("--once", action="store_true", help="process one request and stop")
    worker.add_argument("--lite", action="store_true", help="evaluate on the lite subset (a test deployment)")
    worker.add_argument("--poll", type=float, default=30, help="seconds between looks at an empty queue")
    worker.add_argument("--model-args", default="", help="extra lmms-eval model arguments, e.g. device_map=auto")
    worker.add_argument("--gen-kwargs", default="", help="lmms-eval --gen_kwargs for every request")
    worker.add_argument("--encoder", help="text encoder for the open-world similarity")

    baselines = commands.add_parser("baselines", help="the paper's baselines by name: list them, run one")
    baseline_commands = baselines.add_subparsers(dest="baselines_command", required=True, metavar="ACTION")
    baseline_commands.add_parser("list", help="the registry: name, family, size, backends, hub id")
    run_baseline = needs(baseline_commands.add_parser(
        "run", help="run a baseline through lmms-eval and ingest the result",
        description="Run a registered baseline on the benchmark (GPU for the MLLMs) and write its result entries."),
        "eval")
    run_baseline.add_argument("name", help="a name from `finebench baselines list`, e.g. Qwen2.5-VL-7B or SigLIP-L")
    run_baseline.add_argument("--backend", choices=("hf", "vllm", "clip"),
                              help="default: hf for MLLMs (vllm where hf is missing), clip for CLIP-like models")
    run_baseline.add_argument("--tasks", default="finegrained,finegrained_official",
                              help="lmms-eval tasks or groups (default: finegrained,finegrained_official)")
    run_baseline.add_argument("--output", type=Path, help="run folder (default: $FINEBENCH_HOME/runs/<name>)")
    run_baseline.add_argument("--model-args", default="", help="extra lmms-eval model arguments, e.g. device_map=auto")
    run_baseline.add_argument("--encoder", help="text encoder for the open-world similarity")
    run_baseline.add_argument("--limit", type=_positive, help="lmms-eval --limit, for a quick check")

    from finebench.trainers.cli import add_train_commands  # here: that module reads this one's helpers

    add_train_commands(commands)

    bench = commands.add_parser("bench", help="benchmarks that print figures")
    bench_commands = bench.add_subparsers(dest="bench_command", required=True, metavar="BENCHMARK")
    bench_prepare = bench_commands.add_parser(
        "prepare", help="time prepare on full-size generated JPEGs (target: all 35,566 in < 10 min, < 2 GB)")
    _add_manifests(bench_prepare)
    _add_datasets(bench_prepare)
    bench_prepare.add_argument("--size", type=_size, default=(500, 375), help="JPEG size (default 500x375)")
    bench_prepare.add_argument("--lines-per-split", type=_positive, help="images per manifest (default: all)")
    bench_prepare.add_argument("--workers", type=_positive, help="prepare's image-reading threads")
    bench_prepare.add_argument("--workdir", type=Path, help="keep the archives here (default: a temporary folder)")
    bench_scoring = needs(bench_commands.add_parser(
        "scoring", help="open-world scoring of all 35,566 lines: cached and batched vs the release's per-line calls"),
        "eval")
    _add_manifests(bench_scoring)
    bench_scoring.add_argument("--encoder", default="minilm", help="text encoder (default: minilm, offline)")
    bench_scoring.add_argument("--released-lines", type=_positive, default=2000,
                               help="lines to time the released approach on (default 2000; it is slow)")
    bench_harness = needs(bench_commands.add_parser(
        "harness", help="lmms-eval's and finebench's own cost per line, with the ground_truth responder"), "eval")
    _add_manifests(bench_harness)
    bench_harness.add_argument("--workdir", type=Path, help="keep the generated data here (default: temporary)")
    bench_clip = needs(bench_commands.add_parser(
        "clip", help="CLIP baseline: cached class embeddings vs the four candidate prompts per image"), "clip")
    _add_manifests(bench_clip)
    bench_clip.add_argument("--lines", type=_positive, default=256)
    bench_clip.add_argument("--architecture", default="ViT-B-32", help="open_clip architecture (random weights)")
    bench_clip.add_argument("--templates", choices=("photo", "imagenet80"), default="photo")
    bench_tapo = needs(bench_commands.add_parser(
        "tapo", help="one TAPO step vs one plain DAPO step of the same batch, tiny model (target <= 1.6x)"), "train")
    bench_tapo.add_argument("--steps", type=_positive, default=4, help="timed steps per run (default 4)")
    bench_tapo.add_argument("--tokens", type=_positive, default=48, help="tokens per rollout (default 48)")
    bench_board = needs(bench_commands.add_parser(
        "leaderboard", help="the app's start and a filter change, 1,000 entries"), "leaderboard")
    bench_board.add_argument("--entries", type=_positive, default=1000)
    bench_prepare.add_argument("--cold", action="store_true",
                               help="drop the page cache before timing, so images come from disk (needs root)")
    return parser


def run_prepare(args: argparse.Namespace) -> None:
    from finebench.data.prepare import prepare, summary_table

    print(summary_table(prepare(args.data_root, args.manifests, args.datasets, args.allow_missing, args.workers,
                                replace=args.replace)))
    if not args.no_fewshot:
        run_fewshot(args)


def run_fewshot(args: argparse.Namespace) -> None:
    from finebench.data.fewshot import prepare_fewshot

    for path, status in prepare_fewshot(args.data_root, args.manifests, args.datasets, args.shots, args.seeds,
                                        replace=args.replace):
        print(f"{status:>10}  {path}")


def run_manifests(args: argparse.Namespace) -> None:
    from finebench.data.manifests import load_manifests

    manifests = load_manifests(args.manifests)
    for (dataset, split), manifest in manifests.items():
        print(f"{manifest.name + '.jsonl':<22}{len(manifest.lines):>6} lines {len(manifest.classes):>4} classes  "
              f"sha256 {manifest.sha256[:16]}… ok")
    print(f"{sum(len(m.lines) for m in manifests.values())} lines in all: the official benchmark")


def run_status(args: argparse.Namespace) -> None:
    from finebench.home import fewshot_dir, prepared_dir
    from finebench.data.store import PreparedStore

    store = PreparedStore(prepared_dir())
    units = store.read_metadata()["units"]
    if not units:
        print(f"nothing prepared under {store.root}; run `finebench prepare --data-root DIR` (or `finebench demo`)")
        return
    print(f"prepared under {store.root}:")
    for name, record in sorted(units.items()):
        print(f"  {name:<16}{record['rows']:>6} of {record['manifest_lines']:>5} lines  "
              f"lite {record['lite']['rows']:>3}  labels {record['label_check']:<7} from {record['archive_root']}")
    sets = sorted(fewshot_dir().glob("*.parquet"))
    print(f"few-shot sets under {fewshot_dir()}: {', '.join(path.stem for path in sets) or 'none'}")
    print("`finebench doctor` checks them against the pinned manifests and their archives")


def run_doctor(args: argparse.Namespace) -> int:
    from finebench.harness.doctor import as_json, diagnose, render

    checks = diagnose(args.encoder, args.timeout)
    print(as_json(checks) if args.json else render(checks))
    return 1 if any(check.blocks for check in checks) else 0


def run_fixtures(args: argparse.Namespace) -> None:
    from finebench.data.fixtures import default_workers, write_archives
    from finebench.data.manifests import load_manifests
    from finebench.data.registry import parse_dataset_list

    keys = parse_dataset_list(args.datasets)
    roots = write_archives(args.output, load_manifests(args.manifests, keys), keys, args.lines_per_split,
                           args.train_per_class, args.layout, args.size, workers=default_workers())
    for dataset, root in roots.items():
        print(f"{dataset:<10}{root}")


def run_demo(args: argparse.Namespace) -> None:
    from finebench.demo import MODELS, run_demo

    unknown = sorted(set(args.models or ()) - set(MODELS))
    if unknown:
        raise FinebenchError(f"unknown demo models {unknown}", f"choose among {', '.join(MODELS)}")
    run_demo(args.manifests, args.models or MODELS)


def run_tasks_dir(args: argparse.Namespace) -> None:
    from finebench.harness.taskgen import tasks_dir

    print(tasks_dir())


def run_rescore(args: argparse.Namespace) -> None:
    from finebench.harness.rescore import rescore

    print(f"rescored run written to {rescore(args.run, args.output, args.encoder)}")


def _print_written(paths: Sequence[Path]) -> None:
    """Each entry ingest wrote, as a table, with where it went."""
    from finebench.results import entries

    for path in paths:
        print(f"{entries.format_table(entries.read(path))}\n  written to {path}\n")


def run_ingest(args: argparse.Namespace) -> None:
    from finebench.home import finebench_home
    from finebench.results.ingest import ingest

    _print_written(ingest(args.run, args.output_dir or finebench_home() / "results", args.name, args.family,
                          args.source))


EVAL_HELP = """usage: finebench eval [--encoder NAME] [--no-preflight] <lmms-eval arguments>

Runs lmms-eval with finebench's task folder included (no --include_path needed) and, with
--encoder, the text encoder of the open-world similarity (default: the release's
google/siglip-base-patch16-256; 'minilm' works offline). Before the first generation it
runs finebench doctor's quick checks (lmms-eval's evaluator, the prepared data of the
selected tasks, writable folders); --no-preflight skips them. Examples:
  finebench eval --model qwen2_5_vl --model_args pretrained=Qwen/Qwen2.5-VL-7B-Instruct \\
      --tasks finegrained --log_samples --output_path runs/qwen7b
  finebench eval --model ground_truth --tasks finegrained_lite --log_samples --output_path runs/check
See `lmms-eval --help` for its own arguments.
"""


def run_eval(arguments: list[str]) -> int:
    from finebench import extras
    from finebench.harness.evalrun import preflight_evaluation, run_lmms_eval

    if not arguments or arguments[0] in ("-h", "--help"):
        print(EVAL_HELP)
        return 0
    encoder, preflight = None, True
    while arguments and (arguments[0] in ("--encoder", "--no-preflight") or arguments[0].startswith("--encoder=")):
        if arguments[0] == "--no-preflight":
            preflight, arguments = False, arguments[1:]
        elif arguments[0] == "--encoder" and len(arguments) > 1:
            encoder, arguments = arguments[1], arguments[2:]
        elif arguments[0].startswith("--encoder="):
            encoder, arguments = arguments[0].split("=", 1)[1], arguments[1:]
        else:
            raise FinebenchError("--encoder needs a name", "e.g. finebench eval --encoder minilm …")
    extras.require(("eval",))
    if preflight:
        preflight_evaluation("eval", arguments)
    return run_lmms_eval(arguments, encoder)


def run_bench(args: argparse.Namespace) -> None:
    from finebench import bench

    if args.bench_command == "clip":
        from finebench.baselines.benchmark import bench_clip

        print(bench_clip(args.manifests, args.lines, args.architecture, args.templates))
    elif args.bench_command == "tapo":
        from finebench.trainers.benchmark import bench_tapo

        print(bench_tapo(args.steps, args.tokens))
    elif args.bench_command == "leaderboard":
        from finebench.leaderboard.benchmark import bench_leaderboard

        print(bench_leaderboard(args.entries))
    elif args.bench_command == "scoring":
        print(bench.bench_scoring(args.manifests, args.encoder, args.released_lines))
    elif args.bench_command == "harness":
        print(bench.bench_harness(args.manifests, args.workdir))
    else:
        print(bench.bench_prepare(args.manifests, args.datasets, args.size, args.lines_per_split, args.workers,
                                  args.workdir, args.cold))


def run_tables(args: argparse.Namespace) -> None:
    from finebench.results import tables

    loaded = tables.load_entries(args.source)
    if args.compare:
        print(tables.compare(loaded, tables.load_entries(args.compare)), end="")
        return
    rendered = [tables.render(tables.TABLES[number], loaded, args.protocol, args.format) for number in args.table]
    rendered = [text for text in rendered if text]
    if not rendered:
        raise FinebenchError(f"no {args.protocol} entries for tables {args.table} in {args.source}",
                             "ingest a run (finebench ingest) or use --source reported")
    print("\n".join(rendered), end="")


def run_leaderboard(args: argparse.Namespace) -> None:
    from finebench.leaderboard.app import build_app
    from finebench.leaderboard.settings import load_settings

    build_app(load_settings()).launch(server_name=args.host, server_port=args.port, share=args.share)


def run_submit(args: argparse.Namespace) -> None:
    from finebench.leaderboard.queue import DuplicateRequest, Queue
    from finebench.leaderboard.settings import load_settings
    from finebench.leaderboard.storage import open_storage
    from finebench.leaderboard.submission import validate_submission

    settings = load_settings()
    request = validate_submission(args.model, args.revision, args.precision, args.family, args.backend,
                                  args.contact, args.protocol, settings)
    queue = Queue(open_storage(settings.queue))
    try:
        queue.submit(request)
    except DuplicateRequest as duplicate:
        raise FinebenchError(str(duplicate), "wait for that request, or submit another revision") from None
    print(f"request {request.id} is PENDING in {queue.storage.describe(request.path)}")


def run_worker(args: argparse.Namespace) -> None:
    from finebench.leaderboard.queue import Queue
    from finebench.leaderboard.settings import load_settings
    from finebench.leaderboard.storage import open_storage
    from finebench.leaderboard.worker import run_worker as work

    settings = load_settings()
    results = open_storage(str(settings.results_dirs[0]))
    count = work(Queue(open_storage(settings.queue)), results, settings, args.once, args.lite, args.poll,
                 args.model_args, args.gen_kwargs, args.encoder)
    print(f"processed {count} request(s)")


def run_baselines(args: argparse.Namespace) -> None:
    from finebench.baselines.registry import get_baseline, table

    if args.baselines_command == "list":
        print(table())
        return
    from finebench import extras
    from finebench.harness.evalrun import preflight_evaluation, run_lmms_eval
    from finebench.home import finebench_home
    from finebench.results.ingest import ingest

    baseline = get_baseline(args.name)
    backend = args.backend or baseline.backends[0]
    if backend == "clip":
        extras.require(("clip",))
    model_arguments = baseline.lmms_eval_arguments(backend, args.model_args)
    output = args.output or finebench_home() / "runs" / baseline.name
    command = [*model_arguments, "--tasks", args.tasks, "--log_samples", "--output_path", str(output)]
    if args.limit:
        command += ["--limit", str(args.limit)]
    preflight_evaluation("baselines run", command)
    if run_lmms_eval(command, args.encoder) != 0:
        raise FinebenchError(f"lmms-eval failed for {baseline.name}", "its log above says why")
    _print_written(ingest(output, finebench_home() / "results", baseline.name, baseline.family,
                          parameters=baseline.parameters, model_id=baseline.hub_id))


def run_train(args: argparse.Namespace) -> None:
    from finebench.trainers.cli import run_train as run

    run(args)


COMMANDS = {"prepare": run_prepare, "fewshot": run_fewshot, "manifests": run_manifests, "status": run_status,
            "doctor": run_doctor,
            "fixtures": run_fixtures, "demo": run_demo, "bench": run_bench, "tasks-dir": run_tasks_dir,
            "rescore": run_rescore, "ingest": run_ingest, "tables": run_tables,
            "leaderboard": run_leaderboard, "submit": run_submit, "worker": run_worker,
            "baselines": run_baselines, "train": run_train}


def _command_name(argv: Sequence[str]) -> str:
    """'train sft' for `finebench train sft --model …`: the words before the first option."""
    words = []
    for word in argv:
        if word.startswith("-") or len(words) == 2:
            break
        words.append(word)
    return " ".join(words) or "finebench"


def _missing_module(error: ModuleNotFoundError) -> tuple[str, str]:
    """A one-line answer to a module that is missing though no declared extra said so."""
    from finebench import extras

    return (f"a module it needs is missing ({error}); `finebench doctor` shows what is installed",
            extras.install_command(("dev",)))


def main(argv: Sequence[str] | None = None) -> int:
    from finebench import extras

    argv = list(sys.argv[1:] if argv is None else argv)
    name = _command_name(argv)
    try:
        if argv[:1] == ["eval"]:  # everything after it belongs to lmms-eval
            return run_eval(argv[1:])
        args = build_parser().parse_args(argv)
        extras.require(getattr(args, "extras", ()))
        return COMMANDS[args.command](args) or 0
    except FinebenchError as error:
        print(f"finebench {name}: {error}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] == "finebench":
            raise  # a bug of ours, not an install problem
        problem, fix = _missing_module(error)
        print(f"finebench {name}: {problem}\n  fix: {fix}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nfinebench {name}: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
