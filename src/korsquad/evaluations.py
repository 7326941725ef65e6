"""What each evaluation's scores were measured on.

result.json holds the official scores of the latest evaluation exactly as the official scripts compute them; beside
it, every evaluation of a run folder appends one entry to evaluations.json (RunFolder.add_evaluation): the dev file
and the digest of its bytes, the number of questions scored, the window and decoding settings, the checkpoint and
its optimizer step, and its scores. korsquad.report shows each entry as its own labelled row, so an evaluation is
never shown under another's settings.
"""

from datetime import datetime, timezone


def evaluation_entry(config, *, during, dev_file, dev_digest, questions, checkpoint, step, result):
    """One evaluations.json entry. during: "training" (the best checkpoint's validation) or "evaluation" (a
    --do_eval without --do_train); dev_digest: readers.data_digest of the dev file (run.json's dev_data too)."""
    return {
        "at": datetime.now(timezone.utc).isoformat(),
        "during": during,
        "dev_file": str(dev_file),
        "dev_digest": dev_digest,
        "questions": questions,
        "window": config.window.as_dict(),
        "decoding": config.decoding.as_dict(),
        "checkpoint": str(checkpoint),
        "checkpoint_step": step,
        "result": result,
    }


def measured_settings(entry):
    """An entry's settings as flat {setting: value}, the way run.json's "config" names them (the report's
    columns; the checkpoint by its step, its path being the run folder's own)."""
    return {"dev_file": entry.get("dev_file"), "dev_digest": entry.get("dev_digest"),
            "eval_questions": entry.get("questions"), **(entry.get("window") or {}), **(entry.get("decoding") or {}),
            "checkpoint_step": entry.get("checkpoint_step")}
