"""CLIP-like zero-shot classification as an lmms-eval model: `--model finebench_clip`.

It answers the same finegrained_* tasks as the MLLMs, so its runs are scored, ingested
and compared the same way. Closed world (the paper's rule): the option whose text
embedding, "a photo of a {class}." (or the 80 ImageNet templates, ensembled), has the
highest cosine with the image. Open world: the same over every class of the dataset.

Class text embeddings are computed once per (model, dataset, template set) and cached on
disk under $FINEBENCH_HOME/cache/clip; images are encoded in batches.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from finebench import atomic
from finebench.data.registry import get_dataset
from finebench.errors import FinebenchError
from finebench.quickimport import timm_without_wandb
from finebench.scoring.encoders import projected_features

KNOWN = {  # the paper's four, by short name -> (open_clip architecture, pretrained tag)
    "clip-l": ("ViT-L-14-336", "openai"),
    "eva-g": ("EVA01-g-14", "laion400m_s11b_b41k"),
    "siglip-l": ("ViT-L-16-SigLIP-384", "webli"),
    "siglip2-l": ("ViT-L-16-SigLIP2-384", "webli"),
}


def template_set(name: str) -> tuple[str, ...]:
    if name == "photo":
        return ("a photo of a {}.",)
    if name == "imagenet80":
        with timm_without_wandb():
            from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES

        return tuple(template("{}") for template in OPENAI_IMAGENET_TEMPLATES)
    raise FinebenchError(f"unknown template set {name!r}", "use templates=photo or templates=imagenet80")


class Encoder:
    """Unit-length image and text embeddings from open_clip or a Hugging Face CLIP/SigLIP model."""

    def __init__(self, name: str, device: str | None = None, seed: int = 0):
        import torch

        self.torch = torch
        self.name = name
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        torch.manual_seed(seed)  # a randomly initialised model (pretrained=random) is then reproducible
        if name.startswith("hf:") or (Path(name) / "config.json").is_file():
            self._load_transformers(name.removeprefix("hf:"))
        else:
            self._load_open_clip(name)
        self.half = self.device.startswith("cuda")
        if self.half:
            self.model = self.model.half()

    def _load_open_clip(self, name: str) -> None:
        with timm_without_wandb():
            import open_clip

        architecture, pretrained = KNOWN.get(name, (name.split(":", 1) + [None])[:2])
        pretrained = None if pretrained in (None, "random") else pretrained
        if architecture.endswith(".json") and Path(architecture).is_file():  # a model config of one's own
            open_clip.add_model_config(architecture)
            architecture = Path(architecture).stem
        try:
            self.model, _, self.preprocess = open_clip.create_model_and_transforms(
                architecture, pretrained=pretrained, device=self.device)
            self.tokenizer = open_clip.get_tokenizer(architecture)
        except Exception as error:  # unknown name, weights not downloadable: one message
            raise FinebenchError(f"cannot load the CLIP-like model {name!r} ({type(error).__name__}: {error})",
                                 f"use one of {', '.join(KNOWN)}, ARCH:PRETRAINED from open_clip.list_pretrained(), "
                                 "or hf:<Hugging Face CLIP/SigLIP id>") from None
        self.model.eval()
        self.kind = "open_clip"

    def _load_transformers(self, name: str) -> None:
        from transformers import AutoModel, AutoProcessor

        self.model = AutoModel.from_pretrained(name).to(self.device).eval()
        self.processor = AutoProcessor.from_pretrained(name)
        self.kind = "transformers"

    def _normalised(self, features) -> np.ndarray:
        features = features.float()
        return (features / features.norm(dim=-1, keepdim=True)).cpu().numpy()

    def images(self, images: Sequence) -> np.ndarray:
        with self.torch.no_grad():
            if self.kind == "open_clip":
                batch = self.torch.stack([self.preprocess(image) for image in images]).to(self.device)
                return self._normalised(self.model.encode_image(batch.half() if self.half else batch))
            inputs = self.processor(images=list(images), return_tensors="pt").to(self.device)
            return self._normalised(projected_features(self.model.get_image_features(**inputs)))

    def texts(self, texts: Sequence[str]) -> np.ndarray:
        with self.torch.no_grad():
            if self.kind == "open_clip":
                return self._normalised(self.model.encode_text(self.tokenizer(list(texts)).to(self.device)))
            inputs = self.processor(text=list(texts), padding="max_length", truncation=True,
                                    return_tensors="pt").to(self.device)
            return self._normalised(projected_features(self.model.get_text_features(**inputs)))


def class_embeddings(encoder: Encoder, class_names: Sequence[str], templates: Sequence[str],
                     batch_size: int = 256) -> np.ndarray:
    """One unit vector per class: the normalised mean of its templated prompts' embeddings."""
    prompts = [template.format(name) for name in class_names for template in templates]
    vectors = np.concatenate([encoder.texts(prompts[i:i + batch_size]) for i in range(0, len(prompts), batch_size)])
    means = vectors.reshape(len(class_names), len(templates), -1).mean(axis=1)
    return means / np.linalg.norm(means, axis=1, keepdims=True)


@dataclass
class ClassEmbeddingCache:
    """Class embeddings on disk, keyed by everything they depend on, and held in memory once read."""

    folder: Path
    loaded: dict = field(default_factory=dict)  # (model, dataset, templates) -> matrix: no disk read per line

    def get(self, encoder: Encoder, model_key: str, dataset: str, templates_name: str) -> np.ndarray:
        if (model_key, dataset, templates_name) in self.loaded:
            return self.loaded[model_key, dataset, templates_name]
        names = get_dataset(dataset).class_names
        templates = template_set(templates_name)
        key = hashlib.sha256(json.dumps([model_key, dataset, templates, names]).encode()).hexdigest()[:24]
        path = self.folder / f"{dataset}-{templates_name}-{key}.npy"
        if path.is_file():
            matrix = np.load(path)
        else:
            matrix = class_embeddings(encoder, names, templates).astype(np.float32)
            with atomic.atomic_path(path) as tmp:
                with open(tmp, "wb") as handle:
                    np.save(handle, matrix)
        self.loaded[model_key, dataset, templates_name] = matrix
        return matrix


def choose(image: np.ndarray, candidates: np.ndarray) -> tuple[int, np.ndarray]:
    """Index of the candidate with the highest cosine with the image (the paper's rule), and the cosines."""
    cosines = candidates @ image
    return int(np.argmax(cosines)), cosines
