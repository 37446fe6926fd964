"""Importing the libraries that bring timm along, without timm's own import of wandb.

sentence-transformers and open_clip import timm, and timm imports wandb, when it is installed (lmms-eval
installs it), only to log training summaries: 1.5-3.5 s of CPU in every evaluation that loads a text encoder
or a CLIP-like model, for nothing it uses. While such a library imports, `import wandb` fails as if wandb were
absent, which timm expects; afterwards it imports normally, so lmms-eval's --wandb_args is untouched (and a
wandb imported before is left alone).
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def timm_without_wandb() -> Iterator[None]:
    if "wandb" in sys.modules:
        yield
        return
    sys.modules["wandb"] = None  # the import system's own "not importable" mark
    try:
        yield
    finally:
        if sys.modules.get("wandb", ...) is None:
            del sys.modules["wandb"]
