"""finebench: the fine-grained visual recognition benchmark of the Fine-R1 paper, made fair.

The core (datasets, manifests, prepare) imports fast and needs no GPU library; the
evaluation tasks, baselines, trainers and leaderboard live in subpackages with extras.
"""

__version__ = "0.1.0"
