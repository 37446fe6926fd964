"""`finebench download` against a loopback server that serves the stand-in archives under the official file
names (tests/rangeserver.py): the whole path to a lite eval, resume by Range, refusals, failures in seconds,
a second run that transfers nothing, kill -9 at several moments, mirrors, and Stanford Cars' two layouts."""

import hashlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from rangeserver import RangeServer

from finebench import atomic
from finebench.data import download as dl
from finebench.data import sources, standin_files
from finebench.data.fixtures import write_archives
from finebench.errors import FinebenchError

BIN = Path(sys.executable).parent
DATASETS = ("car", "flower", "pet")


@pytest.fixture(scope="module")
def mirror(tmp_path_factory, manifests):
    """Stand-in archives of Cars, Flowers and Pets (every test image), packed as the official files."""
    root = tmp_path_factory.mktemp("download")
    write_archives(root / "archives", manifests, DATASETS, train_per_class=2, progress=False)
    standin_files.write_mirror(root / "archives", root / "mirror", DATASETS)
    return root / "mirror"


@pytest.fixture
def served(mirror, monkeypatch):
    """The authors' sites, played by a loopback server: the project's source table points at it."""
    monkeypatch.setenv(dl.transfer.TIMEOUT_VARIABLE, "2")
    monkeypatch.delenv(dl.MIRROR_VARIABLE, raising=False)
    with RangeServer(mirror) as server:
        monkeypatch.setattr(sources, "SOURCES", standin_files.sources_served_by(mirror, server.url))
        yield server


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow(seconds=35)  # with its module's mirror
def test_download_then_prepare_then_a_lite_eval(served, mirror, tmp_path, home, manifest_dir):
    to = tmp_path / "archives"
    outcomes = dl.download(["flower", "pet"], to, progress=False)
    assert {o.key: o.status for o in outcomes} == {s.key: "downloaded" for s in sources.SOURCES
                                                   if s.dataset in ("flower", "pet")}
    sums = dl.parse_sums((mirror / dl.SUMS_FILE).read_text(), "mirror")
    assert all(sha256(to / key) == sums[key] for key in (o.key for o in outcomes))
    assert dl.parse_sums((to / dl.SUMS_FILE).read_text(), "to") == {o.key: sums[o.key] for o in outcomes}
    result = subprocess.run([BIN / "finebench", "prepare", "--data-root", str(to), "--manifests", str(manifest_dir),
                             "--datasets", "flower", "pet", "--no-fewshot"], capture_output=True, text=True,
                            timeout=600, env={**os.environ, "FINEBENCH_HOME": str(home)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert prepared_rows(home) == {"flower_seen": 4028, "flower_unseen": 2121, "pet_seen": 2176, "pet_unseen": 1493}
    run = tmp_path / "run"
    result = subprocess.run([BIN / "lmms-eval", "--model", "ground_truth", "--tasks",
                             "finegrained-lite_pet_seen_closed", "--output_path", str(run)],
                            capture_output=True, text=True, timeout=600, cwd=tmp_path,
                            env={**os.environ, "FINEBENCH_HOME": str(home), "FINEBENCH_ENCODER": "minilm"})
    assert result.returncode == 0, result.stderr[-2000:]
    results = json.loads(next(run.rglob("*_results.json")).read_text())["results"]
    task = results["finegrained-lite_pet_seen_closed"]
    assert task["official_accuracy,none"] == 100 and task["finebench_accuracy,none"] == 100


def prepared_rows(home: Path) -> dict[str, int]:
    metadata = json.loads((home / "prepared" / "metadata.json").read_text())
    return {name: unit["rows"] for name, unit in metadata["units"].items()}


def test_a_cut_transfer_resumes_with_a_range_request_and_ends_byte_identical(served, mirror, tmp_path):
    key = "pet/images.tar.gz"
    served.cut_after[key] = 40_000
    dl.download(["pet"], tmp_path, progress=False)
    assert served.gets(key) == [None, "bytes=40000-"]
    assert (tmp_path / key).read_bytes() == (mirror / key).read_bytes()
    assert (tmp_path / "pet" / "images").is_dir() and not list(tmp_path.rglob("*.part"))


def test_a_corrupt_file_is_refused_naming_the_file_and_both_hashes(served, mirror, tmp_path):
    key = "pet/annotations.tar.gz"
    served.corrupt[key] = b"not the archive" * 100
    with pytest.raises(FinebenchError) as raised:
        dl.download(["pet"], tmp_path, progress=False)
    message = str(raised.value)
    pinned = next(s for s in sources.SOURCES if s.key == key).md5
    actual = hashlib.md5(served.corrupt[key]).hexdigest()
    assert key in message and pinned in message and actual in message and "fix:" in message
    assert not (tmp_path / key).exists() and not (tmp_path / (key + ".part")).exists()
    assert not (tmp_path / "pet" / "annotations").exists()  # nothing of it unpacked


def test_a_file_the_first_download_recorded_must_come_back_the_same(served, mirror, tmp_path):
    key = "car/car_devkit.tgz"  # the devkit is one of the files with a URL; drop its pin to test the record
    monkeypatched = [s if s.key != key else s.__class__(s.dataset, s.name, s.url, None) for s in sources.SOURCES]
    sources.SOURCES = tuple(monkeypatched)
    dl.download(["car"], tmp_path, progress=False, explicit=False)
    recorded = sha256(tmp_path / key)
    (tmp_path / key).unlink()
    served.corrupt[key] = b"changed upstream" * 10
    with pytest.raises(FinebenchError) as raised:
        dl.download(["car"], tmp_path, progress=False, explicit=False)
    assert recorded in str(raised.value) and "recorded at its first download" in str(raised.value)
    assert hashlib.sha256(served.corrupt[key]).hexdigest() in str(raised.value)


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("fault", ["404", "refused", "never answers"])
def test_network_failures_are_told_within_seconds(served, tmp_path, fault):
    key = "pet/images.tar.gz"
    source = next(s for s in sources.SOURCES if s.key == key)
    if fault == "404":
        url = f"{served.url}/nowhere/images.tar.gz"
    elif fault == "refused":
        url = f"http://127.0.0.1:{unused_port()}/pet/images.tar.gz"
    else:
        served.hang.add(key)
        url = source.url
    sources.SOURCES = tuple(s if s.key != key else s.__class__(s.dataset, s.name, url, s.md5) for s in sources.SOURCES)
    started = time.monotonic()
    with pytest.raises(FinebenchError) as raised:
        dl.download(["pet"], tmp_path, progress=False)
    assert time.monotonic() - started < 20
    message = str(raised.value)
    assert f"cannot fetch {key} from {url}" in message and "--mirror" in message
    assert str(tmp_path / "pet") in message  # the manual way: download into the folder
    expected = {"404": "HTTP 404", "refused": "connection refused", "never answers": "the server sent nothing"}[fault]
    assert expected in message


def tar_with(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_an_archive_with_a_member_outside_its_folder_is_refused(served, tmp_path):
    key = "pet/images.tar.gz"
    evil = tar_with({"images/ok.jpg": b"x", "../../escaped.txt": b"gotcha"})
    served.corrupt[key] = evil
    sources.SOURCES = tuple(s if s.key != key else s.__class__(s.dataset, s.name, s.url, None) for s in sources.SOURCES)
    to = tmp_path / "to"
    with pytest.raises(FinebenchError) as raised:
        dl.download(["pet"], to, progress=False)
    assert "refused, a member would be written outside" in str(raised.value)
    assert not list(tmp_path.rglob("escaped.txt")) and not (to / "pet" / "images").exists()


def test_a_second_download_transfers_nothing(served, tmp_path):
    dl.download(["flower"], tmp_path, progress=False)
    before = len(served.requests)
    outcomes = dl.download(["flower"], tmp_path, progress=False)
    assert len(served.requests) == before and {o.status for o in outcomes} == {"up to date"}


def test_a_second_download_into_the_same_folder_is_refused_at_once(served, tmp_path):
    with atomic.exclusive(tmp_path / ".lock", None):
        with pytest.raises(FinebenchError, match="another finebench download is writing"):
            dl.download(["flower"], tmp_path, progress=False)


def test_a_disk_too_small_is_refused_before_any_transfer(served, tmp_path, monkeypatch):
    monkeypatch.setattr(dl.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**12, 10**12 - 1000, 1000))
    with pytest.raises(FinebenchError, match="GiB free; the download needs"):
        dl.download(["flower"], tmp_path, progress=False)
    assert not [r for r in served.requests if r[0] == "GET"]


@pytest.mark.slow(seconds=10)
def test_kill_9_at_several_moments_then_the_same_command_ends_verified(mirror, tmp_path):
    """A child `finebench download` against a slow server (a separate process), killed three times mid-way."""
    port_file = tmp_path / "port"
    server = subprocess.Popen([sys.executable, str(Path(__file__).parent / "rangeserver.py"), str(mirror),
                               str(port_file), str(2_000_000)])
    try:
        while not port_file.is_file() or not port_file.read_text():
            time.sleep(0.05)
        table = tmp_path / "sources.json"
        served = standin_files.sources_served_by(mirror, port_file.read_text())
        table.write_text(json.dumps([s.__dict__ for s in served]))
        command = [sys.executable, str(Path(__file__).parent / "download_child.py"), str(table), "download",
                   "--datasets", "flower", "pet", "--to", str(tmp_path / "to")]
        for delay in (0.6, 1.2, 2.0):
            child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(delay)
            child.send_signal(signal.SIGKILL)
            child.wait()
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
    finally:
        server.kill()
        server.wait()
    sums = dl.parse_sums((mirror / dl.SUMS_FILE).read_text(), "mirror")
    for key in (k for k in sums if k.split("/")[0] in ("flower", "pet")):
        assert sha256(tmp_path / "to" / key) == sums[key], key
    assert not list((tmp_path / "to").rglob("*.part")) and not list((tmp_path / "to").rglob(".extracting-*"))
    assert len(list((tmp_path / "to" / "flower" / "jpg").iterdir())) == 6149 + 2040


@pytest.mark.parametrize("scheme", ["http", "file"])
def test_a_mirror_is_read_with_its_sums_and_the_pinned_ones(mirror, served, tmp_path, scheme):
    url = served.url if scheme == "http" else mirror.as_uri()
    outcomes = dl.download(["car", "pet"], tmp_path / "to", mirror=url, progress=False)
    assert {o.status for o in outcomes} == {"downloaded"}  # Cars too: the mirror has its files
    assert (tmp_path / "to" / "car" / "cars_test").is_dir()
    # a mirror whose sums disagree with its bytes is refused
    bad = tmp_path / "bad-mirror"
    shutil.copytree(mirror, bad)
    sums = dl.parse_sums((bad / dl.SUMS_FILE).read_text(), "bad")
    sums["pet/images.tar.gz"] = "0" * 64
    (bad / dl.SUMS_FILE).write_text(dl.format_sums(sums))
    with pytest.raises(FinebenchError, match="the mirror's SHA256SUMS says 0000"):
        dl.download(["pet"], tmp_path / "other", mirror=bad.as_uri(), progress=False)


def test_a_mirror_without_sums_or_lacking_a_file_is_refused(mirror, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FinebenchError, match="SHA256SUMS"):
        dl.download(["pet"], tmp_path / "to", mirror=empty.as_uri(), progress=False)
    partial = tmp_path / "partial"
    shutil.copytree(mirror, partial)
    sums = dl.parse_sums((partial / dl.SUMS_FILE).read_text(), "partial")
    del sums["pet/annotations.tar.gz"]
    (partial / dl.SUMS_FILE).write_text(dl.format_sums(sums))
    with pytest.raises(FinebenchError, match="lacks pet/annotations.tar.gz"):
        dl.download(["pet"], tmp_path / "to", mirror=partial.as_uri(), progress=False)


def test_cars_without_a_source_are_told_or_refused(served, tmp_path):
    found = dl.download(["car", "pet"], tmp_path, progress=False, explicit=False)
    outcomes = {o.key: o.status for o in found}
    assert outcomes["car/cars_test.tgz"] == "missing" and outcomes["car/car_devkit.tgz"] == "downloaded"
    told = dl.summary(found, tmp_path)
    assert "no working official source" in told and "Oxford-IIIT Pet in" in told and "Stanford Cars" not in \
        told.split("no working official source")[1]
    with pytest.raises(FinebenchError) as raised:
        dl.download(["car"], tmp_path, progress=False)
    assert "car/cars_train.tgz" in str(raised.value) and "jessicali9530/stanford-cars-dataset" in str(raised.value)


def test_cars_files_put_in_place_by_hand_are_verified_and_unpacked(served, mirror, tmp_path):
    for name in ("cars_train.tgz", "cars_test.tgz", "cars_test_annos_withlabels.mat"):
        (tmp_path / "car").mkdir(exist_ok=True)
        shutil.copyfile(mirror / "car" / name, tmp_path / "car" / name)
    outcomes = {o.key: o.status for o in dl.download(["car"], tmp_path, progress=False)}
    assert outcomes["car/cars_train.tgz"] == "up to date" and (tmp_path / "car" / "cars_train").is_dir()
    (tmp_path / "car" / "cars_test.tgz").write_bytes(b"damaged")
    with pytest.raises(FinebenchError, match="its md5 is"):
        dl.download(["car"], tmp_path, progress=False)


def kaggle_layout(archives: Path, target: Path) -> Path:
    """Stanford Cars as Kaggle's redistribution unpacks, with the devkit and test labels beside it."""
    official = archives / "stanford_cars"
    kaggle = target / "stanford-cars-dataset"
    for name in ("cars_train", "cars_test"):
        shutil.copytree(official / name, kaggle / name / name)
    shutil.copytree(official / "devkit", target / "devkit")
    shutil.copyfile(official / "cars_test_annos_withlabels.mat", target / "cars_test_annos_withlabels.mat")
    return kaggle


def test_prepare_reads_kaggles_stanford_cars_and_checks_its_labels(mirror, tmp_path, home, manifest_dir):
    from finebench.data.prepare import prepare
    from finebench.data.store import PreparedStore
    from finebench.home import prepared_dir

    data_root = tmp_path / "data"
    kaggle_layout(mirror.parent / "archives", data_root)
    outcomes = {o.name: o for o in prepare(data_root, manifest_dir, ["car"], progress=False)}
    assert outcomes["car_seen"].rows == 4811 and outcomes["car_unseen"].rows == 3230
    record = PreparedStore(prepared_dir()).unit_record("car_seen")
    assert record["label_check"] == "passed" and "car-kaggle-" in record["archive_root"]
    # the same layout with another archive's test labels is refused like any other archive
    import scipy.io

    labels = data_root / "cars_test_annos_withlabels.mat"
    annotations = scipy.io.loadmat(labels)
    annotations["annotations"]["class"][0, 0] = (annotations["annotations"]["class"][0, 0] % 196) + 1
    scipy.io.savemat(labels, {"annotations": annotations["annotations"]})
    with pytest.raises(FinebenchError, match="labels disagree with the manifests"):
        prepare(data_root, manifest_dir, ["car"], progress=False, replace=True)


def test_prepare_download_fetches_what_is_missing_and_finds_the_rest(served, tmp_path, home, manifest_dir):
    data_root = tmp_path / "data"
    dl.download(["flower"], data_root, progress=False)
    before = len(served.requests)
    result = subprocess.run([sys.executable, str(Path(__file__).parent / "download_child.py"),
                             str(_table(tmp_path)), "prepare", "--download", "--data-root", str(data_root),
                             "--manifests", str(manifest_dir), "--datasets", "flower", "pet", "--no-fewshot"],
                            capture_output=True, text=True, timeout=600,
                            env={**os.environ, "FINEBENCH_HOME": str(home)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "found under" in result.stdout and "not downloaded: flower" in result.stdout
    fetched = {path for method, path, _ in served.requests[before:] if method == "GET"}
    assert fetched == {"pet/images.tar.gz", "pet/annotations.tar.gz"}
    assert prepared_rows(home) == {"flower_seen": 4028, "flower_unseen": 2121, "pet_seen": 2176, "pet_unseen": 1493}


def _table(tmp_path: Path) -> Path:
    table = tmp_path / "sources.json"
    table.write_text(json.dumps([s.__dict__ for s in sources.SOURCES]))
    return table
