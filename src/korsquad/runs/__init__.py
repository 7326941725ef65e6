"""A run on disk: its folder, run.json's record and evaluations, checkpoints and model folders, and the window and
decoding settings a model is scored with.

    folder       the run folder `OUTPUT_DIR/<data_name>/<run_name>/` and every path in it
    record       `run.json`'s record of each invocation; `evaluations.json`: what each evaluation was measured on
    checkpoints  what an evaluation scores (checkpoint, run folder, model folder, Hub name) and the settings that
                 trained it; `weights_only` loading
    settings     the window and decoding settings: two frozen records with their checks, and the one resolver
                 (given, the training's, the data set's)
"""

from ..common.exports import lazy_exports

# The names other stages and users import, each loaded with its module on first use (importing the package
# alone loads none of its modules).
__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "checkpoints": ["SETTINGS_KEY", "is_hub_model_id", "load_checkpoint", "locate", "older_checkpoint_types",
                    "plain_json", "recorded_model_path", "resolve_model_path", "write_model_settings"],
    "folder": ["DEFAULT_OUTPUT_DIR", "EVAL_SPLIT", "PREDICT_SPLIT", "RunFolder", "run_folders"],
    "record": ["MODEL_PATH_KEY", "RECORD_KEYS", "RESOLVED_KEYS", "RunRecord", "evaluated_dev_data", "evaluation_entry",
               "evaluation_settings"],
    "settings": ["DecodingSettings", "INHERITED", "WindowSettings", "positive_int", "resolve_settings"],
})
