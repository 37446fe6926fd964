"""The protocols a run is scored under (how its closed world is asked and scored); every choice of
protocol in finebench is one of these.

official   the released evaluation, reproduced bit for bit: the options in the manifests' order
           (the answer always first), answers matched as substrings, the super-category guessed
           from the image path. "Official" names this behaviour everywhere in finebench.
finebench  the same lines scored fairly: a balanced option order (the answer in each position
           for a quarter of the lines), whole-word matching, exactly one class named.
"""

from __future__ import annotations

from enum import StrEnum


class Protocol(StrEnum):
    OFFICIAL = "official"
    FINEBENCH = "finebench"
    CIRCULAR = "circular"
