"""Checks of the model hub's reachability (decided in seconds) and of the text encoder of the open world."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

from . import probes
from .check import FAIL, OK, Check

ENCODER_TIMEOUT = 120.0
HUB_TIMEOUT = 5.0


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co")


def hub_reachable(timeout: float = HUB_TIMEOUT) -> tuple[bool, str]:
    """Whether the model hub answers, decided in seconds (no retries): (reachable, why not)."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return False, "HF_HUB_OFFLINE is set"
    url = urlparse(hub_endpoint())
    try:
        socket.create_connection((url.hostname, url.port or (443 if url.scheme == "https" else 80)),
                                 timeout=timeout).close()
    except OSError as error:
        return False, f"{url.hostname} cannot be reached ({error.strerror or error})"
    return True, ""


def check_encoder(name: str | None = None, timeout: float = ENCODER_TIMEOUT,
                  hub: tuple[bool, str] | None = None) -> Check:
    """Whether the text encoder loads here; ``hub`` is hub_reachable()'s answer if already known."""
    from finebench.scoring.encoders import ENCODER_VARIABLE, selected_encoder_name

    selected = selected_encoder_name(name)
    reachable, why = hub or hub_reachable()
    # Offline, the hub's client would retry each download; tell it there is no hub, so a missing
    # model fails in seconds, as it will in the evaluation itself.
    report = probes.run_probe("encoder", selected, timeout, None if reachable else {"HF_HUB_OFFLINE": "1"})
    where = "online" if reachable else f"offline: {why}"
    if "error" in report:
        return Check("text encoder", FAIL, f"{selected!r} does not load ({where}): {report['error']}",
                     f"choose one that loads here: --encoder minilm (or {ENCODER_VARIABLE}=minilm) works offline; "
                     f"or fetch {selected} into the Hugging Face cache on a machine with network")
    return Check("text encoder", OK, f"{selected!r} loads ({where}): {report['dimensions']} dimensions, "
                                     f"{report['seconds']} s")
