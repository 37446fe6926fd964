"""CoT SFT on a tiny Qwen2.5-VL: two steps change the weights and write a checkpoint finebench can evaluate."""

import json
import os
import subprocess
import sys

import pytest
from PIL import Image
from safetensors.torch import load_file

from finebench.cli import main
from finebench.harness.runs import read_run
from finebench.harness.tinymodel import build_tiny_qwen2_5_vl
from finebench.trainers.cot_import import to_trl


@pytest.mark.slow(seconds=15)
def test_two_sft_steps_then_evaluate_the_checkpoint(prepared_home, tmp_path):
    base = build_tiny_qwen2_5_vl(tmp_path / "base")
    image = tmp_path / "bird.jpg"
    Image.new("RGB", (56, 56), "red").save(image)
    record = {"messages": [{"role": "system", "content": "Think, then answer."},
                           {"role": "user", "content": "<image>What kind of bird is this?"},
                           {"role": "assistant", "content": "<think>red crest</think><answer>Cardinal</answer>"}]}
    rows = [to_trl(record, image, "bird", "Cardinal") for _ in range(4)]
    data = tmp_path / "cot.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert main(["train", "sft", "--model", str(base), "--data", str(data), "--output", str(tmp_path / "sft"),
                 "--max-steps", "2", "--batch-size", "2", "--grad-accum", "1", "--cpu"]) == 0
    final = tmp_path / "sft" / "final"
    before, after = load_file(base / "model.safetensors"), load_file(final / "model.safetensors")
    assert sum(not before[name].equal(after[name]) for name in before) > len(before) // 2
    assert (tmp_path / "sft" / "training_curves.png").read_bytes()[:4] == b"\x89PNG"
    card = (final / "README.md").read_text()
    assert "CoT SFT" in card and str(data) in card and '"seed": 42' in card
    env = {**os.environ, "FINEBENCH_HOME": str(prepared_home)}
    output = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "finebench", "eval", "--model", "qwen2_5_vl", "--model_args",
                             f"pretrained={final},device=cpu,device_map=cpu,min_pixels=3136,max_pixels=12544",
                             "--tasks", "finegrained-lite_bird_seen_closed", "--gen_kwargs", "max_new_tokens=8",
                             "--log_samples", "--output_path", str(output)], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(read_run(output).samples["finegrained-lite_bird_seen_closed"]) == 50
