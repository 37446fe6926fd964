"""The prepared data on disk: folders, metadata.json, and the lock that guards them.

    prepared/
      metadata.json            what is there: manifest hashes, counts, missing lines
      <dataset>_<split>/       part-00000.parquet … (one row per manifest line)
                               lite.parquet (the small stratified subset)
      .staging/                units being written (resumable), invisible to readers

metadata.json is rewritten atomically after each unit, and a unit folder is only ever
replaced whole, so a reader sees either the previous complete data or the new one.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path
from typing import Sequence

from finebench import __version__, atomic
from finebench.errors import FinebenchError

# 2: the finebench order's columns named for what they are (balanced_options, balanced_answer_index)
FORMAT_VERSION = 2
METADATA_FILE = "metadata.json"
LITE_FILE = "lite.parquet"  # inside the unit folder, so it is swapped in together with the shards


def prepare_command(*datasets: str) -> str:
    """The command that prepares these datasets (all of them when none is named): downloading them, the
    way a new user has them prepared (archives already on disk are found with --data-root and not fetched)."""
    from .registry import DATASET_KEYS

    named = [key for key in DATASET_KEYS if key in datasets]
    selection = f" --datasets {' '.join(named)}" if named and len(named) < len(DATASET_KEYS) else ""
    return f"finebench prepare --download{selection}"


class PreparedStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    @property
    def metadata_path(self) -> Path:
        return self.root / METADATA_FILE

    def unit_dir(self, name: str) -> Path:
        return self.root / name

    def staging_dir(self, name: str, fingerprint: str) -> Path:
        return self.root / ".staging" / f"{name}-{fingerprint[:16]}"

    def read_metadata(self) -> dict:
        if not self.metadata_path.is_file():
            return {"format": FORMAT_VERSION, "units": {}, "manifests": {}}
        try:
            metadata = json.loads(self.metadata_path.read_text("utf-8"))
        except ValueError:
            raise FinebenchError(f"{self.metadata_path} is damaged (not JSON)",
                                 f"delete it and run `{prepare_command()}` again: unchanged data is rebuilt") from None
        return metadata  # units of an older format stay listed: prepare rebuilds them, readers refuse them

    def unit_record(self, name: str) -> dict | None:
        return self.read_metadata()["units"].get(name)

    @staticmethod
    def outdated(record: dict) -> str | None:
        """Why a unit cannot be read by this finebench (an older data format), or None."""
        found = record.get("format", 1)  # format 1 recorded it only for the whole folder
        if found == FORMAT_VERSION:
            return None
        return f"prepared by an older finebench (data format {found}; this one reads {FORMAT_VERSION})"

    def is_current(self, name: str, fingerprint: str) -> bool:
        record = self.unit_record(name)
        return bool(
            record
            and record["fingerprint"] == fingerprint
            and not self.outdated(record)
            and all((self.unit_dir(name) / file).is_file() for file in record["files"])
        )

    def record_unit(self, name: str, record: dict, manifest: dict) -> None:
        metadata = self.read_metadata()
        metadata["units"][name] = {**record, "format": FORMAT_VERSION}
        metadata["format"] = FORMAT_VERSION
        metadata["manifests"][f"{name}.jsonl"] = manifest
        metadata["finebench_version"] = __version__
        atomic.write_json(self.metadata_path, metadata)

    def install_unit(self, staging: Path, name: str) -> None:
        """Swap a finished staging folder in, and drop stale staging folders of the unit."""
        atomic.replace_directory(staging, self.unit_dir(name))
        for stale in (self.root / ".staging").glob(f"{name}-*"):
            shutil.rmtree(stale, ignore_errors=True)

    def recover(self) -> None:
        """Finish what an interrupted folder swap left, for every unit."""
        if self.root.is_dir():
            for previous in self.root.glob("*.previous"):
                atomic.recover_directory(previous.with_name(previous.name.removesuffix(".previous")))

    def locked(self) -> contextlib.AbstractContextManager:
        """Hold an exclusive lock for a whole prepare run: two writers would corrupt metadata.json."""
        busy = FinebenchError(f"another finebench prepare is writing to {self.root}",
                              "wait for it to finish, or use another FINEBENCH_HOME")
        return atomic.exclusive(self.root / ".lock", busy)

    def data_files(self, dataset: str, split: str, lite: bool = False) -> list[Path]:
        """The parquet files of one prepared (dataset, split), or an error saying how to make them."""
        name = f"{dataset}_{split}"
        record = self.unit_record(name)
        if record is None:
            raise FinebenchError(f"{name} is not prepared under {self.root}", f"run `{prepare_command(dataset)}`")
        if self.outdated(record):
            raise FinebenchError(f"{name} under {self.root} was {self.outdated(record)}",
                                 f"run `{prepare_command(dataset)}` again: it rebuilds the unit from its archive")
        names = [record["lite"]["file"]] if lite else record["files"]
        files = [self.unit_dir(name) / file for file in names]
        absent = [str(path) for path in files if not path.is_file()]
        if absent:
            raise FinebenchError(f"prepared files of {name} are missing: {absent[:3]}",
                                 f"run `{prepare_command(dataset)}` again")
        return files

    def images(self, dataset: str, split: str, sample_ids: Sequence[str]) -> dict[str, bytes]:
        """The encoded images of these lines of a prepared (dataset, split), by sample id (only the shards'
        sample_id and image columns are read, filtered on the ids)."""
        import pyarrow.parquet as pq

        wanted, found = list(dict.fromkeys(sample_ids)), {}
        for path in self.data_files(dataset, split):
            table = pq.read_table(path, columns=["sample_id", "image"], filters=[("sample_id", "in", wanted)])
            for sample, image in zip(table.column("sample_id").to_pylist(), table.column("image").to_pylist()):
                found[sample] = image["bytes"]
        return found

