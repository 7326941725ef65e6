"""The registry: the KLUE-MRC entry, and what every entry must hold for the code that enumerates the registry."""

from pathlib import Path

import pytest
from conftest import ROOT

from korsquad.common.errors import UsageError
from korsquad.data import metrics
from korsquad.data.datasets import REGISTRY, get_spec, names

KLUE_RAW = "https://raw.githubusercontent.com/KLUE-benchmark/KLUE/main/klue_benchmark/klue-mrc-v1.1/"


def test_klue_mrc_entry():
    spec = get_spec("klue_mrc")
    assert (spec.family, spec.language, spec.has_unanswerable, spec.reader.context_format) == (
        "klue", "ko", True, "text")
    assert (spec.metric, spec.metric.primary_key, spec.id_field) == (metrics.KLUE_MRC, "rouge_w", "guid")
    assert spec.question_types == {1: "paraphrase", 2: "multi-sentence reasoning", 3: "unanswerable"}
    assert [(f.url, f.dest, f.split, f.size, f.sha256) for f in spec.files] == [
        (KLUE_RAW + "klue-mrc-v1.1_train.json", "train.json", "train", None, None),
        (KLUE_RAW + "klue-mrc-v1.1_dev.json", "dev.json", "dev", None, None),
    ]
    assert not spec.multi_part and spec.download_by_default
    assert spec.split_path("data", "dev") == Path("data/klue_mrc/dev.json")


def test_klue_mrc_defaults_are_the_klue_baselines_with_a_note_for_each():
    spec = get_spec("klue_mrc")
    korquad = get_spec("korquad_v1.0").defaults
    assert spec.defaults == dict(korquad, max_seq_length=510, learning_rate=3e-5, num_train_epochs=5, batch_size=16)
    assert set(spec.defaults) <= set(spec.notes)
    assert "run_all.sh" in spec.notes["learning_rate"] and "rouge_w" in spec.notes["primary_metric"]
    assert spec.adam_epsilon("koelectra") == 1e-6 and spec.adam_epsilon("bert") == 1e-8


def test_every_entry_has_a_metric_whose_result_holds_its_primary_key():
    golds, predictions = {"q1": ["서울"], "q2": ["부산"]}, {"q1": "서울", "q2": "대구"}
    for spec in REGISTRY.values():
        assert spec.metric in metrics.METRICS, spec.name
        result = spec.metric.score(golds, predictions)
        assert isinstance(result[spec.metric.primary_key], float), spec.name
        assert result[spec.metric.primary_key] == 50.0, spec.name


def test_every_family_has_its_download_script_and_its_own_names():
    families = {spec.family for spec in REGISTRY.values()}
    assert families == {"squad", "korquad", "klue"}
    for family in families:
        assert (ROOT / f"download_{family}.py").is_file(), family
    assert names("klue") == ["klue_mrc"]
    assert sorted(sum((names(f) for f in families), [])) == sorted(REGISTRY)


def test_the_registry_owns_the_data_folder_and_where_each_split_lands():
    squad, korquad2 = get_spec("squad_v2.0"), get_spec("korquad_v2.1")
    assert squad.data_folder("data") == Path("data/squad_v2.0")
    assert squad.split_path("data", "train") == Path("data/squad_v2.0/train.json")
    assert korquad2.split_path("data", "dev") == Path("data/korquad_v2.1/dev")  # the folder its parts land in
    (part, *_) = korquad2.files_for("dev")
    assert korquad2.file_path("data", part) == Path("data/korquad_v2.1/dev") / Path(part.dest).name


def test_unknown_data_name_lists_the_registry():
    with pytest.raises(UsageError, match="klue_mrc"):
        get_spec("klue")
