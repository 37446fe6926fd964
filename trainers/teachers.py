"""Teachers for the CoT construction: a multimodal model that answers one image and one prompt,
n times. Behind an OpenAI-compatible endpoint (vllm serve, SGLang, an API), a local transformers
model, or vLLM in this process; `load_teacher` reads the --teacher spelling."""

from __future__ import annotations

import base64
import json
import os
from typing import Protocol

from finebench.errors import FinebenchError


def image_message(image: bytes, prompt: str) -> list[dict]:
    """One user turn of the OpenAI chat format: the JPEG inline, then the prompt."""
    url = f"data:image/jpeg;base64,{base64.b64encode(image).decode()}"
    return [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}},
                                         {"type": "text", "text": prompt}]}]


class Teacher(Protocol):
    name: str

    def chat(self, image: bytes, prompt: str, n: int, temperature: float, max_tokens: int) -> list[str]:
        """n sampled answers to one image and one prompt."""


class OpenAITeacher:
    """Any OpenAI-compatible chat endpoint: `vllm serve`, SGLang, a hosted API (key from $OPENAI_API_KEY)."""

    def __init__(self, base_url: str, model: str, timeout: float = 600):
        self.base_url, self.model, self.timeout = base_url.rstrip("/"), model, timeout
        self.name = f"openai:{base_url}:{model}"

    def _post(self, body: dict) -> dict:
        import urllib.error
        import urllib.request

        key = os.environ.get("OPENAI_API_KEY", "none")
        request = urllib.request.Request(f"{self.base_url}/chat/completions", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise FinebenchError(f"the teacher at {self.base_url} did not answer ({error})",
                                 "start it (e.g. `vllm serve Qwen/Qwen2.5-VL-32B-Instruct`) and pass its /v1 URL"
                                 ) from None

    def chat(self, image: bytes, prompt: str, n: int, temperature: float, max_tokens: int) -> list[str]:
        messages = image_message(image, prompt)
        answers: list[str] = []
        while len(answers) < n:  # some servers ignore n: ask again for the rest
            body = {"model": self.model, "messages": messages, "n": n - len(answers), "temperature": temperature,
                    "max_tokens": max_tokens}
            choices = self._post(body).get("choices") or []
            if not choices:
                raise FinebenchError(f"the teacher at {self.base_url} returned no choices", "check its log")
            answers += [choice["message"]["content"] or "" for choice in choices]
        return answers[:n]


class HFTeacher:
    """A local transformers model (any AutoModelForImageTextToText with a chat template)."""

    def __init__(self, location: str, device: str | None = None):
        import torch

        from .models import load_model_and_processor

        self.name = f"hf:{location}"
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        model, self.processor = load_model_and_processor(
            location, torch.bfloat16 if self.device != "cpu" else torch.float32)
        self.model = model.to(self.device).eval()

    def chat(self, image: bytes, prompt: str, n: int, temperature: float, max_tokens: int) -> list[str]:
        import io

        import torch
        from PIL import Image

        picture = Image.open(io.BytesIO(image)).convert("RGB")
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
        text = self.processor.apply_chat_template(messages, add_generation_prompt=True)
        inputs = self.processor(images=[picture], text=[text], return_tensors="pt").to(self.device)
        with torch.no_grad():
            output = self.model.generate(**inputs, do_sample=True, temperature=temperature, max_new_tokens=max_tokens,
                                         num_return_sequences=n)
        return self.processor.batch_decode(output[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)


class VLLMTeacher:
    """vLLM in this process (GPU): the paper's Qwen2.5-VL-32B fits on two 80 GB cards."""

    def __init__(self, location: str):
        try:
            from vllm import LLM
        except ImportError:
            raise FinebenchError("the vllm teacher needs vLLM", 'pip install "finebench[vllm]" (CUDA machine)'
                                 ) from None
        self.name = f"vllm:{location}"
        self.llm = LLM(model=location, limit_mm_per_prompt={"image": 1})

    def chat(self, image: bytes, prompt: str, n: int, temperature: float, max_tokens: int) -> list[str]:
        from vllm import SamplingParams

        sampling = SamplingParams(n=n, temperature=temperature, max_tokens=max_tokens)
        outputs = self.llm.chat(image_message(image, prompt), sampling, use_tqdm=False)
        return [completion.text for completion in outputs[0].outputs]


def load_teacher(spec: str) -> Teacher:
    kind, _, rest = spec.partition(":")
    if kind == "openai" and ":" in rest.removeprefix("http://").removeprefix("https://"):
        base_url, model = rest.rsplit(":", 1)
        return OpenAITeacher(base_url, model)
    if kind == "hf" and rest:
        return HFTeacher(rest)
    if kind == "vllm" and rest:
        return VLLMTeacher(rest)
    raise FinebenchError(f"cannot read the teacher {spec!r}",
                         "use openai:<base url>:<model> (e.g. openai:http://localhost:8000/v1:Qwen/Qwen2.5-VL-32B-"
                         "Instruct), hf:<id or folder> or vllm:<id or folder>")
