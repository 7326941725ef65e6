"""What each evaluation's scores were measured on.

result.json holds the official scores of the latest evaluation exactly as the official scripts compute them; beside
it, every evaluation of a run folder appends one entry to evaluations.json (RunFolder.add_evaluation): the dev file
and the digest of its bytes, the number of questions scored, the window and decoding settings, the checkpoint and
its optimizer step, and its scores. korsquad.analysis.report shows each entry as its own labelled row, so an evaluation
is never shown under another's settings. The latest entry is the evaluation that wrote the folder's
predictions_eval.json: korsquad.analysis.compare and korsquad.analysis.page read its dev data here, since run.json's
"evaluation" holds only the last invocation without training, which may be a --do_predict.
"""

from datetime import datetime, timezone
from pathlib import Path


def evaluation_entry(config, *, during, dev_file, dev_digest, questions, checkpoint, step, result):
    """One evaluations.json entry. during: "training" (the best checkpoint's validation) or "evaluation" (a
    --do_eval without --do_train); dev_digest: readers.data_digest of the dev file (run.json's dev_data too)."""
    return {
        "at": datetime.now(timezone.utc).isoformat(),
        "during": during,
        "dev_file": str(Path(dev_file).resolve()),  # absolute: compare and inspect read it from any folder
        "dev_digest": dev_digest,
        "questions": questions,
        "window": config.window.as_dict(),
        "decoding": config.decoding.as_dict(),
        "checkpoint": str(checkpoint),
        "checkpoint_step": step,
        "result": result,
    }


# The training's settings that an entry's own record replaces: its sample limit by the count of questions it scored
# ("eval_questions"), which a later evaluation may have set otherwise.
REPLACED_SETTINGS = ("max_eval_samples",)


def measured_settings(entry):
    """An entry's settings as flat {setting: value}, the way run.json's "config" names them (the report's
    columns; the checkpoint by its step, its path being the run folder's own). An entry is an evaluation, so
    do_eval is true, whatever the training's own flags were."""
    return {"do_eval": True, "dev_file": entry.get("dev_file"), "dev_digest": entry.get("dev_digest"),
            "eval_questions": entry.get("questions"), **(entry.get("window") or {}), **(entry.get("decoding") or {}),
            "checkpoint_step": entry.get("checkpoint_step")}


def evaluation_settings(config, entry):
    """The settings one evaluation was measured with: the run's config (run.json) with the entry's own in place of
    the training's."""
    kept = {key: value for key, value in config.items() if key not in REPLACED_SETTINGS}
    return dict(kept, **measured_settings(entry))


def evaluated_dev_data(evaluations, record):
    """{"path", "sha256"} of the dev data the folder's predictions_eval.json answers, or None when nothing records
    it: the latest evaluation's (evaluations.json), with the absolute path run.json records for the same digest
    where there is one; a folder without evaluations.json (older runs): run.json's own, the evaluation's before the
    training's."""
    recorded = [part.get("dev_data") for part in (record.get("evaluation"), record) if isinstance(part, dict)]
    recorded = [dev for dev in recorded if isinstance(dev, dict) and isinstance(dev.get("sha256"), str)]
    if not evaluations:
        return recorded[0] if recorded else None
    latest = evaluations[-1]
    digest = latest.get("dev_digest")
    if not isinstance(digest, str):
        return None
    path = next((dev.get("path") for dev in recorded if dev["sha256"] == digest), latest.get("dev_file"))
    return {"path": path, "sha256": digest}
