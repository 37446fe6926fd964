"""Commands of the data: download, prepare, fewshot, manifests, status, fixtures, data push|pull."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .arguments import add_datasets, add_fewshot, add_manifests, add_output, command, positive, size


def add_prepare(commands) -> None:
    prepare = command(
        commands, "prepare", run_prepare, help="turn the datasets' archives into the benchmark's parquet files",
        description="Resolve every manifest line to an image under --data-root and write one parquet dataset per "
                    "unit (dataset and split) with the images embedded, the lite subset, and the k-shot training "
                    "sets. Resumable; re-running with nothing changed does nothing. With --download, first fetch "
                    "and unpack the archives that are not there yet (see `finebench download`).",
        epilog="Archives may sit under their official names (CUB_200_2011/, fgvc-aircraft-2013b/, …) or the "
               "Fine-R1 ones (bird_200/, stanford-cars/, …), up to three folders deep; Stanford Cars also as "
               "Kaggle's redistribution (cars_train/cars_train/, cars_test/cars_test/).")
    prepare.add_argument("--data-root", type=Path, help="folder holding the extracted archives (with --download: "
                                                        "where they are downloaded, default $FINEBENCH_HOME/archives)")
    prepare.add_argument("--download", action="store_true",
                         help="download, verify and unpack the archives not found under --data-root first")
    add_mirror(prepare)
    add_manifests(prepare)
    add_datasets(prepare)
    prepare.add_argument("--allow-missing", action="store_true",
                         help="prepare the lines whose image exists and decodes; record the others")
    prepare.add_argument("--workers", type=positive, help="image-reading threads (default: 2 per core, at most 8)")
    prepare.add_argument("--no-fewshot", action="store_true", help="skip the k-shot training sets")
    add_fewshot(prepare)


def add_mirror(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mirror", metavar="URL",
                        help="fetch from this mirror instead of the authors' sites: <URL>/<dataset>/<file> with a "
                             "SHA256SUMS at <URL> (http(s)://, file:// or any fsspec URL; default $FINEBENCH_MIRROR)")


def run_prepare(args: argparse.Namespace) -> None:
    from finebench.data.prepare import prepare, summary_table
    from finebench.errors import FinebenchError

    if args.download:
        args.data_root = run_download_for_prepare(args)
    elif args.data_root is None:
        raise FinebenchError("prepare needs the folder with the archives",
                             "pass --data-root DIR, or --download to fetch the archives first")
    print(summary_table(prepare(args.data_root, args.manifests, args.datasets, args.allow_missing, args.workers,
                                replace=args.replace)))
    if not args.no_fewshot:
        run_fewshot(args)


def run_download_for_prepare(args: argparse.Namespace) -> Path:
    """Download what prepare will not find under the data root; return the data root."""
    from finebench.data.download import download, summary
    from finebench.data.prepare import datasets_found
    from finebench.data.registry import parse_dataset_list
    from finebench.home import archives_dir

    folder = (args.data_root or archives_dir()).expanduser()
    wanted = parse_dataset_list(args.datasets)
    found = datasets_found(folder, args.manifests, wanted) if folder.is_dir() else set()
    missing = [dataset for dataset in wanted if dataset not in found]
    if found:
        print(f"found under {folder}, not downloaded: {', '.join(sorted(found))}")
    if missing:
        print(summary(download(missing, folder, args.mirror, explicit=bool(args.datasets)), folder.resolve()))
    return folder


def add_download(commands) -> None:
    download = command(
        commands, "download", run_download, help="download, verify and unpack the datasets' official archives",
        description="Fetch each dataset's files from its authors (Oxford VGG, Caltech DATA, Stanford) or a mirror, "
                    "check them against the pinned MD5 (or the sha256 recorded at their first download, and a "
                    "mirror's SHA256SUMS), and unpack them. Resumable (HTTP Range), safe to kill at any moment; a "
                    "second run transfers nothing. The folder is itself a mirror for other machines.",
        epilog="Stanford Cars has no working official source: the command says what to do by hand.")
    add_datasets(download)
    download.add_argument("--to", type=Path, metavar="DIR",
                          help="download folder (default $FINEBENCH_HOME/archives); then prepare --data-root DIR")
    add_mirror(download)


def run_download(args: argparse.Namespace) -> None:
    from finebench.data.download import download, summary
    from finebench.home import archives_dir

    folder = (args.to or archives_dir()).expanduser()
    print(summary(download(args.datasets, folder, args.mirror), folder.resolve()))


def add_fewshot_command(commands) -> None:
    fewshot = command(commands, "fewshot", run_fewshot, help="write k-shot training sets of the seen classes",
                      description="Draw k images per seen class from each archive's train split, one parquet per "
                                  "seed, under $FINEBENCH_HOME/fewshot.")
    fewshot.add_argument("--data-root", type=Path, required=True, help="folder holding the extracted archives")
    add_manifests(fewshot)
    add_datasets(fewshot)
    add_fewshot(fewshot)


def run_fewshot(args: argparse.Namespace) -> None:
    from finebench.data.fewshot import prepare_fewshot

    for path, status in prepare_fewshot(args.data_root, args.manifests, args.datasets, args.shots, args.seeds,
                                        replace=args.replace):
        print(f"{status:>10}  {path}")


def add_manifests_command(commands) -> None:
    add_manifests(command(commands, "manifests", run_manifests,
                          help="download (if needed) and verify the official manifests"))


def run_manifests(args: argparse.Namespace) -> None:
    from finebench.data.manifests import load_manifests

    manifests = load_manifests(args.manifests)
    for manifest in manifests.values():
        print(f"{manifest.name + '.jsonl':<22}{len(manifest.lines):>6} lines {len(manifest.classes):>4} classes  "
              f"sha256 {manifest.sha256[:16]}… ok")
    print(f"{sum(len(m.lines) for m in manifests.values())} lines in all: the official benchmark")


def add_status(commands) -> None:
    command(commands, "status", run_status, help="show what is prepared under $FINEBENCH_HOME, and from which archives")


def run_status(args: argparse.Namespace) -> None:
    from finebench.data.store import PreparedStore
    from finebench.home import fewshot_dir, prepared_dir

    store = PreparedStore(prepared_dir())
    units = store.read_metadata()["units"]
    if not units:
        print(f"nothing prepared under {store.root}; run `finebench prepare --download` (or `--data-root DIR` "
              "for archives you have, or `finebench demo`)")
        return
    print(f"prepared under {store.root}:")
    for name, record in sorted(units.items()):
        print(f"  {name:<16}{record['rows']:>6} of {record['manifest_lines']:>5} lines  "
              f"lite {record['lite']['rows']:>3}  labels {record['label_check']:<7} from {record['archive_root']}")
    sets = sorted(fewshot_dir().glob("*.parquet"))
    print(f"few-shot sets under {fewshot_dir()}: {', '.join(path.stem for path in sets) or 'none'}")
    print("`finebench doctor` checks them against the pinned manifests and their archives")


def add_fixtures(commands) -> None:
    from finebench.data.fixtures import LAYOUTS  # the one list of layouts (costs ~50 ms of numpy import at start-up)

    fixtures = command(commands, "fixtures", run_fixtures,
                       help="generate stand-in archives (tiny JPEGs, real metadata formats)",
                       description="Write the six archives in their official layouts with generated JPEGs at the "
                                   "manifests' file names: for tests, demos and benchmarks.")
    add_output(fixtures, "folder to write the archives into")
    fixtures.add_argument("old_output", nargs="?", type=Path, metavar="OUTPUT",
                          help="the same folder, as the first argument (the old spelling, still accepted)")
    add_manifests(fixtures)
    add_datasets(fixtures)
    fixtures.add_argument("--lines-per-split", type=positive, help="images per manifest (default: all)")
    fixtures.add_argument("--train-per-class", type=positive, default=5, help="training images per class (default 5)")
    fixtures.add_argument("--layout", choices=LAYOUTS, default="official",
                          help="folder names: as the official downloads extract, or as the Fine-R1 manifests")
    fixtures.add_argument("--size", type=size, default=(32, 24), help="JPEG size WxH (default 32x24)")


def run_fixtures(args: argparse.Namespace) -> None:
    from finebench.data.fixtures import default_workers, write_archives
    from finebench.data.manifests import load_manifests
    from finebench.data.registry import parse_dataset_list
    from finebench.errors import FinebenchError

    if args.old_output is not None:
        print("finebench fixtures: the folder is now given with --output; the old spelling goes in a later release",
              file=sys.stderr)
    output = args.output or args.old_output
    if output is None or (args.output and args.old_output and args.output != args.old_output):
        raise FinebenchError("fixtures needs one folder to write into", "finebench fixtures --output DIR")
    keys = parse_dataset_list(args.datasets)
    roots = write_archives(output, load_manifests(args.manifests, keys), keys, args.lines_per_split,
                           args.train_per_class, args.layout, args.size, workers=default_workers())
    for dataset, root in roots.items():
        print(f"{dataset:<10}{root}")


def add_data_sharing(commands) -> None:
    data = command(commands, "data", None, help="share the prepared benchmark: push it once, pull or read it anywhere",
                   description="A lab prepares once and every node reads the same checked data: `data push DEST` "
                               "copies $FINEBENCH_HOME/prepared to a Hugging Face dataset repository "
                               "(hf://datasets/<owner>/<name>, private unless --public) or any fsspec URL or shared "
                               "folder; `data pull SRC` copies it back (SRC may pin hf://…@<revision>), every file "
                               "checked by sha256; FINEBENCH_DATA=SRC makes the tasks read it in place. What is read "
                               "is always checked against its metadata.json (manifest hashes, line counts, the "
                               "option-order rule, file sizes).")
    actions = data.add_subparsers(dest="action", required=True, metavar="ACTION")
    push = command(actions, "push", run_data_push, help="copy the prepared benchmark to DEST")
    push.add_argument("destination", metavar="DEST", help="hf://datasets/<owner>/<name>, an fsspec URL or a folder")
    push.add_argument("--public", action="store_true",
                      help="make a new Hub repository public (default private: the datasets' terms allow research "
                           "use, not redistribution)")
    pull = command(actions, "pull", run_data_pull, help="copy a pushed benchmark into $FINEBENCH_HOME/prepared")
    pull.add_argument("source", metavar="SRC",
                      help="hf://datasets/<owner>/<name>[@<revision>], an fsspec URL or a folder")


def run_data_push(args: argparse.Namespace) -> None:
    from finebench.data.sharing import DATA_VARIABLE, push

    where = push(args.destination, private=not args.public)
    print(f"pushed to {where}\nread it on other nodes with `finebench data pull {where}` or {DATA_VARIABLE}={where}")


def run_data_pull(args: argparse.Namespace) -> None:
    from finebench.data.sharing import pull

    described, installed = pull(args.source)
    print(f"pulled {len(installed)} unit{'s' if len(installed) != 1 else ''} from {described}"
          + (f": {', '.join(installed)}" if installed else " (everything was up to date)"))
