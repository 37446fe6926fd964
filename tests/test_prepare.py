import errno
import json
import os
import shutil

import datasets
import pytest
from conftest import SMALL_LINES

from finebench.data import prepare as prepare_module
from finebench.data.fixtures import spread_subset, write_archives
from finebench.data.lite import lite_indices
from finebench.data.prepare import prepare
from finebench.data.store import PreparedStore
from finebench.errors import FinebenchError


def load_unit(home, name):
    files = PreparedStore(home / "prepared").data_files(*name.split("_"))
    return datasets.load_dataset("parquet", data_files=[str(f) for f in files], split="train")


@pytest.fixture
def pet_archive(tmp_path, manifests):
    """A complete pet archive with every test image (3,669 tiny JPEGs)."""
    write_archives(tmp_path / "data", manifests, ["pet"], train_per_class=5, progress=False)
    return tmp_path / "data"


def test_subset_is_prepared_with_every_column(small_archives, manifests, manifest_dir, home):
    outcomes = prepare(small_archives, manifest_dir, ["bird", "car"], allow_missing=True, progress=False)
    assert {o.name: o.rows for o in outcomes} == {f"{d}_{s}": SMALL_LINES for d in ("bird", "car")
                                                  for s in ("seen", "unseen")}
    table = load_unit(home, "car_unseen")
    assert isinstance(table.features["image"], datasets.Image)
    expected = spread_subset(manifests["car", "unseen"].lines, SMALL_LINES)
    assert table["line"] == [line.index for line in expected]
    row = table[0]
    line = expected[0]
    assert row["image"].size == (32, 24) and (row["width"], row["height"]) == (32, 24)
    assert row["question"] == line.question and row["ground_truth"] == line.ground_truth
    assert row["official_options"] == list(line.options)
    assert sorted(row["balanced_options"]) == sorted(line.options)
    assert row["balanced_options"][row["balanced_answer_index"]] == line.ground_truth
    assert row["super_category"] == "car" and row["official_super_category"] == "car"
    assert row["sample_id"] == f"car/{line.basename[:-4]}" and row["split"] == "unseen"
    assert load_unit(home, "bird_seen")[0]["official_super_category"] == "object"
    metadata = json.loads((home / "prepared" / "metadata.json").read_text())
    record = metadata["units"]["car_unseen"]
    assert record["manifest_lines"] == 3230 and len(record["missing"]) == 3230 - SMALL_LINES
    assert record["label_check"] == "passed"
    assert metadata["manifests"]["car_unseen.jsonl"]["sha256"].startswith("a5eff192")
    present = {line.index for line in expected}
    assert record["lite"]["rows"] == len(present & set(lite_indices(manifests["car", "unseen"])))  # with images


def test_missing_images_are_refused_with_count_paths_and_the_option(small_archives, manifest_dir, home):
    with pytest.raises(FinebenchError) as caught:
        prepare(small_archives, manifest_dir, ["pet"], progress=False)
    message = str(caught.value)
    assert f"{3669 - 2 * SMALL_LINES} of 3669 manifest lines have no image" in message
    assert str(small_archives / "oxford-iiit-pet" / "images") in message
    assert "images.tar.gz" in message and "--allow-missing" in message
    assert not (home / "prepared" / "pet_seen").exists()


def test_rerun_is_a_no_op_and_a_changed_image_redoes_only_its_unit(pet_archive, manifest_dir, home):
    first = prepare(pet_archive, manifest_dir, ["pet"], progress=False)
    assert [o.status for o in first] == ["prepared", "prepared"] and sum(o.rows for o in first) == 3669
    unit = home / "prepared" / "pet_seen"
    stamps = {path.name: path.stat().st_mtime_ns for path in unit.iterdir()}
    again = prepare(pet_archive, manifest_dir, ["pet"], progress=False)
    assert [o.status for o in again] == ["up to date", "up to date"]
    assert {path.name: path.stat().st_mtime_ns for path in unit.iterdir()} == stamps
    image = pet_archive / "oxford-iiit-pet" / "images" / "american_bulldog_203.jpg"  # a seen-class test image
    os.utime(image, ns=(image.stat().st_atime_ns, image.stat().st_mtime_ns + 10**9))
    third = {o.name: o.status for o in prepare(pet_archive, manifest_dir, ["pet"], progress=False)}
    assert third == {"pet_seen": "prepared", "pet_unseen": "up to date"}


def test_interrupted_run_resumes_at_the_next_shard(pet_archive, manifest_dir, home, monkeypatch):
    real_write_shard = prepare_module.write_shard
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(args[2].name)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_write_shard(*args, **kwargs)

    monkeypatch.setattr(prepare_module, "write_shard", interrupted)
    with pytest.raises(KeyboardInterrupt):
        prepare(pet_archive, manifest_dir, ["pet"], progress=False)
    assert not (home / "prepared" / "pet_seen").exists()  # nothing half-done is visible
    staged = sorted((home / "prepared" / ".staging").glob("pet_seen-*/part-*.parquet"))
    assert [path.name for path in staged] == ["part-00000.parquet", "part-00001.parquet"]

    calls.clear()
    monkeypatch.setattr(prepare_module, "write_shard", lambda *a, **k: (calls.append(a[2]),
                                                                       real_write_shard(*a, **k)))
    outcomes = prepare(pet_archive, manifest_dir, ["pet"], progress=False)
    seen_shards = [path.name for path in calls if path.parent.name.startswith("pet_seen-")]
    assert seen_shards == ["part-00002.parquet", "part-00003.parquet", "part-00004.parquet"]
    assert sum(o.rows for o in outcomes) == 3669
    assert load_unit(home, "pet_seen")["line"] == list(range(2176))
    assert not list((home / "prepared" / ".staging").glob("pet_seen-*"))


def test_a_full_disk_leaves_the_earlier_data_intact(pet_archive, manifest_dir, home, monkeypatch):
    prepare(pet_archive, manifest_dir, ["pet"], progress=False)
    before = load_unit(home, "pet_seen")["sample_id"]
    image = pet_archive / "oxford-iiit-pet" / "images" / "american_bulldog_203.jpg"
    os.utime(image, ns=(image.stat().st_atime_ns, image.stat().st_mtime_ns + 10**9))

    import pyarrow.parquet as pq

    def full_disk(table, where, **kwargs):
        with open(where, "wb") as handle:
            handle.write(b"PAR1 partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq, "write_table", full_disk)
    with pytest.raises(FinebenchError, match="(?s)disk full while writing .*part-00000.parquet.*resumes"):
        prepare(pet_archive, manifest_dir, ["pet"], progress=False)
    assert not list((home / "prepared").rglob(".part-*.tmp"))
    assert load_unit(home, "pet_seen")["sample_id"] == before


def test_a_corrupt_jpeg_is_named_or_recorded(pet_archive, manifest_dir, home):
    image = pet_archive / "oxford-iiit-pet" / "images" / "american_bulldog_205.jpg"
    image.write_bytes(image.read_bytes()[:200])  # truncated
    with pytest.raises(FinebenchError) as caught:
        prepare(pet_archive, manifest_dir, ["pet"], progress=False)
    assert "cannot decode" in str(caught.value) and "american_bulldog_205.jpg" in str(caught.value)
    assert "--allow-missing" in str(caught.value)
    outcomes = {o.name: o for o in prepare(pet_archive, manifest_dir, ["pet"], allow_missing=True, progress=False)}
    assert outcomes["pet_seen"].rows == 2175 and outcomes["pet_seen"].unreadable == 1
    record = PreparedStore(home / "prepared").unit_record("pet_seen")
    assert record["unreadable"] == ["oxford-pet/images/american_bulldog_205.jpg"]


def test_labels_that_disagree_with_the_manifest_are_refused(small_archives, manifest_dir, home, tmp_path):
    archive = tmp_path / "oxford-iiit-pet"
    shutil.copytree(small_archives / "oxford-iiit-pet", archive)
    test_list = archive / "annotations" / "test.txt"
    test_list.write_text(test_list.read_text().replace("Abyssinian_201 1 1 1", "Abyssinian_201 6 1 2"))
    with pytest.raises(FinebenchError, match="disagree with the manifests on 1 lines .*archive says Bengal"):
        prepare(tmp_path, manifest_dir, ["pet"], allow_missing=True, progress=False)


def test_without_metadata_the_images_still_prepare(small_archives, manifest_dir, home, tmp_path):
    shutil.copytree(small_archives / "oxford-iiit-pet" / "images", tmp_path / "oxford-pet" / "images")
    outcomes = prepare(tmp_path, manifest_dir, ["pet"], allow_missing=True, progress=False)
    assert sum(o.rows for o in outcomes) == 2 * SMALL_LINES
    record = PreparedStore(home / "prepared").unit_record("pet_seen")
    assert record["label_check"].startswith("not checked: trainval.txt, test.txt not found")


def test_bad_data_roots(small_archives, manifest_dir, home, tmp_path):
    with pytest.raises(FinebenchError, match="is not a folder"):
        prepare(tmp_path / "nope", manifest_dir, progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FinebenchError, match="(?s)FGVC-Aircraft: no archive under .*Oxford-IIIT Pet: no archive"):
        prepare(tmp_path / "empty", manifest_dir, progress=False)
    only_pets = tmp_path / "only-pets"
    shutil.copytree(small_archives / "oxford-iiit-pet", only_pets / "oxford-iiit-pet")
    with pytest.raises(FinebenchError, match="Stanford Dogs: no archive"):
        prepare(only_pets, manifest_dir, ["pet", "dog"], allow_missing=True, progress=False)
    found = prepare(only_pets, manifest_dir, allow_missing=True, progress=False)  # not named: skipped
    assert [o.name for o in found] == ["pet_seen", "pet_unseen"]


def test_a_second_prepare_on_the_same_home_is_refused(small_archives, manifest_dir, home):
    with PreparedStore(home / "prepared").locked():
        with pytest.raises(FinebenchError, match="another finebench prepare is writing"):
            prepare(small_archives, manifest_dir, ["pet"], allow_missing=True, progress=False)


def test_a_swap_cut_between_its_renames_is_recovered(small_archives, manifest_dir, home):
    prepare(small_archives, manifest_dir, ["pet"], allow_missing=True, progress=False)
    unit = home / "prepared" / "pet_seen"
    unit.rename(unit.with_name("pet_seen.previous"))  # as if killed between the two renames
    outcomes = prepare(small_archives, manifest_dir, ["pet"], allow_missing=True, progress=False)
    assert [o.status for o in outcomes] == ["up to date", "up to date"]
    assert len(load_unit(home, "pet_seen")) == SMALL_LINES


def test_missing_prepared_data_names_the_command(home):
    with pytest.raises(FinebenchError, match="run `finebench prepare --download --datasets dog`"):
        PreparedStore(home / "prepared").data_files("dog", "seen")


def test_damaged_metadata_is_reported(home):
    (home / "prepared").mkdir(parents=True)
    (home / "prepared" / "metadata.json").write_text("{half")
    with pytest.raises(FinebenchError, match="damaged"):
        PreparedStore(home / "prepared").read_metadata()


def _files(folder):
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def test_data_from_other_archives_is_replaced_only_when_asked(pet_archive, manifests, manifest_dir, home, tmp_path):
    from finebench.data.fewshot import prepare_fewshot

    prepare(pet_archive, manifest_dir, ["pet"], progress=False)
    prepare_fewshot(pet_archive, manifest_dir, ["pet"], seeds=[1])
    before = _files(home)
    other = tmp_path / "stand-ins"  # other images of the same layout: a demo's, or a second download
    roots = write_archives(other, manifests, ["pet"], train_per_class=5, size=(16, 12), progress=False)
    with pytest.raises(FinebenchError) as caught:
        prepare(other, manifest_dir, ["pet"], progress=False)
    message = str(caught.value)
    assert "2 prepared units" in message and "pet_seen: prepared from" in message and str(pet_archive) in message
    assert str(other.resolve()) in message and "--replace" in message
    with pytest.raises(FinebenchError, match="1 few-shot sets .* built from other archives"):
        prepare_fewshot(other, manifest_dir, ["pet"], seeds=[1])
    assert _files(home) == before  # refused before anything was written
    prepare(other, manifest_dir, ["pet"], progress=False, replace=True)
    assert [status for _, status in prepare_fewshot(other, manifest_dir, ["pet"], seeds=[1], replace=True)] == \
        ["written"]
    metadata = json.loads((home / "prepared" / "metadata.json").read_text())
    assert {record["archive_root"] for record in metadata["units"].values()} == {str(roots["pet"].resolve())}
    assert load_unit(home, "pet_seen")[0]["image"].size == (16, 12)


def test_prepared_files_have_the_mode_the_umask_gives(pet_archive, manifest_dir, home):
    from finebench.data.fewshot import prepare_fewshot

    previous = os.umask(0o002)  # a team's shared folder: group-writable
    try:
        prepare(pet_archive, manifest_dir, ["pet"], progress=False)
        prepare_fewshot(pet_archive, manifest_dir, ["pet"], seeds=[1])
    finally:
        os.umask(previous)
    written = [path for path in home.rglob("*") if path.is_file()]
    assert len(written) >= 8  # shards, lite files, metadata, the lock, the few-shot set and its metadata
    assert {oct(path.stat().st_mode & 0o777) for path in written} == {oct(0o664)}


def test_units_of_an_older_data_format_are_refused_then_rebuilt(pet_archive, manifest_dir, home):
    from finebench.harness import doctor

    prepare(pet_archive, manifest_dir, ["pet"], progress=False)
    path = home / "prepared" / "metadata.json"
    metadata = json.loads(path.read_text())
    metadata["format"] = 1  # as finebench 0.1 wrote it: no format per unit
    for record in metadata["units"].values():
        del record["format"]
    path.write_text(json.dumps(metadata))
    store = PreparedStore(home / "prepared")
    with pytest.raises(FinebenchError, match="older finebench .data format 1; this one reads 2") as caught:
        store.data_files("pet", "seen")
    assert "--datasets pet` again" in caught.value.fix
    [check] = [c for c in doctor.check_prepared(["pet_seen"], home) if c.name == "prepared pet_seen"]
    assert check.status == doctor.FAIL and "older finebench" in check.found
    outcomes = prepare(pet_archive, manifest_dir, ["pet"], progress=False)
    assert {outcome.status for outcome in outcomes} == {"prepared"}  # rebuilt, not refused
    assert store.data_files("pet", "seen") and "balanced_options" in load_unit(home, "pet_seen").column_names
