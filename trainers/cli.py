"""`finebench train …`: the trainer's command line (data, CoT import and construction, SFT, TAPO).

TAPO's flags are derived from TAPOConfig's declarations (trainers/config.py): one flag per
knob, its help, range and source from the field, its default from the chosen preset.
"""

from __future__ import annotations

import argparse
import os
import sys
import types
import typing
from dataclasses import replace
from pathlib import Path

from finebench.cli.arguments import add_datasets, add_manifests, add_output, command, positive
from finebench.data.registry import DATASET_KEYS
from finebench.errors import FinebenchError
from finebench.home import finebench_home

from .config import PRESETS, TAPO, TAPOConfig, knobs

ACCELERATE_CONFIGS = Path(__file__).parent / "accelerate"


def add_commands(commands) -> None:
    train = command(commands, "train", None, help="the reference trainer: data, CoT SFT, TAPO",
                    description="Train Fine-R1 (or your own) from any Qwen2.5-VL-like base: build the TAPO triplets "
                                "from the k-shot sets, import or construct CoT data, run CoT SFT, then TAPO. GPU "
                                "recipes are in docs/trainer.md.")
    stages = train.add_subparsers(dest="stage", required=True, metavar="STAGE")
    _add_data(stages)
    _add_import_cot(stages)
    _add_cot(stages)
    _add_sft(stages)
    _add_tapo(stages)
    curves = command(stages, "curves", _run_curves, ("train",),
                     help="draw a run's training curves (loss, reward, KL, …) to a PNG",
                     description="Read the newest trainer_state.json of a `finebench train sft|tapo` run (finished "
                                 "or still going) and draw one panel per logged quantity.")
    curves.add_argument("run", type=Path, help="the run's --output folder")
    configs = command(stages, "launch-config", _run_launch_config,
                      help="path of a shipped accelerate config (zero3, fsdp, ddp)",
                      description="Print the path of an accelerate config shipped with finebench, for "
                                  "`accelerate launch --config_file $(finebench train launch-config zero3)`.")
    configs.add_argument("name", choices=sorted(path.stem for path in ACCELERATE_CONFIGS.glob("*.yaml")))


def _add_data(stages) -> None:
    data = command(stages, "data", _run_data, ("eval",),  # the default similarity is a text encoder
                   help="TAPO triplets and training rows from the k-shot sets",
                   description="For every anchor of the k-shot sets: a positive (same class) and a negative (the "
                               "most similar other seen class). Writes the nearest-class tables, triplets.jsonl and "
                               "tapo_train.parquet (and the EasyR1 export).")
    add_datasets(data)
    data.add_argument("--shots", type=positive, default=4)
    data.add_argument("--seed", type=int, default=1, help="the k-shot set's seed (default 1)")
    data.add_argument("--similarity", default="text:",
                      help="text:<encoder> (class names; default encoder SigLIP, text:minilm offline) or "
                           "clip:<model> (CLIP image centroids, e.g. clip:clip-l)")
    data.add_argument("--no-thinking", action="store_true", help="answer-only prompts (No-Thinking-RL)")
    data.add_argument("--easyr1", action="store_true", help="also write easyr1_train.parquet for the released code")
    add_output(data, "default: $FINEBENCH_HOME/train/tapo-data")


def _add_import_cot(stages) -> None:
    cot = command(stages, "import-cot", _run_import_cot, help="import the released 404-sample CoT SFT set",
                  description="Resolve each record's image in your extracted archives and write TRL's "
                              "prompt/completion JSONL; records of unseen classes are refused.")
    cot.add_argument("--cot", type=Path, required=True, help="the released Fine-R1-Stage1-data.json")
    cot.add_argument("--data-root", type=Path, required=True, help="folder holding the extracted archives")
    add_manifests(cot)
    add_output(cot, "JSONL to write", required=True)


def _add_cot(stages) -> None:
    cot = command(stages, "cot", _run_cot, ("eval",),  # concepts are ranked by a text encoder
                  help="construct CoT SFT data with a teacher MLLM (paper §4.2)",
                  description="One image per seen class: captions -> visual concepts -> the structured prompt of "
                              "the paper's Table 5, resampled until the prediction names the class; mixed-language "
                              "answers and predictions outside their candidates are dropped. Resumable.")
    cot.add_argument("--teacher", required=True,
                     help="openai:<base url>:<model> (vLLM/SGLang/any OpenAI-compatible server), hf:<id or folder>, "
                          "or vllm:<id or folder>")
    add_datasets(cot)
    cot.add_argument("--shots", type=positive, default=4)
    cot.add_argument("--seed", type=int, default=1)
    cot.add_argument("--captions", type=positive, default=5, help="captions per image (default 5)")
    cot.add_argument("--concepts", type=positive, default=8, help="visual concepts kept (default 8)")
    cot.add_argument("--attempts", type=positive, default=8, help="CoT samples per image at most (default 8)")
    cot.add_argument("--encoder", help="text encoder ranking the concepts (default SigLIP; minilm offline)")
    add_output(cot, "default: $FINEBENCH_HOME/train/cot")


def _add_sft(stages) -> None:
    from .sft import OLD_PRESET_NAMES, RECIPE

    sft = command(stages, "sft", _run_sft, ("train",), help="CoT SFT on TRL's SFTTrainer (loss on the completion only)",
                  description="Fine-tune a Qwen2.5-VL-like model on CoT data (JSONL in TRL's prompt/completion "
                              "format, e.g. the imported release set) with the released recipe (the same for 3B and "
                              "7B); writes a checkpoint and model card.")
    sft.add_argument("--model", required=True, help="base model: Hub id or folder")
    sft.add_argument("--data", type=Path, required=True, help="JSONL of prompt/completion/images records")
    add_output(sft, "the run's folder (checkpoints in OUTPUT/trainer, the model in OUTPUT/final)", required=True)
    sft.add_argument("--preset", choices=OLD_PRESET_NAMES, help=argparse.SUPPRESS)  # old scripts: one recipe now
    sft.add_argument("--max-steps", type=positive, help="stop after this many steps (default: the epochs)")
    sft.add_argument("--batch-size", type=positive,
                     help=f"per-device batch size (default {RECIPE.per_device_train_batch_size})")
    sft.add_argument("--grad-accum", type=positive,
                     help=f"gradient accumulation steps (default {RECIPE.gradient_accumulation_steps})")
    sft.add_argument("--lora", action="store_true", help="LoRA (rank 64) instead of full fine-tuning")
    sft.add_argument("--cpu", action="store_true", help="train on the CPU (tests, tiny models)")
    _add_report_to(sft)


def _add_report_to(parser) -> None:
    parser.add_argument("--report-to", nargs="+", default=[], metavar="TRACKER",
                        help="also log to these trackers (tensorboard, wandb, trackio, …); the curves are drawn to "
                             "OUTPUT/training_curves.png in any case")


def _pair(kind: type):
    """A parser of 'A:B' into a pair of ``kind``."""
    def parse(text: str) -> tuple:
        first, separator, second = text.partition(":")
        try:
            return kind(first), kind(second)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected A:B, two {kind.__name__} values (e.g. 5:5), "
                                             f"not {text!r}") from None
    return parse


def _optional_float(text: str) -> float | None:
    return None if text.lower() == "none" else float(text)


def _knob_option(spec) -> dict:
    """argparse options for one TAPOConfig field, from its type and metadata."""
    kind = typing.get_type_hints(TAPOConfig)[spec.name]
    help = f"{spec.metadata['help']} (tapo default: {getattr(TAPO, spec.name)}; {spec.metadata['source']})"
    if kind is bool:
        return {"action": argparse.BooleanOptionalAction, "help": help}
    if typing.get_origin(kind) is tuple:
        return {"type": _pair(typing.get_args(kind)[0]), "metavar": "A:B", "help": help}
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return {"type": _optional_float, "metavar": "X|none", "help": help}
    if spec.metadata["choices"]:
        return {"type": kind, "choices": spec.metadata["choices"], "help": help}
    return {"type": kind, "metavar": "N" if kind is int else "X", "help": help}


def _add_tapo(stages) -> None:
    tapo = command(stages, "tapo", _run_tapo, ("train",), help="TAPO (or an ablation) on TRL's GRPOTrainer",
                   description="Reinforcement learning from the CoT SFT checkpoint on the rows of `finebench train "
                               "data`. Presets: " + ", ".join(PRESETS) + ". Resumes from the last checkpoint in "
                               "OUTPUT/trainer.")
    tapo.add_argument("--model", required=True, help="the CoT SFT checkpoint (Hub id or folder)")
    tapo.add_argument("--data", type=Path, required=True, help="tapo_train.parquet or the folder holding it")
    add_output(tapo, "the run's folder (checkpoints in OUTPUT/trainer, the model in OUTPUT/final)", required=True)
    tapo.add_argument("--preset", default="tapo", choices=sorted(PRESETS))
    knobs_group = tapo.add_argument_group("TAPO settings (each changes the preset's value)")
    for spec in knobs():
        # SUPPRESS: a knob not given stays off the namespace, so None (e.g. --clip-dual none) can be chosen
        knobs_group.add_argument(f"--{spec.name.replace('_', '-')}", dest=f"knob_{spec.name}",
                                 default=argparse.SUPPRESS, **_knob_option(spec))
    knobs_group.add_argument("--rollouts", type=_pair(int), metavar="N1:N2",
                             help="shorthand for --rollouts-anchor N1 --rollouts-positive N2")
    knobs_group.add_argument("--pixels", type=_pair(int), metavar="MIN:MAX",
                             help="shorthand for --min-pixels MIN --max-pixels MAX")
    tapo.add_argument("--batch-size", type=positive, default=2, help="rollouts per device per micro-step (default 2)")
    tapo.add_argument("--grad-accum", type=positive,
                      help="micro-steps per optimiser step (default: the preset's global batch over the processes)")
    tapo.add_argument("--steps-per-generation", type=positive,
                      help="micro-steps per generation (default: the preset's rollout batch over the processes)")
    tapo.add_argument("--max-steps", type=positive, help="stop after this many optimiser steps")
    tapo.add_argument("--save-steps", type=positive, default=50)
    tapo.add_argument("--seed", type=int, default=42)
    tapo.add_argument("--vllm", choices=("auto", "off", "colocate", "server"), default="auto",
                      help="rollouts with vLLM beside the trainer (colocate) or from `trl vllm-serve` (server); "
                           "auto (default): colocate when vLLM is installed and a GPU is present, else HF generate")
    tapo.add_argument("--vllm-server", help="URL of `trl vllm-serve` for --vllm server")
    tapo.add_argument("--gradient-checkpointing", action="store_true")
    tapo.add_argument("--cpu", action="store_true", help="train on the CPU (tests, tiny models)")
    _add_report_to(tapo)


def chosen_config(args: argparse.Namespace) -> TAPOConfig:
    """The preset with every knob the command line set (the shorthands first, the knobs' own flags last)."""
    changes = {}
    if args.rollouts:
        changes.update(rollouts_anchor=args.rollouts[0], rollouts_positive=args.rollouts[1])
    if args.pixels:
        changes.update(min_pixels=args.pixels[0], max_pixels=args.pixels[1])
    changes.update({spec.name: getattr(args, f"knob_{spec.name}") for spec in knobs()
                    if hasattr(args, f"knob_{spec.name}")})
    return replace(PRESETS[args.preset], **changes)


def trainer_settings(args: argparse.Namespace, config: TAPOConfig) -> dict:
    """TRL's batch settings: given, or derived from the preset's batches and the processes launched."""
    from .tapo import batch_layout

    processes = int(os.environ.get("WORLD_SIZE", "1"))  # set by accelerate launch / torchrun
    accumulation, per_generation = batch_layout(config, processes, args.batch_size)
    settings = dict(per_device_train_batch_size=args.batch_size, seed=args.seed, save_steps=args.save_steps,
                    report_to=args.report_to,
                    gradient_accumulation_steps=args.grad_accum or accumulation,
                    steps_per_generation=args.steps_per_generation or per_generation,
                    gradient_checkpointing=args.gradient_checkpointing)
    if args.max_steps:
        settings["max_steps"] = args.max_steps
    mode = generation_backend(args.vllm)
    if mode:
        settings.update(use_vllm=True, vllm_mode=mode)
    if args.vllm_server:
        if mode != "server":
            raise FinebenchError("--vllm-server is only used with --vllm server", "add --vllm server")
        settings["vllm_server_base_url"] = args.vllm_server
    return settings


def generation_backend(choice: str) -> str | None:
    """The vLLM mode to use, or None for HF generate."""
    if choice != "auto":
        return None if choice == "off" else choice
    import importlib.util

    import torch

    return "colocate" if importlib.util.find_spec("vllm") and torch.cuda.is_available() else None


def _run_curves(args: argparse.Namespace) -> None:
    from .curves import log_history, plot_curves

    path = plot_curves(log_history(args.run), args.run / "training_curves.png", args.run.name)
    print(f"curves drawn to {path}" if path else f"{args.run} has logged nothing to draw yet")


def _run_launch_config(args: argparse.Namespace) -> None:
    print(ACCELERATE_CONFIGS / f"{args.name}.yaml")


def _run_data(args: argparse.Namespace) -> None:
    from .tapo_data import build_tapo_data

    output = args.output or finebench_home() / "train" / "tapo-data"
    built = build_tapo_data(args.datasets or DATASET_KEYS, output, args.shots, args.seed, args.similarity,
                            thinking=not args.no_thinking, easyr1=args.easyr1)
    print(f"{built.count} TAPO rows written to {built.rows}\ntriplets: {built.triplets}")
    for table in built.tables:
        print(f"nearest classes: {table}")


def _run_import_cot(args: argparse.Namespace) -> None:
    from finebench.data.manifests import load_manifests
    from finebench.data.prepare import check_data_root, locate_archives

    from .cot_import import import_cot_sft, write_jsonl

    manifests = load_manifests(args.manifests)
    roots = locate_archives(check_data_root(args.data_root), DATASET_KEYS, manifests, explicit=False)
    seen = {dataset: manifests[dataset, "seen"].classes for dataset in DATASET_KEYS}
    imported = import_cot_sft(args.cot, roots, seen)
    for reason in imported.refused:
        print(f"refused  {reason}")
    write_jsonl(imported.records, args.output)
    print(f"{len(imported.records)} records written to {args.output}, {len(imported.refused)} refused")


def _run_cot(args: argparse.Namespace) -> None:
    from .cot_build import CotSettings, build_cot
    from .teachers import load_teacher

    output = args.output or finebench_home() / "train" / "cot"
    settings = CotSettings(captions=args.captions, concepts=args.concepts, attempts=args.attempts)
    summary = build_cot(load_teacher(args.teacher), args.datasets or DATASET_KEYS, output, args.shots, args.seed,
                        settings, encoder=args.encoder)
    print(summary.report())


def _run_sft(args: argparse.Namespace) -> None:
    from .sft import recipe_with, train_sft

    if args.preset:
        print(f"finebench train sft: --preset {args.preset} is no longer needed: 3B and 7B share the released "
              "recipe", file=sys.stderr)
    recipe = recipe_with(max_steps=args.max_steps, per_device_train_batch_size=args.batch_size,
                         gradient_accumulation_steps=args.grad_accum, lora=args.lora or None)
    final = train_sft(args.model, args.data, args.output, recipe, use_cpu=args.cpu, report_to=tuple(args.report_to))
    print(f"checkpoint written to {final}")


def _run_tapo(args: argparse.Namespace) -> None:
    from .tapo import describe, train_tapo

    config = chosen_config(args)
    data = args.data / "tapo_train.parquet" if args.data.is_dir() else args.data
    settings = trainer_settings(args, config)
    backend = f"vLLM ({settings['vllm_mode']})" if settings.get("use_vllm") else "HF generate"
    print("\n".join([config.name, *describe(config), f"rollouts generated with {backend}"]))
    final = train_tapo(args.model, data, args.output, config, use_cpu=args.cpu, **settings)
    print(f"checkpoint written to {final}")
