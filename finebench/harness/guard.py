"""Child commands that die with their parent, however it dies, and take their whole tree with them.

`finebench eval` starts lmms-eval (which may start torchrun, its workers, a vLLM engine), and the
worker starts `finebench eval`. Killed with -9, a parent cannot stop its children, and an orphaned
evaluation keeps the GPU and writes into a folder a requeued request will use again. So every long
child runs under a guard, a small process between the parent and the command:

    parent ── python -m finebench.harness.guard <parent pid> -- command … ── command ── …

The guard makes itself the child subreaper (Linux), so descendants whose own parent dies are
re-parented to it instead of init and stay findable. It watches its parent; when the parent is gone,
or the guard gets SIGTERM, SIGINT or SIGHUP, it sends SIGTERM to every descendant, waits GRACE
seconds, then SIGKILLs what is left. When the command ends by itself, stragglers are stopped the
same way, and the guard exits with the command's status. Guards nest: a dying guard's SIGTERM
reaches the next guard, which stops its own tree.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Sequence

GRACE = 10.0  # seconds between SIGTERM and SIGKILL: time for lmms-eval or vLLM to release a GPU
WATCH_EVERY = 0.5  # seconds between looks at the parent
_PR_SET_CHILD_SUBREAPER = 36


def guarded(command: Sequence[str]) -> list[str]:
    """The command line that runs `command` under a guard tied to this process."""
    return [sys.executable, "-m", "finebench.harness.guard", str(os.getpid()), "--", *command]


def call(command: Sequence[str], **popen_arguments) -> int:
    """subprocess.call under a guard: if this process is interrupted, the guard stops the command's tree."""
    process = subprocess.Popen(guarded(command), **popen_arguments)
    try:
        return process.wait()
    except BaseException:  # Ctrl-C or an exception in this process: the tree goes too, then re-raise
        process.terminate()
        process.wait()
        raise


# ------------------------------------------------------------------------------------------ the guard


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def descendants(pid: int) -> list[int]:
    """Every process below pid (Linux /proc), nearest first."""
    children, found, frontier = _children_by_parent(), [], [pid]
    while frontier:
        frontier = [child for parent in frontier for child in children.get(parent, [])]
        found += frontier
    return found


def _signal_all(pids: Sequence[int], signum: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


class Guard:
    def __init__(self, parent: int, command: Sequence[str]):
        self.parent, self.command = parent, list(command)
        self.stopping = threading.Event()
        self.interrupted = False  # a stop signal has been acted on; later ones are ignored

    def become_subreaper(self) -> None:
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # not Linux: orphans of the command's own children go to init, the rest is still stopped

    def watch_parent(self) -> None:
        while not self.stopping.wait(WATCH_EVERY):
            if os.getppid() != self.parent:
                self.stopping.set()
                os.kill(os.getpid(), signal.SIGTERM)  # the main thread's handler does the stopping

    def stop_tree(self) -> None:
        """SIGTERM to every descendant, SIGKILL to those left after GRACE seconds, all reaped."""
        _signal_all(descendants(os.getpid()), signal.SIGTERM)
        deadline = time.monotonic() + GRACE
        while time.monotonic() < deadline and descendants(os.getpid()):
            self.reap()
            time.sleep(0.1)
        _signal_all(descendants(os.getpid()), signal.SIGKILL)
        self.reap()

    @staticmethod
    def reap() -> None:
        """Collect exited children (adopted orphans included) so they do not linger as zombies."""
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass

    def run(self) -> int:
        self.become_subreaper()
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        if os.getppid() != self.parent:  # the parent died before the guard was watching
            return 128 + signal.SIGTERM
        child = subprocess.Popen(self.command)
        threading.Thread(target=self.watch_parent, daemon=True).start()
        try:
            code = child.wait()
        except _Stop:
            self.stop_tree()
            return 128 + signal.SIGTERM
        self.interrupted = True
        self.stopping.set()
        if descendants(os.getpid()):
            self.stop_tree()
        return code if code >= 0 else 128 - code

    def _on_signal(self, signum, frame) -> None:
        self.stopping.set()
        if not self.interrupted:
            self.interrupted = True
            raise _Stop()


class _Stop(Exception):
    """Raised in the guard's main thread by a stop signal."""


def main(arguments: Sequence[str]) -> int:
    if len(arguments) < 3 or arguments[1] != "--":
        print("usage: python -m finebench.harness.guard <parent pid> -- command …", file=sys.stderr)
        return 2
    return Guard(int(arguments[0]), arguments[2:]).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
