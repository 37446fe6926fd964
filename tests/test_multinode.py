"""One benchmark across nodes. Two `finebench eval` launchers on this machine are the two nodes of torchrun's
static rendezvous over loopback, one process each (gloo on the CPU): every line is answered once, by one
node's rank or the other's, and the per-line records and the entry equal a one-process run's. Killed with -9
on one node mid-run, the same two commands generate only what is missing, whichever rank made the rest.
The same two nodes placed by the variables srun sets, with no placement option."""

import json
import subprocess
from collections import Counter

import pytest
from chromium import free_port
from processes import new_mark, survivors, wait_for_lines
from test_lmms_eval_cli import records
from test_resume import LINES, environment, evaluation, run_uninterrupted, scores  # TASKS: 50 closed, 50 open lines

from finebench.errors import FinebenchError
from finebench.harness.journal import read_records
from finebench.harness.nodes import DEFAULT_PORT, SLURM_PORTS, expand_hostlist, from_slurm, placement
from finebench.harness.responders import DELAY_VARIABLE, LOG_VARIABLE

NODE_SECONDS = 300


def placed(node: int, port: int) -> list[str]:
    return ["--nnodes", "2", "--node-rank", str(node), "--master-addr", "127.0.0.1", "--master-port", str(port)]


def both_nodes(commands, environments) -> list[subprocess.Popen]:
    return [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=environment)
            for command, environment in zip(commands, environments)]


def finished(nodes) -> list[str]:
    """Each node's stderr, once all have ended with 0."""
    errors = [node.communicate(timeout=NODE_SECONDS)[1] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], "\n----\n".join(error[-2500:] for error in errors)
    return errors


def logged(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def same_records(run, reference) -> None:
    mine, theirs = records(run), records(reference)
    assert mine.keys() == theirs.keys() and len(mine) == LINES
    for key, metrics in theirs.items():
        for metric, record in metrics.items():
            # a similarity may differ in its 7th decimal: the encoder's batches differ between the runs
            assert {**mine[key][metric], "score": 0} == {**record, "score": 0}, (key, metric)
            assert mine[key][metric]["score"] == pytest.approx(record["score"], abs=1e-6), (key, metric)


@pytest.fixture(scope="module")
def one_process(prepared_home, tmp_path_factory):
    return run_uninterrupted(prepared_home, tmp_path_factory.mktemp("one-process"))


@pytest.mark.slow(seconds=40)  # with its module's one-process run
def test_two_nodes_placed_by_srun_answer_every_line_once_as_one_process_would(prepared_home, one_process, tmp_path):
    port = free_port()
    slurm = {"SLURM_JOB_ID": "4242", "SLURM_NNODES": "2", "SLURM_STEP_NUM_NODES": "2", "SLURM_STEP_ID": "0",
             "SLURM_NTASKS": "2", "SLURM_STEP_NUM_TASKS": "2", "SLURM_STEP_NODELIST": "localhost,localhost",
             "MASTER_PORT": port, LOG_VARIABLE: tmp_path / "calls"}
    nodes = both_nodes([evaluation(tmp_path / "run", "--no-journal")] * 2,
                       [environment(prepared_home, **slurm, SLURM_PROCID=node, SLURM_NODEID=node) for node in (0, 1)])
    errors = finished(nodes)
    assert f"node 1 of 2 (Slurm job 4242), 1 process here, meeting at localhost:{port}" in errors[1]
    assert "node 0 writes the results" in errors[1]
    calls = logged(tmp_path / "calls")
    assert Counter(call["rank"] for call in calls) == {0: LINES // 2, 1: LINES // 2}  # split between the nodes
    assert set(Counter((call["task"], call["doc_id"]) for call in calls).values()) == {1}  # none twice
    same_records(tmp_path / "run", one_process)
    assert scores(tmp_path / "run") == scores(one_process)


@pytest.mark.slow(seconds=30)
def test_a_node_killed_mid_run_then_the_same_commands_generate_only_what_is_missing(prepared_home, one_process,
                                                                                     tmp_path):
    port, journal, mark = free_port(), tmp_path / "journal", new_mark()
    commands = [evaluation(tmp_path / "run", "--journal", str(journal), *placed(node, port)) for node in (0, 1)]
    nodes = both_nodes(commands, [environment(prepared_home, **mark, **{DELAY_VARIABLE: 0.05,
                                                                        LOG_VARIABLE: tmp_path / "calls-1"})] * 2)
    wait_for_lines(tmp_path / "calls-1", 30, nodes[1])
    nodes[1].kill()  # node 1's launcher dies without a word; its guard takes torchrun and the rank with it
    nodes[0].terminate()  # as srun --kill-on-bad-exit does: node 0's rank would wait for its dead peer at the gather
    for node in nodes:
        node.wait(timeout=60)
    assert survivors(mark) == []
    [model_journal] = [path for path in journal.iterdir() if path.is_dir()]
    answers = read_records(model_journal)[0]
    first = logged(tmp_path / "calls-1")
    assert sorted(path.name for path in model_journal.glob("rank-*.jsonl")) == ["rank-0.jsonl", "rank-1.jsonl"]
    assert 0 < len(answers) < LINES and {call["rank"] for call in first} == {0, 1}

    errors = finished(both_nodes(commands, [environment(prepared_home, **{LOG_VARIABLE: tmp_path / "calls-2"})] * 2))
    second = logged(tmp_path / "calls-2")
    assert len(second) == LINES - len(answers)  # only the lines no rank had answered
    journaled = {(answer["task"], answer["doc_id"]) for answer in answers.values()}
    assert not {(call["task"], call["doc_id"]) for call in second} & journaled
    assert sum(int(text.split(" of ")[0].rsplit(" ", 1)[1]) for error in errors for text in error.splitlines()
               if "answers read from" in text) == len(answers)
    same_records(tmp_path / "run", one_process)
    assert scores(tmp_path / "run") == scores(one_process)


def test_placement_from_the_command_line_and_its_mistakes():
    nodes = placement(3, 2, "node-a", None, environment={})
    assert nodes.torchrun(8) == ["--nnodes", "3", "--node_rank", "2", "--master_addr", "node-a", "--master_port",
                                 str(DEFAULT_PORT), "--nproc_per_node", "8"]
    assert placement(None, None, None, None, environment={}).torchrun(2) == ["--standalone", "--nproc_per_node", "2"]
    for options, message in (((2, None, "a", None), "--nnodes 2 needs --node-rank"),
                             ((2, 0, None, None), "needs --master-addr"),
                             ((2, None, None, None), "needs --node-rank and --master-addr"),
                             ((2, 2, "a", None), "--node-rank 2 is not one of the 2 nodes"),
                             ((None, 1, "a", None), "--nnodes is 1")):
        with pytest.raises(FinebenchError, match=message):
            placement(*options, environment={})


def test_placement_from_slurm():
    step = {"SLURM_JOB_ID": "1234", "SLURM_NNODES": "4", "SLURM_STEP_NUM_NODES": "2", "SLURM_STEP_ID": "3",
            "SLURM_PROCID": "1", "SLURM_STEP_NUM_TASKS": "2", "SLURM_STEP_NODELIST": "gpu[007-008]",
            "SLURM_JOB_NODELIST": "gpu[005-008]"}
    nodes = from_slurm(step)  # the step's nodes, not the job's
    assert (nodes.count, nodes.rank, nodes.master_addr, nodes.master_port) == (2, 1, "gpu007", 29500 + 1234)
    assert nodes.source == "Slurm job 1234" and 29500 + SLURM_PORTS <= 32768
    exported = from_slurm({**step, "MASTER_ADDR": "10.0.0.7", "MASTER_PORT": "41000"})
    assert (exported.master_addr, exported.master_port) == ("10.0.0.7", 41000)
    assert placement(2, 0, "other", 29400, environment=step).source == "the command line"  # the options win
    assert placement(None, None, None, 29400, environment=step).master_port == 29400  # and the port alone
    assert from_slurm({"SLURM_JOB_ID": "9", "SLURM_NNODES": "1", "SLURM_PROCID": "0"}) is None
    with pytest.raises(FinebenchError, match="outside srun") as outside:
        from_slurm({"SLURM_JOB_ID": "9", "SLURM_NNODES": "2", "SLURM_PROCID": "0"})  # a batch script's own shell
    assert "srun --ntasks-per-node=1" in outside.value.fix
    with pytest.raises(FinebenchError, match="4 finebench eval tasks on 2 nodes"):
        from_slurm({**step, "SLURM_STEP_NUM_TASKS": "4"})


def test_slurm_host_lists_expand_as_scontrol_would():
    assert expand_hostlist("gpu[01-03,7],login1") == ["gpu01", "gpu02", "gpu03", "gpu7", "login1"]
    assert expand_hostlist("node[08-10]") == ["node08", "node09", "node10"]
    assert expand_hostlist("rack[1-2]-n[01-02]") == ["rack1-n01", "rack1-n02", "rack2-n01", "rack2-n02"]
    for broken in ("gpu[01-03", "gpu[a-b]"):
        with pytest.raises(FinebenchError, match="cannot read the Slurm host list"):
            expand_hostlist(broken)
