"""The local launcher: the experiment's cells on this machine, one after another, or side by side on disjoint
groups of the GPUs it is given (`--gpu_ids 0,1,2,3,4,5,6,7`: a cell takes its size's `gpus`, e.g. 1 for a base
model and 4 for a large one, so eight base cells run at once, or two large ones).

Cells start in the plan's order: the next cell waits until enough GPUs are free (no later cell jumps ahead, so a
large cell is never starved by small ones). A cell whose lock another process holds is passed over and looked at
again until it is done or free; a cell found done is skipped. A failed attempt is tried again, up to `retries`
more times (counting attempts by any process since this launcher started), unless it failed on bad input (exit
status 2: the same error again).
"""

import subprocess
import time

from ._toolkit import UsageError, format_wall_time
from .lock import HEARTBEAT_S, CellLock, held_elsewhere
from .record import failures_since, log_path, retryable
from .runner import CellRun, Outcome, end_leftovers
from .state import cell_state, format_scores

POLL_S = 0.1  # how often running cells are looked at: a tenth of a second lost per cell at most


def parse_gpu_ids(text):
    """--gpu_ids 0,1,2 -> [0, 1, 2]."""
    try:
        ids = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        ids = None
    if not ids or any(i < 0 for i in ids) or len(set(ids)) != len(ids):
        raise UsageError(f"--gpu_ids {text!r}: expected distinct comma-separated GPU ids like 0,1,2,3")
    return ids


class GpuPool:
    """The launcher's GPUs; a cell takes the first `n` free ones and gives them back when it ends."""

    def __init__(self, gpu_ids):
        self.order = list(gpu_ids)
        self.free = list(gpu_ids)

    def take(self, n):
        if n > len(self.free):
            return None
        taken, self.free = self.free[:n], self.free[n:]
        return taken

    def give(self, ids):
        self.free = [i for i in self.order if i in self.free or i in ids]


def run_cell(cell, gpu_ids=None, retries=1, **options):
    """Train one cell in this process to its end, as the local launcher does (lock, skip when done, continue
    when interrupted, retries): what a SLURM job runs. `options`: LocalLauncher's (env, on_launch, say, ...). Its
    Outcome."""
    return LocalLauncher(gpu_ids, retries, **options).run([cell])[0]


class LocalLauncher:
    """`env` and `on_launch`: passed to each cell's CellRun (korsquad.experiments.runner)."""

    def __init__(self, gpu_ids=None, retries=1, spawn=subprocess.Popen, say=print, poll_s=POLL_S, env=None,
                 on_launch=None):
        self.pool = GpuPool(gpu_ids) if gpu_ids else None
        self.retries, self.spawn, self.say, self.poll_s = retries, spawn, say, poll_s
        self.env, self.on_launch = env, on_launch

    def check(self, cells):
        """Every cell still to run fits the GPUs given (before anything runs)."""
        if self.pool is None:
            return
        for cell in cells:
            if cell.gpus > len(self.pool.order) and cell_state(cell).status != "done":
                raise UsageError(f"cell {cell.label} needs {cell.gpus} GPUs (size {cell.model.size}) and --gpu_ids "
                                 f"gives {len(self.pool.order)}: give more GPUs, or give the model a size with "
                                 "fewer in a copy of the file")

    def run(self, cells):
        """Run every cell that is not done; the Outcome of each, in the cells' order."""
        self.check(cells)
        self.number = {cell: f"[{i}/{len(cells)}] {cell.label}" for i, cell in enumerate(cells, 1)}
        self.since, self.outcomes, self.noted = time.time(), {}, set()
        for cell in cells:  # done before: skipped without waiting for GPUs (it may need more than are left)
            state = cell_state(cell)
            if state.status == "done":
                self.outcomes[cell] = Outcome(cell, "done", 0, wall_time_s=state.wall_time_s, scores=state.scores)
                self.say(f"{self.number[cell]}: done (already): {format_scores(state.scores)}"
                         + (f"; note: {state.detail}" if state.detail else ""))
        queue, running = [cell for cell in cells if cell not in self.outcomes], []
        last_beat = time.monotonic()
        try:
            while queue or running:
                self.start_ready(queue, running)
                ended = [run for run in running if run.poll() is not None]
                for run in ended:
                    running.remove(run)
                    self.end(run, queue)
                if not ended:
                    time.sleep(self.poll_s)
                if time.monotonic() - last_beat > HEARTBEAT_S:
                    for run in running:
                        run.lock.heartbeat()
                    last_beat = time.monotonic()
        finally:
            for run in running:  # interrupted (Ctrl-C, SIGTERM): stop and record the cells in flight
                run.stop()
                self.end(run, [], interrupted=True)
        return [self.outcomes[cell] for cell in cells]

    def start_ready(self, queue, running):
        """Start the queue's cells in order while their GPUs are free; a cell held elsewhere stays queued."""
        for cell in list(queue):
            gpus = self.gpus_for(cell, running)
            if gpus is False:
                return  # the next cell waits for its GPUs; no later one goes first
            run = self.claim(cell, gpus)
            if run is None:
                if cell in self.outcomes:
                    queue.remove(cell)
                if self.pool and gpus:
                    self.pool.give(gpus)
                continue
            queue.remove(cell)
            running.append(run)
            where = f" on GPU {','.join(map(str, gpus))}" if gpus else ""
            self.say(f"{self.number[cell]}: started ({run.mode}){where}; log {log_path(cell)}")

    def gpus_for(self, cell, running):
        """The GPUs the cell gets now ([] without GPUs), or False when it must wait."""
        if self.pool is None:
            return False if running else []
        taken = self.pool.take(cell.gpus)
        return False if taken is None else taken

    def claim(self, cell, gpus):
        """Lock the cell and start it; None when it is not to run now (held elsewhere, done, or failed for good:
        then its outcome is in self.outcomes)."""
        label, lock = self.number[cell], CellLock.of(cell)
        if not lock.acquire():
            if cell not in self.noted:
                holder = held_elsewhere(lock.path)
                self.say(f"{label}: running in another process ({holder.describe() if holder else 'unknown'}); "
                         "looking again until it ends")
                self.noted.add(cell)
            return None
        started = False
        try:
            if lock.taken_over is not None and lock.taken_over.on_this_host:
                ended = end_leftovers(lock.taken_over.token)
                if ended:
                    self.say(f"{label}: ended {ended} leftover process(es) of the killed launcher")
            state = cell_state(cell, held_here=True)
            if state.status == "done":
                self.outcomes[cell] = Outcome(cell, "done", 0, wall_time_s=state.wall_time_s, scores=state.scores)
                self.say(f"{label}: done (by another process): {format_scores(state.scores)}")
                return None
            failed = failures_since(cell, self.since)  # by another process too
            if failed and (len(failed) > self.retries or not retryable(failed[-1]["exit_code"])):
                self.outcomes[cell] = Outcome(cell, "failed", failed[-1]["exit_code"], failed[-1].get("error") or "")
                return None
            run = CellRun(cell, lock, gpus, self.spawn, self.env, self.on_launch).start()
            started = True
            return run
        finally:
            if not started:
                lock.release()

    def end(self, run, queue, interrupted=False):
        """Record an attempt that ended; put the cell back at the queue's head when it may be tried again."""
        try:
            outcome = run.finish(interrupted)
        finally:
            run.lock.release()
            if self.pool and run.gpu_ids:
                self.pool.give(run.gpu_ids)
        cell, label = run.cell, self.number[run.cell]
        if outcome.status == "done":
            self.say(f"{label}: done in {format_wall_time(outcome.wall_time_s)}: {format_scores(outcome.scores)}")
            self.outcomes[cell] = outcome
            return
        if interrupted:
            self.say(f"{label}: stopped (continues when the command runs again)")
            self.outcomes[cell] = outcome
            return
        tries = len(failures_since(cell, self.since))
        again = retryable(outcome.exit_code) and tries <= self.retries
        self.say(f"{label}: failed (exit status {outcome.exit_code}): {outcome.error}"
                 + (f"; trying again ({tries + 1} of {self.retries + 1})" if again else ""))
        if again:
            queue.insert(0, cell)
        else:
            self.outcomes[cell] = outcome
