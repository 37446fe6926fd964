"""Baselines: CLIP-like zero-shot models as an lmms-eval model, and the registry of the
paper's MLLM baselines with their lmms-eval backends and arguments."""
