"""`finebench train …`: the trainer's command line (data, CoT import and construction, SFT, TAPO)."""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path

from finebench.cli import _add_datasets, _add_manifests, _positive, needs
from finebench.errors import FinebenchError
from finebench.home import finebench_home
from finebench.data.registry import DATASET_KEYS

from .config import ABLATIONS, TAPO_7B, TAPOConfig

PRESETS = {**ABLATIONS, "tapo-7b": TAPO_7B}
ACCELERATE_CONFIGS = Path(__file__).parent / "accelerate"


def _ratio(text: str) -> tuple[int, int]:
    anchor, _, positive = text.partition(":")
    try:
        values = int(anchor), int(positive)
    except ValueError:
        values = (0, -1)
    if values[0] < 1 or values[1] < 0:
        raise argparse.ArgumentTypeError(f"expected two whole numbers N1:N2 (e.g. 5:5), not {text!r}")
    return values


def add_train_commands(commands) -> None:
    train = commands.add_parser("train", help="the reference trainer: data, CoT SFT, TAPO",
                                description="Train Fine-R1 (or your own) from any Qwen2.5-VL-like base: build the "
                                            "TAPO triplets from the k-shot sets, import or construct CoT data, "
                                            "run CoT SFT, then TAPO. GPU recipes are in the README.")
    stages = train.add_subparsers(dest="train_command", required=True, metavar="STAGE")
    _add_data(stages)
    _add_import_cot(stages)
    _add_cot(stages)
    _add_sft(stages)
    _add_tapo(stages)
    curves = needs(stages.add_parser(
        "curves", help="draw a run's training curves (loss, reward, KL, …) to a PNG",
        description="Read the newest trainer_state.json of a `finebench train sft|tapo` run (finished or still "
                    "going) and draw one panel per logged quantity."), "train")
    curves.add_argument("run", type=Path, help="the run's --output folder")
    configs = stages.add_parser("launch-config", help="path of a shipped accelerate config (zero3, fsdp, ddp)",
                                description="Print the path of an accelerate config shipped with finebench, for "
                                            "`accelerate launch --config_file $(finebench train launch-config zero3)`.")
    configs.add_argument("name", choices=sorted(path.stem for path in ACCELERATE_CONFIGS.glob("*.yaml")))


def _add_data(stages) -> None:
    data = needs(stages.add_parser("data", help="TAPO triplets and training rows from the k-shot sets",
                             description="For every anchor of the k-shot sets: a positive (same class) and a "
                                         "negative (the most similar other seen class). Writes the nearest-class "
                                         "tables, triplets.jsonl and tapo_train.parquet (and the EasyR1 export)."),
                 "eval")  # the default similarity is a text encoder
    _add_datasets(data)
    data.add_argument("--shots", type=_positive, default=4)
    data.add_argument("--seed", type=int, default=1, help="the k-shot set's seed (default 1)")
    data.add_argument("--similarity", default="text:",
                      help="text:<encoder> (class names; default encoder SigLIP, text:minilm offline) or "
                           "clip:<model> (CLIP image centroids, e.g. clip:clip-l)")
    data.add_argument("--no-thinking", action="store_true", help="answer-only prompts (No-Thinking-RL)")
    data.add_argument("--easyr1", action="store_true", help="also write easyr1_train.parquet for the released code")
    data.add_argument("--output", type=Path, help="default: $FINEBENCH_HOME/train/tapo-data")


def _add_import_cot(stages) -> None:
    cot = stages.add_parser("import-cot", help="import the released 404-sample CoT SFT set",
                            description="Resolve each record's image in your extracted archives and write TRL's "
                                        "prompt/completion JSONL; records of unseen classes are refused.")
    cot.add_argument("--cot", type=Path, required=True, help="the released Fine-R1-Stage1-data.json")
    cot.add_argument("--data-root", type=Path, required=True, help="folder holding the extracted archives")
    _add_manifests(cot)
    cot.add_argument("--output", type=Path, required=True, help="JSONL to write")


def _add_cot(stages) -> None:
    cot = needs(stages.add_parser("cot", help="construct CoT SFT data with a teacher MLLM (paper §4.2)",
                            description="One image per seen class: captions -> visual concepts -> the structured "
                                        "prompt of the paper's Table 5, resampled until the prediction names the "
                                        "class; mixed-language answers and predictions outside their candidates "
                                        "are dropped. Resumable."), "eval")  # concepts are ranked by a text encoder
    cot.add_argument("--teacher", required=True,
                     help="openai:<base url>:<model> (vLLM/SGLang/any OpenAI-compatible server), hf:<id or folder>, "
                          "or vllm:<id or folder>")
    _add_datasets(cot)
    cot.add_argument("--shots", type=_positive, default=4)
    cot.add_argument("--seed", type=int, default=1)
    cot.add_argument("--captions", type=_positive, default=5, help="captions per image (default 5)")
    cot.add_argument("--concepts", type=_positive, default=8, help="visual concepts kept (default 8)")
    cot.add_argument("--attempts", type=_positive, default=8, help="CoT samples per image at most (default 8)")
    cot.add_argument("--encoder", help="text encoder ranking the concepts (default SigLIP; minilm offline)")
    cot.add_argument("--output", type=Path, help="default: $FINEBENCH_HOME/train/cot")


def _add_sft(stages) -> None:
    sft = needs(stages.add_parser("sft", help="CoT SFT on TRL's SFTTrainer (loss on the completion only)",
                            description="Fine-tune a Qwen2.5-VL-like model on CoT data (JSONL in TRL's "
                                        "prompt/completion format, e.g. the imported release set) with the "
                                        "released hyperparameters; writes a checkpoint and model card."), "train")
    sft.add_argument("--model", required=True, help="base model: Hub id or folder")
    sft.add_argument("--data", type=Path, required=True, help="JSONL of prompt/completion/images records")
    sft.add_argument("--output", type=Path, required=True)
    sft.add_argument("--preset", default="qwen2.5-vl-3b", choices=("qwen2.5-vl-3b", "qwen2.5-vl-7b"))
    sft.add_argument("--max-steps", type=_positive, help="stop after this many steps (default: the epochs)")
    sft.add_argument("--batch-size", type=_positive, help="per-device batch size (default 4)")
    sft.add_argument("--grad-accum", type=_positive, help="gradient accumulation steps (default 4)")
    sft.add_argument("--lora", action="store_true", help="LoRA (rank 64) instead of full fine-tuning")
    sft.add_argument("--cpu", action="store_true", help="train on the CPU (tests, tiny models)")
    _add_report_to(sft)


def _add_report_to(parser) -> None:
    parser.add_argument("--report-to", nargs="+", default=[], metavar="TRACKER",
                        help="also log to these trackers (tensorboard, wandb, trackio, …); the curves are drawn to "
                             "OUTPUT/training_curves.png in any case")


def _add_tapo(stages) -> None:
    tapo = needs(stages.add_parser("tapo", help="TAPO (or an ablation) on TRL's GRPOTrainer",
                             description="Reinforcement learning from the CoT SFT checkpoint on the rows of "
                                         "`finebench train data`. Presets: " + ", ".join(PRESETS) + ". Resumes "
                                         "from the last checkpoint in OUTPUT/trainer."), "train")
    tapo.add_argument("--model", required=True, help="the CoT SFT checkpoint (Hub id or folder)")
    tapo.add_argument("--data", type=Path, required=True, help="tapo_train.parquet or the folder holding it")
    tapo.add_argument("--output", type=Path, required=True)
    tapo.add_argument("--preset", default="tapo", choices=sorted(PRESETS))
    tapo.add_argument("--rollouts", type=_ratio, metavar="N1:N2", help="rollouts on anchor and positive (default 5:5)")
    tapo.add_argument("--update-on", choices=("own", "anchor"),
                      help="image each rollout's update is conditioned on: its own (release, default) or the anchor "
                           "(paper)")
    tapo.add_argument("--kl-direction", choices=("release", "paper"), help="direction of the inter-class k3 KL")
    tapo.add_argument("--max-resampling-rounds", type=int, help="dynamic sampling's bound on redraws (default 20)")
    tapo.add_argument("--max-completion-length", type=_positive, help="tokens per rollout (default 2048)")
    tapo.add_argument("--pixels", type=_ratio, metavar="MIN:MAX", help="image pixel bounds (default 200704:1003520)")
    tapo.add_argument("--batch-size", type=_positive, default=2, help="rollouts per device per micro-step (default 2)")
    tapo.add_argument("--grad-accum", type=_positive,
                      help="micro-steps per optimiser step (default: the preset's global batch over the processes)")
    tapo.add_argument("--steps-per-generation", type=_positive,
                      help="micro-steps per generation (default: the preset's rollout batch over the processes)")
    tapo.add_argument("--max-steps", type=_positive, help="stop after this many optimiser steps")
    tapo.add_argument("--save-steps", type=_positive, default=50)
    tapo.add_argument("--seed", type=int, default=42)
    tapo.add_argument("--vllm", choices=("auto", "off", "colocate", "server"), default="auto",
                      help="rollouts with vLLM beside the trainer (colocate) or from `trl vllm-serve` (server); "
                           "auto (default): colocate when vLLM is installed and a GPU is present, else HF generate")
    tapo.add_argument("--vllm-server", help="URL of `trl vllm-serve` for --vllm server")
    tapo.add_argument("--gradient-checkpointing", action="store_true")
    tapo.add_argument("--cpu", action="store_true", help="train on the CPU (tests, tiny models)")
    _add_report_to(tapo)


def chosen_config(args: argparse.Namespace) -> TAPOConfig:
    config = PRESETS[args.preset]
    changes = {}
    if args.rollouts:
        changes.update(rollouts_anchor=args.rollouts[0], rollouts_positive=args.rollouts[1])
    if args.update_on:
        changes["update_on_positive_image"] = args.update_on == "own"
    if args.kl_direction:
        changes["kl_direction"] = args.kl_direction
    if args.max_resampling_rounds is not None:
        changes["max_resampling_rounds"] = args.max_resampling_rounds
    if args.max_completion_length:
        changes["max_response_length"] = args.max_completion_length
    if args.pixels:
        changes.update(min_pixels=args.pixels[0], max_pixels=args.pixels[1])
    return replace(config, **changes)


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


def run_train(args: argparse.Namespace) -> None:
    {"data": _run_data, "import-cot": _run_import_cot, "cot": _run_cot, "sft": _run_sft,
     "tapo": _run_tapo, "curves": _run_curves, "launch-config": _run_launch_config}[args.train_command](args)


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
    from .cot_build import CotSettings, build_cot, load_teacher

    output = args.output or finebench_home() / "train" / "cot"
    settings = CotSettings(captions=args.captions, concepts=args.concepts, attempts=args.attempts)
    summary = build_cot(load_teacher(args.teacher), args.datasets or DATASET_KEYS, output, args.shots, args.seed,
                        settings, encoder=args.encoder)
    print(summary.report())


def _run_sft(args: argparse.Namespace) -> None:
    from .sft import preset, train_sft

    chosen = preset(args.preset, max_steps=args.max_steps, per_device_train_batch_size=args.batch_size,
                    gradient_accumulation_steps=args.grad_accum, lora=args.lora or None)
    final = train_sft(args.model, args.data, args.output, chosen, use_cpu=args.cpu, report_to=tuple(args.report_to))
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
