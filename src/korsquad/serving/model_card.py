"""The model card of a run's best_model/ (its README.md, as the Hugging Face Hub shows it): YAML front matter
(language, license, datasets, tags, pipeline_tag, base_model, model-index with the best checkpoint's official
scores), then what the model is, its scores, how to use it, the training command and resolved settings, hardware,
wall time, tokens seen and the data set's license.

Every score is named by the data set's metric record (korsquad.data.metrics: `key_name`, `is_score`), so the card never
spells a metric's keys.
"""

import json
import shlex
from pathlib import Path

from ..config.options import replay_settings
from ..runs.checkpoints import is_hub_model_id

# Hub names of the data sets (datasets:, model-index) and their display names; a data set missing here is named by
# its registry name only.
HUB_DATASETS = {
    "squad_v1.1": ("SQuAD 1.1", "rajpurkar/squad", None),
    "squad_v2.0": ("SQuAD 2.0", "rajpurkar/squad_v2", None),
    "korquad_v1.0": ("KorQuAD 1.0", "KorQuAD/squad_kor_v1", None),
    "korquad_v2.0": ("KorQuAD 2.0", None, None),
    "korquad_v2.1": ("KorQuAD 2.1", "KorQuAD/squad_kor_v2", None),
    "klue_mrc": ("KLUE-MRC", "klue/klue", "mrc"),
}
# The registry's license names as the Hub's model-card metadata spells them.
LICENSES = {
    "CC BY-SA 4.0": ({"license": "cc-by-sa-4.0"}, "https://creativecommons.org/licenses/by-sa/4.0/"),
    "CC BY-ND 2.0 KR": ({"license": "other", "license_name": "cc-by-nd-2.0-kr",
                         "license_link": "https://creativecommons.org/licenses/by-nd/2.0/kr/"},
                        "https://creativecommons.org/licenses/by-nd/2.0/kr/"),
}


def metric_name(key, spec):
    """A result key in the card's words: 'F1', 'HasAns Exact Match', 'type 2 (multi-sentence reasoning) ROUGE-W'."""
    return spec.metric.key_name(key, spec.question_types)


def card_scores(result, best, spec):
    """[(key, value)] of the best checkpoint's official scores: result.json's when given, else the primary metric
    from best_checkpoint.json."""
    if result:
        return [(key, value) for key, value in result.items() if isinstance(value, (int, float))]
    if best and best.get("score") is not None:
        return [(best.get("metric") or spec.metric.primary_key, best["score"])]
    return []


def model_card(record, result, best, spec):
    """The Hugging Face model card (README.md) of a run's best_model/, as Markdown.

    record: run.json (the training's record); result: result.json of the best checkpoint, or None when the run
    did not evaluate it (the card then has the primary metric from best_checkpoint.json); best: that file, or None.
    """
    config = dict(record.get("config") or {})
    best = best or {}
    display = HUB_DATASETS.get(spec.name, (spec.name, None, None))[0]
    base = config.get("model_name_or_path")
    name = config.get("push_to_hub") or config.get("run_name") or f"{config.get('model_type')}-{spec.name}"
    scores = card_scores(result, best, spec)
    what = (f"A {config.get('model_type') or 'question-answering'} model fine-tuned for extractive question "
            f"answering on **{display}** ({_language_name(spec.language)}) with KorSQuAD-pl (PyTorch Lightning), "
            f"starting from `{base}`. It finds the answer to a question as a span of the given context.")
    lines = [f"---\n{front_matter(config, spec, name, scores, best)}---", "", f"# {name}", "", what, ""]
    lines += scores_section(config, spec, scores, result, best)
    lines += usage_section(config, spec, record.get("pipeline_agreement"))
    lines += training_section(config)
    lines += compute_section(record, config)
    lines += license_section(spec, display, base)
    return "\n".join(lines)


def front_matter(config, spec, name, scores, best):
    """The card's YAML metadata; model-index lists the scores (not counts or thresholds), the primary one first."""
    import yaml

    display, hub_id, hub_config = HUB_DATASETS.get(spec.name, (spec.name, None, None))
    license_meta = LICENSES.get(spec.license, ({"license": "other"}, None))[0]
    base = config.get("model_name_or_path")
    meta = {"language": [spec.language], **license_meta, "library_name": "transformers",
            "tags": ["question-answering", "korsquad-pl", config.get("model_type") or "", spec.name],
            "pipeline_tag": "question-answering"}
    meta["tags"] = [tag for tag in meta["tags"] if tag]
    if hub_id:
        meta["datasets"] = [hub_id]
    if is_hub_model_id(base):
        meta["base_model"] = base
    if scores:
        dataset = {"name": display, "type": hub_id or spec.name, "split": "validation"}
        if hub_config:
            dataset["config"] = hub_config
        if config.get("dev_file"):
            dataset = {"name": f"{display} ({Path(config['dev_file']).name})", "type": spec.name}
        primary = _primary(best, spec)
        ranked = sorted((item for item in scores if spec.metric.is_score(item[0])), key=lambda item: item[0] != primary)
        metrics = [{"type": key, "value": _round(value), "name": metric_name(key, spec)} for key, value in ranked]
        meta["model-index"] = [{"name": name, "results": [{
            "task": {"type": "question-answering", "name": "Question Answering"},
            "dataset": dataset, "metrics": metrics}]}]
    return yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000)


def scores_section(config, spec, scores, result, best):
    lines = ["## Scores", ""]
    if not scores:
        return lines + ["No score: the run kept no evaluated checkpoint.", ""]
    where = f"`{config['dev_file']}`" if config.get("dev_file") else "the dev set"
    if config.get("max_eval_samples"):
        where += f" (its first {config['max_eval_samples']} questions only)"
    display = HUB_DATASETS.get(spec.name, (spec.name,))[0]
    primary = _primary(best, spec)
    lines += [f"Scores of the best checkpoint on {where} by the official {display} metric (`{spec.metric.name}`); "
              f"checkpoints were ranked by **{metric_name(primary, spec)}** (`{primary}`).", ""]
    lines += ["| metric | key | value |", "|---|---|---|"]
    lines += [f"| {metric_name(key, spec)} | `{key}` | {_format_value(key, value, spec)} |" for key, value in scores]
    if best.get("step") is not None:
        lines += ["", f"Best checkpoint: epoch {best.get('epoch')}, step {best.get('step')}."]
    if not result:
        lines += ["", "The run did not evaluate with `--do_eval`: only the primary metric of the best "
                      "checkpoint is known."]
    return lines + [""]


def usage_section(config, spec, agreement):
    """QuestionAnswerer first (it answers as the evaluation did), then transformers' pipeline with how far it
    agreed when the model was exported (run.json's "pipeline_agreement": korsquad.serving.pipeline_agreement)."""
    from .pipeline_agreement import pipeline_arguments

    hub = config.get("push_to_hub")
    folder = f'snapshot_download("{hub}")' if hub else '"path/to/best_model"'
    lines = ["## Usage", "",
             "KorSQuAD-pl's `QuestionAnswerer` answers as the evaluation above did: with the run's windows, decoding "
             "and no-answer threshold, so on the dev set its answers are the evaluation's.", "",
             "```python", "from korsquad import QuestionAnswerer",
             *(["from huggingface_hub import snapshot_download"] if hub else []), "",
             f"qa = QuestionAnswerer({folder})",
             "qa(question, context)  # {'answer': ..., 'char_start': ..., 'char_end': ..., 'score': ...}", "```", ""]
    lines += [f"transformers' `pipeline` loads this folder too, without KorSQuAD-pl, but windows and decodes its own "
              f"way. {agreement_sentence(agreement)}", ""]
    arguments = ""
    if all(config.get(name) is not None for name in ("max_seq_length", "max_query_length", "max_answer_length")):
        arguments = ", " + ", ".join(f"{key}={value}" for key, value in
                                     pipeline_arguments(config, spec.has_unanswerable).items())
    lines += ["```python", "from transformers import pipeline", "",
              f"qa = pipeline(\"question-answering\", model=\"{hub or 'path/to/best_model'}\")",
              f"qa(question=..., context=...{arguments})", "```", ""]
    if config.get("model_type") in ("kobert", "distilkobert"):
        lines += ["`tokenizer.json` reproduces KoBERT's sentencepiece tokenizer (`KoBertTokenizer`, whose files "
                  "are here too), so `AutoTokenizer` loads it without custom code.", ""]
    return lines


def agreement_sentence(agreement):
    """What the export measured of the pipeline against QuestionAnswerer, in one sentence."""
    if not agreement:
        return "Its answers were not compared with `QuestionAnswerer`'s for this model."
    if "error" in agreement:
        return f"It could not answer with this folder when the model was exported ({agreement['error']})."
    return (f"Called as below when the model was exported, it gave `QuestionAnswerer`'s answer on "
            f"{agreement['same']} of {agreement['questions']} dev questions (spread over the dev set).")


def training_section(config):
    import yaml

    settings = yaml.safe_dump(replay_settings(config), sort_keys=False, allow_unicode=True).rstrip()
    return ["## Training", "", "The command, run from the KorSQuAD-pl repository, with every setting resolved:", "",
            "```bash", training_command(config), "```", "",
            "The same settings as a `--config` file (`python run_qa.py --config settings.yaml`):", "", "```yaml",
            settings, "```", ""]


def compute_section(record, config):
    hardware = record.get("hardware") or {}
    facts = []
    if hardware:
        devices = hardware.get("devices")
        nodes = hardware.get("num_nodes") or 1
        device = hardware.get("device_name")
        if hardware.get("accelerator") not in (None, device):
            device = f"{device} ({hardware['accelerator']})"
        facts.append(f"- Hardware: {devices} x {device}" + (f" on {nodes} machines" if nodes > 1 else "")
                     + f", precision {config.get('precision')}")
    if record.get("wall_time_s") is not None:
        facts.append(f"- Wall time: {_duration(record['wall_time_s'])}, training and evaluation (the whole "
                     "run_qa.py invocation)")
    if record.get("train_steps") is not None:
        facts.append(f"- Optimizer steps: {record['train_steps']:,}")
    tokens = record.get("train_tokens")
    facts.append("- Tokens seen: " + (f"{tokens:,}: the real (not padding) tokens of every training sequence, "
                                       "question and special tokens included, counted during training over all "
                                       "processes and epochs" if tokens is not None else "not counted"))
    if record.get("num_parameters"):
        facts.append(f"- Parameters: {record['num_parameters']:,}")
    if record.get("finished_at"):
        facts.append(f"- Finished: {record['finished_at']}")
    return ["## Compute", "", *facts, ""]


def license_section(spec, display, base):
    if not spec.license:
        return ["## License", "", f"See the licenses of {display} and of the base model `{base}`.", ""]
    license_url = LICENSES.get(spec.license, (None, None))[1]
    link = f"[{spec.license}]({license_url})" if license_url else spec.license
    return ["## License", "", f"The training data, {display}, is licensed under {link}; the license field above "
            f"states it. The license of the base model `{base}` applies to the weights as well.", ""]


def training_command(config):
    """`python run_qa.py --flag value ...` for every setting of the run (its defaults resolved)."""
    parts = ["python", "run_qa.py"]
    for key, value in replay_settings(config).items():
        if value is True:
            parts.append(f"--{key}")
        elif value is not False:
            parts += [f"--{key}", str(value)]
    return " ".join(shlex.quote(part) for part in parts)


def _primary(best, spec):
    """The key checkpoints were ranked by: best_checkpoint.json's, else the metric's."""
    return best.get("metric") or spec.metric.primary_key


def _round(value):
    return round(value, 4) if isinstance(value, float) else value


def _format_value(key, value, spec):
    if isinstance(value, float) and spec.metric.is_score(key):
        return f"{value:.2f}"
    return f"{value:,}" if isinstance(value, int) else f"{value}"


def _duration(seconds):
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    if not hours and not minutes:
        return f"{secs} s"
    text = f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"
    return f"{text} ({seconds:,.0f} s)"


def _language_name(code):
    return {"ko": "Korean", "en": "English"}.get(code, code)


def write_model_card(folder, spec):
    """best_model/README.md from the run's files: run.json, best_checkpoint.json, and result.json when this run
    evaluated its best checkpoint (--do_eval with --do_train; an older result.json may be another checkpoint's)."""
    from ..common.jsonio import atomic_write_bytes

    record = folder.read_record() or {}
    config = record.get("config") or {}
    result = None
    if config.get("do_train") and config.get("do_eval") and folder.result_json.is_file():
        result = json.loads(folder.result_json.read_text(encoding="utf-8"))
    best = folder.read_best()
    if best is not None:
        best = dict(best, path=str(Path(best["path"]).relative_to(folder.root)))
    atomic_write_bytes(folder.model_card, model_card(record, result, best, spec).encode("utf-8"))
    return folder.model_card
