"""The released CoT SFT set: every record maps to a seen class and an official training image."""

import json
from pathlib import Path

import pytest

from finebench.errors import FinebenchError
from finebench.trainers.cot_import import archive_path, import_cot_sft

COT = Path(__file__).resolve().parents[2] / "shared" / "reference" / "official-cot-sft-404.json"


@pytest.fixture(scope="module")
def released():
    if not COT.is_file():
        pytest.skip("the released CoT set is not beside the project")
    return json.loads(COT.read_text())


def test_every_released_record_is_a_seen_class(released, manifests):
    seen = {dataset: manifests[dataset, "seen"].classes for dataset, _ in manifests}
    imported = import_cot_sft(COT, {}, seen)  # no archives: every record is refused for that reason only
    assert len(imported.refused) == 404 and not imported.records
    assert all("no " in reason and "archive was found" in reason for reason in imported.refused)


def test_records_resolve_to_the_official_training_images(released, manifests, tmp_path):
    seen = {dataset: manifests[dataset, "seen"].classes for dataset, _ in manifests}
    roots = {dataset: tmp_path / dataset for dataset in seen}
    for record in released[:40]:
        dataset, inside = archive_path(record["images"][0])
        (roots[dataset] / inside).parent.mkdir(parents=True, exist_ok=True)
        (roots[dataset] / inside).write_bytes(b"jpeg")
    imported = import_cot_sft(COT, roots, seen)
    assert len(imported.records) == 40 and len(imported.refused) == 364
    first = imported.records[0]
    assert first["images"][0].endswith("data/images/1838247.jpg") and first["class_name"] == "Eurofighter Typhoon"
    assert first["prompt"][1]["content"][0] == {"type": "image"}
    assert first["completion"][0]["content"][0]["text"].rstrip().endswith("<answer>Eurofighter Typhoon</answer>")
    assert archive_path("dogs_120/image_train/train/n02106662-German_shepherd/n02106662_14930.jpg") == (
        "dog", "Images/n02106662-German_shepherd/n02106662_14930.jpg")
    assert archive_path("flower102_train/image/train/image_08185.jpg") == ("flower", "jpg/image_08185.jpg")


def test_unseen_classes_and_foreign_layouts_are_refused(manifests, tmp_path):
    seen = {dataset: manifests[dataset, "seen"].classes for dataset, _ in manifests}
    unseen_class = sorted(manifests["pet", "unseen"].classes)[0]
    record = {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "<image>q"},
                           {"role": "assistant", "content": f"<think>t</think><answer>{unseen_class}</answer>"}],
              "images": ["oxford-pet-train/train/x_1.jpg"]}
    path = tmp_path / "cot.json"
    path.write_text(json.dumps([record]))
    imported = import_cot_sft(path, {"pet": tmp_path}, seen)
    assert imported.refused == [f"oxford-pet-train/train/x_1.jpg: {unseen_class!r} is an unseen class"]
    with pytest.raises(FinebenchError, match="not in the released CoT set's layout"):
        archive_path("my_pets/x.jpg")


def test_import_command_writes_the_records_of_the_archives_found(released, manifests, manifest_dir, tmp_path, capsys):
    import io

    from PIL import Image

    from finebench.cli import main
    from finebench.data.fixtures import write_archives
    from finebench.data.prepare import locate_archives
    from finebench.trainers.sft import load_sft_rows

    write_archives(tmp_path / "data", manifests, datasets=["aircraft"], lines_per_split=2, train_per_class=1,
                   progress=False)
    root = locate_archives(tmp_path / "data", ["aircraft"], manifests, explicit=True)["aircraft"]
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "grey").save(buffer, format="JPEG")
    aircraft = [record for record in released if record["images"][0].startswith("fgvc-aircraft")]
    for record in aircraft:
        target = root / archive_path(record["images"][0])[1]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(buffer.getvalue())
    output = tmp_path / "cot.jsonl"
    assert main(["train", "import-cot", "--cot", str(COT), "--data-root", str(tmp_path / "data"),
                 "--manifests", str(manifest_dir), "--output", str(output)]) == 0
    assert f"{len(aircraft)} records written to {output}, {404 - len(aircraft)} refused" in capsys.readouterr().out
    assert len(load_sft_rows(output)) == len(aircraft)
