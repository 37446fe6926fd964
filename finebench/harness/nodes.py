"""Where one `finebench eval` sits among the nodes of a run, and how it tells torchrun.

A run across N machines starts one `finebench eval` per machine (a *node*); each starts torchrun with
--processes data-parallel processes, and the nodes meet at node 0's address (torchrun's static rendezvous:
--nnodes, --node_rank, --master_addr, --master_port). Ranks are global, so the journal's rank-<r>.jsonl
files of different nodes never clash, and lmms-eval gathers every rank's answers to global rank 0, which
writes the results on node 0.

The placement comes from the command line (--nnodes, --node-rank, --master-addr, --master-port), or,
inside a Slurm job step that runs one task per node (`srun --ntasks-per-node=1 finebench eval …`), from
the variables srun sets: the step's node count, the task's rank, the first host of the step's node list
(MASTER_ADDR and MASTER_PORT when the batch script exports them), and a port drawn from the job id, so
that two jobs sharing a first node do not meet at one port.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from typing import Mapping

from finebench.errors import FinebenchError

DEFAULT_PORT = 29500  # torchrun's
SLURM_PORTS = 3000  # ports DEFAULT_PORT + job id % SLURM_PORTS: one per job, below Linux's ephemeral ports (32768-)


@dataclass(frozen=True)
class Nodes:
    """The nodes of a run: how many, which one this is, where they meet, and who said so."""

    count: int = 1
    rank: int = 0
    master_addr: str | None = None
    master_port: int = DEFAULT_PORT
    source: str = "the command line"

    @property
    def several(self) -> bool:
        return self.count > 1

    def torchrun(self, processes: int) -> list[str]:
        """torchrun's placement arguments for `processes` processes on this node."""
        if not self.several:
            return ["--standalone", "--nproc_per_node", str(processes)]
        return ["--nnodes", str(self.count), "--node_rank", str(self.rank), "--master_addr", str(self.master_addr),
                "--master_port", str(self.master_port), "--nproc_per_node", str(processes)]

    def describe(self, processes: int) -> str:
        return (f"node {self.rank} of {self.count} ({self.source}), {processes} process{'es' * (processes > 1)} "
                f"here, meeting at {self.master_addr}:{self.master_port}")


def placement(count: int | None, rank: int | None, master_addr: str | None, master_port: int | None,
              environment: Mapping[str, str] = os.environ) -> Nodes:
    """The nodes from the command line's options (None: not given) or, without them, from a Slurm step."""
    if count is None and rank is None and master_addr is None:
        slurm = from_slurm(environment)
        if slurm is not None and master_port is not None:  # --master-port still chooses the port
            return dataclasses.replace(slurm, master_port=master_port)
        return slurm or Nodes(master_port=master_port or DEFAULT_PORT)
    count = 1 if count is None else count
    if count == 1:
        if rank not in (None, 0) or master_addr is not None:
            raise FinebenchError("--node-rank and --master-addr place a node among several, and --nnodes is 1",
                                 "give --nnodes N (the number of machines), or drop them for a one-machine run")
        return Nodes(master_port=master_port or DEFAULT_PORT)
    if rank is None or master_addr is None:
        missing = " and ".join(name for name, value in (("--node-rank", rank), ("--master-addr", master_addr))
                               if value is None)
        raise FinebenchError(f"--nnodes {count} needs {missing}",
                             "run one finebench eval per machine with the same --nnodes, --master-addr (node 0's "
                             "address) and --master-port, and --node-rank 0 to N-1; under Slurm, srun sets all of "
                             "them (srun --ntasks-per-node=1 finebench eval …)")
    if not 0 <= rank < count:
        raise FinebenchError(f"--node-rank {rank} is not one of the {count} nodes", f"give 0 to {count - 1}")
    return Nodes(count, rank, master_addr, master_port or DEFAULT_PORT)


def from_slurm(environment: Mapping[str, str]) -> Nodes | None:
    """The nodes of the Slurm job step this process is a task of; None outside a multi-node step."""
    nodes = int(environment.get("SLURM_STEP_NUM_NODES") or environment.get("SLURM_NNODES") or 1)
    if nodes < 2:
        return None
    job = environment.get("SLURM_JOB_ID", "?")
    if "SLURM_STEP_ID" not in environment or "SLURM_PROCID" not in environment:
        raise FinebenchError(f"this is Slurm job {job} with {nodes} nodes, but finebench eval was started once, "
                             "outside srun: it would run on this node alone",
                             "start it on every node with srun --ntasks-per-node=1 finebench eval … (or give "
                             "--nnodes 1 to use this node alone)")
    tasks = int(environment.get("SLURM_STEP_NUM_TASKS") or environment.get("SLURM_NTASKS") or nodes)
    if tasks != nodes:
        raise FinebenchError(f"Slurm started {tasks} finebench eval tasks on {nodes} nodes; a node's processes are "
                             "started by finebench eval itself (--processes)",
                             "run one task per node: srun --ntasks-per-node=1 finebench eval --processes "
                             "<GPUs per node> …")
    hosts = environment.get("SLURM_STEP_NODELIST") or environment.get("SLURM_JOB_NODELIST")
    master = environment.get("MASTER_ADDR") or (expand_hostlist(hosts)[0] if hosts else None)
    if not master:
        raise FinebenchError(f"Slurm job {job} names no node list (SLURM_STEP_NODELIST) and MASTER_ADDR is unset",
                             "export MASTER_ADDR=<the first node's address> in the batch script, or give "
                             "--nnodes, --node-rank and --master-addr")
    port = environment.get("MASTER_PORT")
    port = int(port) if port else DEFAULT_PORT + (int(job) % SLURM_PORTS if job.isdigit() else 0)
    return Nodes(nodes, int(environment["SLURM_PROCID"]), master, port, f"Slurm job {job}")


def expand_hostlist(text: str) -> list[str]:
    """Slurm's compressed host list, expanded: 'gpu[01-03,7],login1' -> gpu01, gpu02, gpu03, gpu7, login1."""
    hosts = []
    for item in _top_level_items(text):
        hosts += _expand_item(item)
    return hosts


def _top_level_items(text: str) -> list[str]:
    items, depth, current = [], 0, ""
    for character in text.strip():
        depth += {"[": 1, "]": -1}.get(character, 0)
        if character == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += character
    if depth != 0:
        raise FinebenchError(f"cannot read the Slurm host list {text!r} (unbalanced brackets)",
                             "export MASTER_ADDR=<the first node's address>")
    return [item for item in [*items, current] if item]


def _expand_item(item: str) -> list[str]:
    found = re.search(r"\[([^\]]*)\]", item)
    if not found:
        return [item]
    head, tail = item[:found.start()], item[found.end():]
    values = []
    for part in found.group(1).split(","):
        low, _, high = part.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            raise FinebenchError(f"cannot read the Slurm host list range [{found.group(1)}] in {item!r}",
                                 "export MASTER_ADDR=<the first node's address>")
        width = len(low)  # Slurm keeps the zero padding of the lower bound: node[08-10]
        values += [str(number).zfill(width) for number in range(int(low), int(high or low) + 1)]
    return [f"{head}{value}{rest}" for value in values for rest in _expand_item(tail)]
