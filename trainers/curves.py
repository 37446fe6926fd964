"""Training curves as a picture: what a run's trainer_state.json logged, one panel per quantity.

Written at the end of every `finebench train` stage (OUTPUT/training_curves.png) and on demand
with `finebench train curves OUTPUT`, for runs still going or stopped.
"""

from __future__ import annotations

import json
from pathlib import Path

from finebench import atomic
from finebench.errors import FinebenchError

# (log key, panel title), in the order they are drawn; a key the run never logged is left out.
PANELS = (
    ("loss", "loss"),
    ("reward", "reward (0.9 accuracy + 0.1 format)"),
    ("tapo/inter_class_kl", "inter-class KL to the negative image"),
    ("entropy", "token entropy"),
    ("tapo/entropy_negative", "entropy estimate, negative image"),
    ("dynamic_sampling/informative_first_round", "informative groups, first draw"),
    ("dynamic_sampling/rounds", "generation rounds per batch"),
    ("completions/mean_length", "completion length (tokens)"),
    ("mean_token_accuracy", "token accuracy (SFT)"),
    ("grad_norm", "gradient norm"),
    ("learning_rate", "learning rate"),
)


def log_history(run: Path) -> list[dict]:
    """The log history of a run folder's newest checkpoint (final/ holds none: save_model writes no state)."""
    found = sorted((run / "trainer").glob("checkpoint-*/trainer_state.json"),
                   key=lambda path: int(path.parent.name.removeprefix("checkpoint-")))
    if not found:
        raise FinebenchError(f"no trainer_state.json under {run}",
                             "pass the --output folder of a `finebench train sft|tapo` run that saved a checkpoint")
    return json.loads(found[-1].read_text())["log_history"]


def plot_curves(history: list[dict], path: Path, title: str) -> Path | None:
    """One small panel per logged quantity against the optimiser step; None when nothing was logged."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    series = {key: [(entry["step"], entry[key]) for entry in history if key in entry and "step" in entry]
              for key, _ in PANELS}
    panels = [(key, name) for key, name in PANELS if len(series[key]) > 0]
    if not panels:
        return None
    columns = min(3, len(panels))
    rows = (len(panels) + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 2.8 * rows), squeeze=False)
    for axis, (key, name) in zip(axes.flat, panels):
        steps, values = zip(*series[key])
        axis.plot(steps, values, marker="o" if len(steps) < 30 else None, markersize=3, linewidth=1.2)
        axis.set_title(name, fontsize=9)
        axis.set_xlabel("step", fontsize=8)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.tick_params(labelsize=7)
        axis.grid(alpha=0.3)
    for axis in list(axes.flat)[len(panels):]:
        axis.axis("off")
    figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    with atomic.atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110)
    plt.close(figure)
    return path


def write_curves(trainer, output: Path, title: str) -> Path | None:
    """At the end of a run: the curves of the trainer's own history, beside final/ (main process only)."""
    if not trainer.accelerator.is_main_process:
        return None
    return plot_curves(trainer.state.log_history, output / "training_curves.png", title)
