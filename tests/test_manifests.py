import functools
import http.server
import shutil
import threading
from dataclasses import replace

import pytest

from finebench.data.manifests import (
    SPECS,
    TOTAL_LINES,
    Manifest,
    line_problems,
    load_manifests,
    read_manifest,
    validate,
)
from finebench.errors import FinebenchError


def test_official_manifests_load_and_match_the_protocol(manifests):
    assert sum(len(manifest.lines) for manifest in manifests.values()) == TOTAL_LINES == 35_566
    for key, manifest in manifests.items():
        assert len(manifest.lines) == SPECS[key].lines
        assert len(manifest.classes) == SPECS[key].classes
        assert manifest.sha256 == SPECS[key].sha256
    for dataset in {dataset for dataset, _ in manifests}:
        assert not manifests[dataset, "seen"].classes & manifests[dataset, "unseen"].classes
    line = manifests["bird", "seen"].lines[0]
    assert line.archive_path.startswith("images/001.Black_footed_Albatross/")
    assert line.options[0] == line.ground_truth  # the released flaw finebench fixes


def test_a_modified_manifest_is_refused_with_both_hashes(manifest_dir, tmp_path):
    shutil.copytree(manifest_dir, tmp_path / "m")
    target = tmp_path / "m" / "pet_unseen.jsonl"
    target.write_bytes(target.read_bytes().replace(b"Abyssinian", b"Abyssinia", 1))
    with pytest.raises(FinebenchError) as caught:
        load_manifests(tmp_path / "m", ["pet"])
    message = str(caught.value)
    assert "pet_unseen.jsonl" in message and SPECS["pet", "unseen"].sha256 in message and "fix:" in message


def test_missing_manifest_file_and_folder(manifest_dir, tmp_path):
    (tmp_path / "m").mkdir()
    shutil.copy(manifest_dir / "pet_seen.jsonl", tmp_path / "m")
    with pytest.raises(FinebenchError, match="pet_unseen.jsonl not found"):
        load_manifests(tmp_path / "m", ["pet"])
    with pytest.raises(FinebenchError, match="does not exist"):
        load_manifests(tmp_path / "nowhere", ["pet"])


def test_manifests_folder_from_environment(manifest_dir, monkeypatch, home):
    monkeypatch.setenv("FINEBENCH_MANIFESTS", str(manifest_dir))
    assert len(load_manifests(datasets=["flower"])["flower", "seen"].lines) == 4028


@pytest.fixture
def manifest_server(tmp_path, manifest_dir):
    """A loopback HTTP server standing in for the authors' repository."""
    served = tmp_path / "served"
    shutil.copytree(manifest_dir, served)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_download_verifies_and_caches(manifest_server, monkeypatch, home):
    served, url = manifest_server
    monkeypatch.setenv("FINEBENCH_MANIFEST_URL", url)
    manifests = load_manifests(datasets=["pet", "aircraft"])
    assert len(manifests["pet", "unseen"].lines) == 1493
    cached = home / "manifests" / "pet_seen.jsonl"
    assert cached.is_file()
    shutil.rmtree(served)  # the cache is used from now on: no server needed
    assert len(load_manifests(datasets=["pet"])["pet", "seen"].lines) == 2176


def test_download_with_wrong_hash_writes_nothing(manifest_server, monkeypatch, home):
    served, url = manifest_server
    (served / "pet_seen.jsonl").write_text('{"tampered": true}\n')
    monkeypatch.setenv("FINEBENCH_MANIFEST_URL", url)
    with pytest.raises(FinebenchError, match="not the official pet_seen.jsonl") as caught:
        load_manifests(datasets=["pet"])
    assert str(caught.value).startswith(f"{url}/pet_seen.jsonl ")  # the URL as given, its // intact
    assert not (home / "manifests" / "pet_seen.jsonl").exists()


def test_unreachable_download_says_how_to_get_the_files(monkeypatch, home):
    monkeypatch.setenv("FINEBENCH_MANIFEST_URL", "http://127.0.0.1:9")
    with pytest.raises(FinebenchError, match="(?s)could not download .*pass its folder with --manifests"):
        load_manifests(datasets=["pet"])


def test_line_validation_names_each_problem(manifests):
    line = manifests["flower", "seen"].lines[0]
    assert line_problems(line, "flower") == []
    repeated = replace(line, options=(line.options[0],) * 4)
    assert "4 distinct options" in line_problems(repeated, "flower")[0]
    no_truth = replace(line, ground_truth="rose", options=line.options)
    assert any("not among the options" in problem for problem in line_problems(no_truth, "flower"))
    alien = replace(line, options=(*line.options[:3], "Tulip of Mars"))
    assert any("Tulip of Mars" in problem for problem in line_problems(alien, "flower"))
    moved = replace(line, image_path="elsewhere/x.jpg")
    assert any("not under flower102/" in problem for problem in line_problems(moved, "flower"))


def test_validate_reports_counts_and_overlap(manifests):
    seen, unseen = manifests["pet", "seen"], manifests["pet", "unseen"]
    leaked = Manifest("pet", "unseen", unseen.sha256, unseen.lines[:-1] + seen.lines[:1])
    with pytest.raises(FinebenchError) as caught:
        validate({("pet", "seen"): seen, ("pet", "unseen"): leaked})
    message = str(caught.value)
    assert "both seen and unseen" in message and "16 classes, expected 15" in message
    short = Manifest("pet", "seen", seen.sha256, seen.lines[:10])
    with pytest.raises(FinebenchError, match="10 lines, expected 2176"):
        validate({("pet", "seen"): short})


def test_read_manifest_rejects_non_json_before_parsing(manifest_dir, tmp_path):
    bad = tmp_path / "dog_seen.jsonl"
    bad.write_text("not json\n")
    with pytest.raises(FinebenchError, match="sha256"):
        read_manifest(bad, "dog", "seen")
