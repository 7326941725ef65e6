"""korsquad.training.distributed: which process this is (from the launcher's environment, and from the process group
once there is one), and the collectives, alone and in a gloo group of two processes."""

import json

import pytest

from korsquad.training import distributed


@pytest.fixture
def no_rank_variables(monkeypatch):
    for name in distributed.RANK_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize("env, first, first_on_machine", [
    ({}, True, True),  # started alone, or the launching process before Lightning starts the others
    ({"RANK": "0", "LOCAL_RANK": "0", "NODE_RANK": "0"}, True, True),
    ({"LOCAL_RANK": "1"}, False, False),  # Lightning's DDP relaunch of run_qa.py, second GPU
    ({"LOCAL_RANK": "0", "NODE_RANK": "1"}, False, True),  # the first process of the second machine
    ({"RANK": "3", "LOCAL_RANK": "0"}, False, True),  # torchrun
])
def test_rank_from_the_launchers_environment(no_rank_variables, env, first, first_on_machine):
    for name, value in env.items():
        no_rank_variables.setenv(name, value)
    assert distributed.process_group() is None
    assert distributed.is_first_process() is first
    assert distributed.is_first_on_machine() is first_on_machine


def test_alone_the_collectives_are_the_identity_and_work_runs_here(no_rank_variables):
    no_rank_variables.setenv("LOCAL_RANK", "1")  # even where the environment says otherwise: nobody else to wait for
    assert distributed.world_size() == 1
    assert distributed.gather_to_first([1, 2]) == [1, 2]
    assert distributed.broadcast_from_first({"a": 1}) == {"a": 1}
    assert distributed.on_first_process(lambda: 42, "answering") == 42
    with pytest.raises(ZeroDivisionError):
        distributed.on_first_process(lambda: 1 / 0, "dividing")


def in_group_of_two(rank, store, results):
    """One process of a gloo group of two; what it saw goes to results/<rank>.json."""
    import os

    import torch.distributed as dist

    os.environ["RANK"] = "0"  # a stale environment: the process group decides
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    try:
        ran = []
        seen = {
            "first": distributed.is_first_process(),
            "world": distributed.world_size(),
            "gathered": distributed.gather_to_first([rank] * (rank + 1)),
            "broadcast": distributed.broadcast_from_first({"from": rank}),
            "result": distributed.on_first_process(lambda: ran.append(rank) or f"done by {rank}", "working"),
        }
        seen["ran"] = ran
        try:
            distributed.on_first_process(lambda: 1 / 0, "dividing")
        except Exception as err:
            seen["error"] = f"{type(err).__name__}: {err}"
        (results / f"{rank}.json").write_text(json.dumps(seen))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow  # two spawned processes import torch: seconds idle, far more on a busy machine
def test_in_a_group_of_two_process_0_works_and_everyone_learns_the_outcome(tmp_path):
    import torch.multiprocessing as mp

    results = tmp_path / "results"
    results.mkdir()
    mp.spawn(in_group_of_two, args=(tmp_path / "store", results), nprocs=2, join=True)
    first, second = (json.loads((results / f"{rank}.json").read_text()) for rank in (0, 1))
    assert (first["first"], second["first"]) == (True, False)
    assert first["world"] == second["world"] == 2
    assert first["gathered"] == [0, 1, 1] and second["gathered"] is None  # in rank order, on process 0 only
    assert first["broadcast"] == second["broadcast"] == {"from": 0}
    assert first["result"] == second["result"] == "done by 0"
    assert first["ran"] == [0] and second["ran"] == []
    # process 0 raises its own error; the other learns of it at once instead of waiting in the next collective
    assert first["error"] == "ZeroDivisionError: division by zero"
    assert second["error"] == "RuntimeError: process 0 failed while dividing: ZeroDivisionError: division by zero"
