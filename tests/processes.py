"""Finding a test's processes after the fact: every process started under a marker variable inherits it,
so /proc/<pid>/environ tells which survive, whatever their parent has become."""

import os
import time
import uuid

MARK_VARIABLE = "FINEBENCH_TEST_MARK"


def new_mark() -> dict:
    return {MARK_VARIABLE: uuid.uuid4().hex}


def marked(mark: dict) -> list[int]:
    """Live (not zombie) processes carrying the mark."""
    needle = f"{MARK_VARIABLE}={mark[MARK_VARIABLE]}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if needle not in handle.read().split(b"\0"):
                    continue
            with open(f"/proc/{entry}/stat", "rb") as handle:
                if handle.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                    continue
        except OSError:
            continue
        found.append(int(entry))
    return found


def survivors(mark: dict, within: float = 30.0) -> list[int]:
    """The marked processes still alive after waiting up to ``within`` seconds for them to go."""
    deadline = time.monotonic() + within
    while (alive := marked(mark)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return alive


def wait_for_lines(path, count: int, process, timeout: float = 300.0) -> None:
    """Wait until a file holds at least ``count`` lines (the responder's log of its calls)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.is_file() and len(path.read_text().splitlines()) >= count:
            return
        if process.poll() is not None:
            raise AssertionError(f"the process ended (code {process.returncode}) before {count} lines in {path}")
        time.sleep(0.1)
    raise AssertionError(f"fewer than {count} lines in {path} after {timeout} s")
