"""`finebench bench …`: the benchmarks that print figures, each beside the code it measures."""

from __future__ import annotations

import argparse
from pathlib import Path

from .arguments import add_datasets, add_manifests, command, positive, renamed, size


def add_bench(commands) -> None:
    bench = command(commands, "bench", None, help="benchmarks that print figures")
    benchmarks = bench.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    prepare = command(benchmarks, "prepare", run_prepare,
                      help="time prepare on full-size generated JPEGs (target: all 35,566 in < 10 min, < 2 GB)")
    add_manifests(prepare)
    add_datasets(prepare)
    prepare.add_argument("--size", type=size, default=(500, 375), help="JPEG size (default 500x375)")
    prepare.add_argument("--lines-per-split", type=positive, help="images per manifest (default: all)")
    prepare.add_argument("--workers", type=positive, help="prepare's image-reading threads")
    prepare.add_argument("--workdir", type=Path, help="keep the archives here (default: a temporary folder)")
    prepare.add_argument("--cold", action="store_true",
                         help="drop the page cache before timing, so images come from disk (needs root)")
    scoring = command(benchmarks, "scoring", run_scoring, ("eval",),
                      help="open-world scoring of all 35,566 lines: cached and batched vs the official per-line calls")
    add_manifests(scoring)
    add_datasets(scoring)
    scoring.add_argument("--encoder", default="minilm", help="text encoder (default: minilm, offline)")
    renamed(scoring, "--official-lines", "--released-lines", type=positive, default=2000,
            help="lines to time the official scorer's approach on (default 2000; it is slow)")
    harness = command(benchmarks, "harness", run_harness, ("eval",),
                      help="lmms-eval's and finebench's own cost per line, with the ground_truth responder")
    add_manifests(harness)
    harness.add_argument("--workdir", type=Path, help="keep the generated data here (default: temporary)")
    circular = command(benchmarks, "circular", run_circular, ("eval",),
                       help="the circular closed world's harness cost per line and generation against the plain one")
    add_manifests(circular)
    circular.add_argument("--workdir", type=Path, help="keep the generated data here (default: temporary)")
    circular.add_argument("--lite", action="store_true", help="the lite subset (600 lines): a run in a minute")
    clip = command(benchmarks, "clip", run_clip, ("clip",),
                   help="CLIP baseline: cached class embeddings vs the four candidate prompts per image")
    add_manifests(clip)
    clip.add_argument("--lines", type=positive, default=256)
    clip.add_argument("--architecture", default="ViT-B-32", help="open_clip architecture (random weights)")
    clip.add_argument("--templates", choices=("photo", "imagenet80"), default="photo")
    tapo = command(benchmarks, "tapo", run_tapo, ("train",),
                   help="one TAPO step vs one plain DAPO step of the same batch, tiny model (target <= 1.6x)")
    tapo.add_argument("--steps", type=positive, default=4, help="timed steps per run (default 4)")
    tapo.add_argument("--tokens", type=positive, default=48, help="tokens per rollout (default 48)")
    download = command(benchmarks, "download", run_download,
                       help="download over a loopback mirror vs cat (target >= 80 %%), pull vs prepare (<= 1.5x)")
    add_manifests(download)
    add_datasets(download)
    download.add_argument("--size", type=size, default=(256, 192), help="stand-in JPEG size (default 256x192)")
    download.add_argument("--workdir", type=Path, help="scratch folder (default: the system's temporary folder)")
    board = command(benchmarks, "leaderboard", run_leaderboard, ("leaderboard",),
                    help="the app's cold starts vs a bare Gradio app of the same table, and a filter change, "
                         "1,000 entries")
    board.add_argument("--entries", type=positive, default=1000)
    board.add_argument("--repeats", type=positive, default=3, help="cold starts of each app (median reported)")


def run_download(args: argparse.Namespace) -> None:
    from finebench.data.download_benchmark import bench_download

    print(bench_download(args.manifests, args.datasets, args.size, args.workdir))


def run_prepare(args: argparse.Namespace) -> None:
    from finebench.data.benchmark import bench_prepare

    print(bench_prepare(args.manifests, args.datasets, args.size, args.lines_per_split, args.workers, args.workdir,
                        args.cold))


def run_scoring(args: argparse.Namespace) -> None:
    from finebench.scoring.benchmark import bench_scoring

    print(bench_scoring(args.manifests, args.encoder, args.official_lines, args.datasets))


def run_harness(args: argparse.Namespace) -> None:
    from finebench.harness.benchmark import bench_harness

    print(bench_harness(args.manifests, args.workdir))


def run_circular(args: argparse.Namespace) -> None:
    from finebench.harness.benchmark import bench_circular

    print(bench_circular(args.manifests, args.workdir, args.lite))


def run_clip(args: argparse.Namespace) -> None:
    from finebench.baselines.benchmark import bench_clip

    print(bench_clip(args.manifests, args.lines, args.architecture, args.templates))


def run_tapo(args: argparse.Namespace) -> None:
    from finebench.trainers.benchmark import bench_tapo

    print(bench_tapo(args.steps, args.tokens))


def run_leaderboard(args: argparse.Namespace) -> None:
    from finebench.leaderboard.benchmark import bench_leaderboard

    print(bench_leaderboard(args.entries, repeats=args.repeats))
