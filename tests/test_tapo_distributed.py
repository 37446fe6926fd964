"""TAPO across two processes (accelerate's data parallelism on CPU): dynamic sampling's rounds stay in
lockstep, groups stay on one process, one checkpoint comes out. The ZeRO-3 and FSDP configs need GPUs:
here they are only read with accelerate's own parser."""

import subprocess
import sys
from pathlib import Path

import pytest
from accelerate.commands.config.config_args import load_config_from_file

from finebench.harness.tinymodel import build_tiny_qwen2_5_vl
from finebench.trainers.cli import ACCELERATE_CONFIGS
from finebench.trainers.tapo_data import noise_rows

ACCELERATE = Path(sys.executable).parent / "accelerate"


@pytest.mark.slow(seconds=20)
def test_two_processes_train_in_lockstep(tmp_path):
    model = build_tiny_qwen2_5_vl(tmp_path / "model")
    noise_rows(8, 56).to_parquet(str(tmp_path / "tapo_train.parquet"))
    command = [str(ACCELERATE), "launch", "--config_file", str(ACCELERATE_CONFIGS / "ddp.yaml"), "--num_processes",
               "2", "--cpu", "--mixed_precision", "no", "-m", "finebench", "train", "tapo", "--model", str(model),
               "--data", str(tmp_path), "--output", str(tmp_path / "out"), "--rollouts", "2:2", "--batch-size", "4",
               "--grad-accum", "1", "--steps-per-generation", "1", "--max-steps", "2", "--max-completion-length", "8",
               "--pixels", "3136:12544", "--max-resampling-rounds", "2", "--save-steps", "100", "--cpu"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    # a random model is always wrong: both processes redraw twice, then fill the batch, without hanging
    assert "'dynamic_sampling/rounds': '3'" in result.stdout
    assert (tmp_path / "out" / "final" / "model.safetensors").is_file()
    assert (tmp_path / "out" / "final" / "README.md").is_file()


@pytest.mark.parametrize("name, kind", [("zero3", "DEEPSPEED"), ("fsdp", "FSDP"), ("ddp", "MULTI_GPU")])
def test_shipped_accelerate_configs_parse(name, kind):
    config = load_config_from_file(str(ACCELERATE_CONFIGS / f"{name}.yaml"))
    assert config.distributed_type == kind and config.mixed_precision == "bf16" and config.num_processes == 4
    if name == "zero3":
        assert config.deepspeed_config["zero_stage"] == 3 and config.deepspeed_config["zero3_save_16bit_model"]
    if name == "fsdp":
        assert config.fsdp_config["fsdp_state_dict_type"] == "FULL_STATE_DICT"
