"""The model card of best_model/ (korsquad.serving.model_card): Hub metadata, scores named by the metric record, the
training command and settings, compute and license."""

from hub_stub import front_matter

from korsquad.data.datasets import REGISTRY, get_spec
from korsquad.serving.model_card import card_scores, metric_name, model_card


def record_for(data_name, model="monologg/kobert", **config):
    return {"config": dict(model_type="kobert", model_name_or_path=model, data_name=data_name, do_train=True,
                           do_eval=True, run_name="kobert", output_dir="./model", data_dir="./data",
                           max_seq_length=512, learning_rate=5e-5, precision="32", resume=False,
                           push_to_hub="me/kobert-qa", devices_resolved=1, world_size=1, **config),
            "status": "finished", "wall_time_s": 3723.4, "train_steps": 1200, "train_tokens": 9876543,
            "num_parameters": 92186880,
            "hardware": {"accelerator": "gpu", "devices": 1, "num_nodes": 1, "device_name": "NVIDIA H200"}}


def test_model_card_of_a_korquad_run(tmp_path):
    from korsquad.config.options import read_config_file
    best = {"path": "checkpoints/best.ckpt", "metric": "f1", "score": 88.25, "epoch": 1, "step": 800}
    card = model_card(record_for("korquad_v1.0"), {"exact_match": 80.5, "f1": 88.25}, best, get_spec("korquad_v1.0"))
    meta, body = front_matter(card)
    assert meta["language"] == ["ko"] and meta["pipeline_tag"] == "question-answering"
    assert "question-answering" in meta["tags"] and meta["datasets"] == ["KorQuAD/squad_kor_v1"]
    assert meta["base_model"] == "monologg/kobert"
    assert (meta["license"], meta["license_name"]) == ("other", "cc-by-nd-2.0-kr")
    assert meta["license_link"] == "https://creativecommons.org/licenses/by-nd/2.0/kr/"
    index = meta["model-index"][0]
    assert index["name"] == "me/kobert-qa"
    result = index["results"][0]
    assert result["task"]["type"] == "question-answering" and result["dataset"]["type"] == "KorQuAD/squad_kor_v1"
    assert result["metrics"] == [{"type": "f1", "value": 88.25, "name": "F1"},
                                 {"type": "exact_match", "value": 80.5, "name": "Exact Match"}]
    assert "ranked by **F1** (`f1`)" in body and "| Exact Match | `exact_match` | 80.50 |" in body
    assert "epoch 1, step 800" in body and "CC BY-ND 2.0 KR" in body
    assert "9,876,543" in body and "NVIDIA H200" in body and "1 h 02 min" in body and "1,200" in body
    command = body.split("```bash\n")[1].split("\n```")[0]
    assert command.startswith("python run_qa.py --model_type kobert") and "--do_train" in command
    assert "--push_to_hub" not in command and "--resume" not in command
    settings = body.split("```yaml\n")[1].split("\n```")[0]
    (tmp_path / "settings.yaml").write_text(settings, encoding="utf-8")
    replayed = read_config_file(tmp_path / "settings.yaml")  # a valid --config
    assert replayed["learning_rate"] == 5e-5 and replayed["data_name"] == "korquad_v1.0"


def test_model_card_names_klue_mrcs_rouge_w_and_squad_v2s_keys():
    spec = get_spec("klue_mrc")
    result = {"exact_match": 60.0, "rouge_w": 70.25, "total": 5, "type1_exact_match": 50.0, "type1_rouge_w": 55.5,
              "type1_total": 2}
    best = {"metric": "rouge_w", "score": 70.25, "epoch": 0, "step": 10}
    meta, body = front_matter(model_card(record_for("klue_mrc"), result, best, spec))
    assert meta["license"] == "cc-by-sa-4.0" and meta["datasets"] == ["klue/klue"]
    metrics = meta["model-index"][0]["results"][0]["metrics"]
    assert metrics[0] == {"type": "rouge_w", "value": 70.25, "name": "ROUGE-W"}
    assert "total" not in {m["type"] for m in metrics}
    assert "type 1 (paraphrase) ROUGE-W" in body and "ranked by **ROUGE-W**" in body

    result = {"exact": 70.0, "f1": 73.5, "total": 10, "best_f1": 74.0, "best_f1_thresh": -1.25}
    meta, body = front_matter(model_card(record_for("squad_v2.0"), result, dict(best, metric="f1"),
                                         get_spec("squad_v2.0")))
    assert meta["language"] == ["en"] and meta["license"] == "cc-by-sa-4.0"
    types = [m["type"] for m in meta["model-index"][0]["results"][0]["metrics"]]
    assert types == ["f1", "exact", "best_f1"]
    assert "no-answer threshold of the best F1 | `best_f1_thresh` | -1.25" in body


def test_model_card_without_evaluation_or_hub_names(tmp_path):
    """Only --do_train: the primary metric from best_checkpoint.json; a local base model is no base_model; a
    --max_eval_samples subset is said."""
    record = record_for("korquad_v1.0", model=str(tmp_path), max_eval_samples=50)
    record["config"].update(do_eval=False, push_to_hub=None)
    del record["train_tokens"]
    meta, body = front_matter(model_card(record, None, {"metric": "f1", "score": 12.5, "step": 3, "epoch": 0},
                                         get_spec("korquad_v1.0")))
    assert "base_model" not in meta and meta["model-index"][0]["name"] == "kobert"
    assert meta["model-index"][0]["results"][0]["metrics"] == [{"type": "f1", "value": 12.5, "name": "F1"}]
    assert "first 50 questions" in body and "did not evaluate" in body and "Tokens seen: not counted" in body


def test_every_key_of_every_data_sets_result_is_named_in_words():
    """The card's table names each key its metric's scoring returns (a category's with its meaning); model-index
    lists only the scores, the primary one first."""
    for spec in REGISTRY.values():
        metric = spec.metric
        golds = {"a": ["서울역"], "u": []} if metric.gold_rule else {"a": ["서울역"]}
        types = {qid: number for qid, number in zip(golds, spec.question_types)}
        result = metric.score(golds, {"a": "서울", "u": ""}, {qid: 0.5 for qid in golds} if metric.null_threshold
                              else None, types)
        best = {"metric": metric.primary_key, "score": result[metric.primary_key], "epoch": 0, "step": 1}
        meta, body = front_matter(model_card(record_for(spec.name), result, best, spec))
        for key in result:
            assert f"| {metric_name(key, spec)} | `{key}` |" in body and metric_name(key, spec) != key, (spec.name, key)
        listed = [m["type"] for m in meta["model-index"][0]["results"][0]["metrics"]]
        assert listed[0] == metric.primary_key and set(listed) == {key for key in result if metric.is_score(key)}
    assert metric_name("type1_exact_match", get_spec("klue_mrc")) == "type 1 (paraphrase) Exact Match"


def test_card_scores_without_a_result_are_the_primary_score_of_the_best_checkpoint():
    spec = get_spec("klue_mrc")
    assert card_scores(None, {"score": 61.5}, spec) == [("rouge_w", 61.5)]
    assert card_scores({"exact_match": 1.0, "note": "x"}, None, spec) == [("exact_match", 1.0)]
    assert card_scores(None, None, spec) == []


def test_the_card_shows_question_answerer_first_then_the_pipeline_with_its_measured_agreement():
    spec = get_spec("squad_v2.0")
    record = record_for("squad_v2.0", max_query_length=32, max_answer_length=30)
    record["config"]["max_seq_length"] = 128
    record["pipeline_agreement"] = {"same": 11, "questions": 20}
    best = {"metric": "f1", "score": 50.0, "epoch": 0, "step": 10}
    _, body = front_matter(model_card(record, {"exact": 40.0, "f1": 50.0}, best, spec))
    usage = " ".join(body.split("## Usage")[1].split("## Training")[0].split())
    assert usage.index("QuestionAnswerer(snapshot_download(\"me/kobert-qa\"))") < usage.index("pipeline(")
    assert "it gave `QuestionAnswerer`'s answer on 11 of 20 dev questions" in usage
    assert ("qa(question=..., context=..., max_seq_len=128, max_question_len=32, max_answer_len=30, "
            "handle_impossible_answer=True)") in usage  # the call that was measured, the run's lengths

    record["pipeline_agreement"] = {"error": "OSError: no tokenizer"}
    _, body = front_matter(model_card(record, None, best, spec))
    assert "could not answer with this folder when the model was exported (OSError: no tokenizer)" in body
    del record["pipeline_agreement"]  # a run exported before the measure: no number is made up
    _, body = front_matter(model_card(record, None, best, spec))
    assert "were not compared" in body and " of 20 " not in body
