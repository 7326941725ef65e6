"""`python halting_run_qa.py ARGS`: run_qa.py that, once it has written last.ckpt at global step
$KORSQUAD_HALT_AT_STEP, touches $KORSQUAD_HALT_MARKER and waits there to be killed: a SIGKILL at a known point
right after a mid-epoch save, instead of one racing the training against a timer. With $KORSQUAD_HALT_RUN_NAME set,
only the run of that --run_name halts (an experiment's third cell, say); the others run to their end.

Only this process (process 0 under DDP) waits; the others wait for it in their next collective. Lightning
relaunches the other DDP processes with run_qa.py itself (sys.argv[0])."""

import os
import runpy
import sys
import time
from pathlib import Path

import pytorch_lightning as pl

RUN_QA = str(Path(__file__).resolve().parents[1] / "run_qa.py")
HALT_STEP = int(os.environ["KORSQUAD_HALT_AT_STEP"])
MARKER = os.environ["KORSQUAD_HALT_MARKER"]
HALTS = os.environ.get("KORSQUAD_HALT_RUN_NAME") in (None, *sys.argv[1:])
save_checkpoint = pl.Trainer.save_checkpoint


def save_then_halt(trainer, filepath, *args, **kwargs):
    save_checkpoint(trainer, filepath, *args, **kwargs)
    if HALTS and trainer.global_step == HALT_STEP and Path(filepath).name == "last.ckpt" and trainer.is_global_zero:
        Path(MARKER).write_text(str(filepath))
        while True:
            time.sleep(60)


pl.Trainer.save_checkpoint = save_then_halt
sys.argv[0] = RUN_QA
runpy.run_path(RUN_QA, run_name="__main__")
