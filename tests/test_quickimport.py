"""The text encoder and the CLIP-like baseline load without timm's import of wandb, which still imports after."""

import json
import subprocess
import sys
import types

import pytest
from test_baselines import TINY_CLIP

from finebench.quickimport import timm_without_wandb


def test_the_encoder_and_open_clip_load_without_wandb_and_wandb_imports_after(tmp_path):
    config = tmp_path / "finebench-tiny-clip.json"
    config.write_text(json.dumps(TINY_CLIP))
    script = ("import sys\n"
              "from finebench.scoring.encoders import create_encoder\n"
              "create_encoder('minilm').embed(['Laysan Albatross'])\n"  # sentence-transformers imports timm
              "print('timm' in sys.modules, 'wandb' in sys.modules)\n"
              "from finebench.baselines.clip import Encoder, template_set\n"
              "template_set('imagenet80'), Encoder(sys.argv[1] + ':random', device='cpu')\n"  # so does open_clip
              "print('open_clip' in sys.modules, 'wandb' in sys.modules)\n"
              "import wandb\n"  # as lmms-eval does for --wandb_args
              "print(wandb.Run.__name__)")
    shown = subprocess.run([sys.executable, "-c", script, str(config)], capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert shown.stdout.split() == ["True", "False", "True", "False", "Run"]


def test_inside_import_wandb_fails_as_if_absent_and_a_wandb_imported_before_is_left_alone(monkeypatch):
    monkeypatch.delitem(sys.modules, "wandb", raising=False)
    with timm_without_wandb():
        with pytest.raises(ImportError):
            import wandb  # noqa: F401
    assert "wandb" not in sys.modules  # the mark is gone: the next import is a real one
    imported = types.ModuleType("wandb")
    monkeypatch.setitem(sys.modules, "wandb", imported)
    with timm_without_wandb():
        assert sys.modules["wandb"] is imported
    assert sys.modules["wandb"] is imported
