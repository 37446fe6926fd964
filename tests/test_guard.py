"""The guard: a command's whole tree dies with the process that started it, however that process dies,
including grandchildren whose own parent died first (re-parented to the guard, not to init)."""

import os
import signal
import subprocess
import sys
import textwrap
import time

from processes import marked, new_mark, survivors

# A parent that runs a tree under a guard: the command starts a grandchild that outlives its own parent.
PARENT = textwrap.dedent("""
    import sys
    from finebench.harness import guard
    sys.exit(guard.call(["sh", "-c", "sleep 300 & sleep 300 & wait"]))
""")


def start_parent(mark):
    return subprocess.Popen([sys.executable, "-c", PARENT], env={**os.environ, **mark})


def wait_for_tree(mark, count):
    deadline = time.monotonic() + 60
    while len(marked(mark)) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(marked(mark)) >= count


def test_kill_9_of_the_parent_takes_the_whole_tree():
    mark = new_mark()
    parent = start_parent(mark)
    wait_for_tree(mark, 5)  # parent, guard, sh, two sleeps
    parent.kill()
    parent.wait()
    assert survivors(mark) == []


def test_the_guard_adopts_orphans_of_the_command():
    mark = new_mark()
    # the command's shell exits at once, leaving its sleep behind: the guard stops it before exiting
    result = subprocess.run([sys.executable, "-m", "finebench.harness.guard", str(os.getpid()), "--",
                             "sh", "-c", "sleep 300 & exit 3"], env={**os.environ, **mark}, timeout=60)
    assert result.returncode == 3 and survivors(mark, within=5) == []


def test_sigterm_to_the_parent_stops_the_tree_too():
    mark = new_mark()
    parent = start_parent(mark)
    wait_for_tree(mark, 5)
    parent.send_signal(signal.SIGTERM)
    parent.wait()
    assert survivors(mark) == []
