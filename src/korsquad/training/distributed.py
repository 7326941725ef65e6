"""Which process this is, and the few collectives the toolkit needs beyond Lightning's: work done on process 0 with
its outcome (or its error) on every process, and objects gathered to or broadcast from process 0.

A process knows its rank from its process group once there is one (Lightning starts it with the Trainer), and
before that from the environment its launcher set: Lightning's DDP relaunches run_qa.py with LOCAL_RANK and
NODE_RANK, torchrun and SLURM set RANK. Nothing here loads torch: run_qa.py asks before it imports torch (a bad flag
is reported at once), and without torch.distributed imported there is no process group.
"""

import os
import sys

RANK_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK")


def process_group():
    """torch.distributed when this process belongs to an initialized process group, else None."""
    dist = sys.modules.get("torch.distributed")
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return None
    return dist


def is_first_process():
    """Process 0 of the whole job: the one that writes run.json, prepares the run folder and exports the model."""
    dist = process_group()
    if dist is not None:
        return dist.get_rank() == 0
    return all(int(os.environ.get(name, "0")) == 0 for name in RANK_VARIABLES)


def is_first_on_machine():
    """Process 0 of this machine (LOCAL_RANK 0): the one that builds the feature caches every process of the
    machine then reads."""
    return int(os.environ.get("LOCAL_RANK", "0")) == 0


def world_size():
    dist = process_group()
    return dist.get_world_size() if dist is not None else 1


def on_first_process(work, doing):
    """Run `work()` on process 0 only and return its result on every process. Its exception is raised on every
    process at once: the others would otherwise wait in their next collective until the process-group timeout
    (30 minutes; gloo notices a dead peer sooner, NCCL does not). Without a process group this process is alone
    and runs `work()` itself."""
    if process_group() is None:
        return work()
    outcome = None
    error = None
    if is_first_process():
        try:
            outcome = {"result": work()}
        except Exception as err:  # shared below, then raised everywhere
            error = err
            outcome = {"error": f"{type(err).__name__}: {err}"}
    outcome = broadcast_from_first(outcome)
    if "error" in outcome:
        raise error or RuntimeError(f"process 0 failed while {doing}: {outcome['error']}")
    return outcome["result"]


def gather_to_first(local):
    """Every process's list (of evaluation outputs, per batch) joined into one list on process 0, in rank order;
    None on the other processes. Alone, the list itself."""
    if world_size() == 1:
        return local
    dist = process_group()
    everything = [None] * world_size() if is_first_process() else None
    dist.gather_object(local, everything, dst=0)
    return [item for part in everything for item in part] if everything is not None else None


def broadcast_from_first(obj):
    """Process 0's `obj` on every process."""
    if world_size() == 1:
        return obj
    box = [obj]
    process_group().broadcast_object_list(box, src=0)
    return box[0]
