"""best_model/ (korsquad.serving.export): KoBERT's fast tokenizer (the same ids as KoBertTokenizer), the exported
folders, and through run_qa.py the folder with its model card (korsquad.serving.model_card) uploaded to a stub of the
Hub (korsquad.serving.hub)."""

import json
import random

import pytest
from export_helpers import KORQUAD, kobert, questions, train_kobert_unigram
from tiny_tokenizers import squad_contexts, train_kobert


# Text the normalizers must treat as KoBertTokenizer does: Python's whitespace (\x1c, \x85, U+3000 ...), `` and '',
# NFKD with the combining marks dropped (accents, a lone acute accent that NFKD turns into a space), full-width
# forms, zero-width and control characters, decomposed Hangul, special tokens inside the text.
EDGE_TEXTS = ["", " ", "  두  칸 \t 띄어\n쓰기  ", "``인용''", "Beyoncé’s naïve café", "a\u0301b ´ c",
              "ｆｕｌｌ　ｗｉｄｔｈ①", "x\u200by\x1cz\x85w\u2028v", "\u1100\u1161\u11a8 각", "가 [MASK] 나 [SEP]",
              "1,240미터 2011년", "ß ﬁ ㍿ Å"]


def random_texts(count, seed=0):
    """Strings of random code points (every plane) mixed with whitespace, quotes, digits, commas, accents, jamo."""
    rng = random.Random(seed)
    tricky = list(" \t\n\u00a0\u3000\u200b\x1c`'´,0123456789éÅﬁ①가각\u1100\u1161\u11a8\u0301")
    def char():
        if rng.random() < 0.5:
            return rng.choice(tricky)
        code = rng.randrange(0x20, 0x30000)
        return chr(code) if not 0xD800 <= code <= 0xDFFF else "a"
    return ["".join(char() for _ in range(rng.randint(1, 30))) for _ in range(count)]


# ---- the fast tokenizer ------------------------------------------------------------------------------------------
def test_fast_tokenizer_gives_kobert_tokenizers_ids(kobert):
    from korsquad.serving.export import kobert_fast_tokenizer

    fast, report = kobert_fast_tokenizer(kobert)
    assert report.problems() == [] and report.vocab_not_in_model == []
    pairs = questions(KORQUAD)
    glued = ["은하에는 다리는", "x에는y", " 에는 ", "은하다리는에는", "다리는?"]
    singles = squad_contexts(KORQUAD) + [q for q, _ in pairs] + EDGE_TEXTS + glued + random_texts(300)
    for text in singles:
        assert fast(text).data == kobert(text).data, text
    contexts = squad_contexts(KORQUAD)
    for question, _ in pairs:
        for context in contexts:  # question with every context: token types, [CLS] A [SEP] B [SEP]
            slow = kobert(question, context)
            assert fast(question, context).data == slow.data
            assert set(slow["token_type_ids"]) == {0, 1}
    encoded = fast(pairs[0][0], pairs[0][1], truncation="only_second", max_length=64, stride=16,
                   return_overflowing_tokens=True, return_offsets_mapping=True)
    assert len(encoded["input_ids"]) > 1 and all(len(ids) <= 64 for ids in encoded["input_ids"])


def test_digit_comma_rule_is_approximated_and_reported(tmp_path):
    """KoBertTokenizer re-splits a piece like "0," into the digits' pieces and ","; no tokenizers component does
    that after segmenting. The conversion names such pieces and keeps them out of the segmentation, so the fast
    tokenizer also never emits one; text whose segmentation does not produce one gets the same ids."""
    from korsquad.serving.export import kobert_fast_tokenizer

    rng = random.Random(1)
    numbers = [f"{rng.randint(0, 10 ** rng.randint(1, 7)):,}," for _ in range(300)]
    texts = [" ".join(numbers[i:i + 8]) + " 명이 모였다." for i in range(0, 300, 8)] * 5
    slow = train_kobert_unigram(tmp_path, texts + squad_contexts(KORQUAD) * 5, vocab_size=400)
    fast, report = kobert_fast_tokenizer(slow)
    assert report.digit_comma_pieces, "the corpus should make pieces ending in a digit and a comma"
    assert any("end in a digit and a comma" in line for line in report.problems())  # printed as a note on export
    pieces = set(report.digit_comma_pieces)
    probe = [f"인구는 {rng.randint(0, 10 ** 6):,}, 면적은 {rng.randint(0, 999)}, {rng.randint(0, 9999)}명"
             for _ in range(200)]
    agree = 0
    for text in probe:
        tokens = fast.tokenize(text)
        assert not pieces & set(tokens)
        raw = slow.sp_model.encode(slow.preprocess_text(text), out_type=str)
        if not pieces & set(raw):  # the rule did not apply: exactly the same ids
            assert fast(text)["input_ids"] == slow(text)["input_ids"], text
        agree += fast(text)["input_ids"] == slow(text)["input_ids"]
    # Measured 100/200: a worst case, 66 such pieces and every probe full of numbers with commas (a vocabulary with
    # two such pieces agreed on 1987/2000 number-heavy texts); none at all on the fixtures' tokenizers above.
    assert agree >= 0.4 * len(probe)


@pytest.mark.parametrize("model_type", ["kobert", "distilkobert"])
def test_exported_kobert_folder_loads_with_auto_tokenizer_and_pipeline(model_type, tmp_path):
    from transformers import (AutoTokenizer, BertConfig, BertForQuestionAnswering, DistilBertConfig,
                              DistilBertForQuestionAnswering, PreTrainedTokenizerFast, pipeline)

    from korsquad.features.tokenization import load_tokenizer
    from korsquad.serving.export import export_model

    train_kobert(tmp_path / "pretrained", squad_contexts(KORQUAD) * 20, vocab_size=300)
    tokenizer = load_tokenizer(model_type, str(tmp_path / "pretrained"))  # as run_qa.py loads it
    if model_type == "kobert":
        model = BertForQuestionAnswering(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                                                    num_attention_heads=2, intermediate_size=64))
    else:
        model = DistilBertForQuestionAnswering(DistilBertConfig(vocab_size=len(tokenizer), dim=32, n_layers=2,
                                                                n_heads=2, hidden_dim=64))
    best = tmp_path / "best_model"
    export_model(model, tokenizer, best, model_type)
    assert {"tokenizer.json", "tokenizer_78b3253a26.model", "vocab.txt", "model.safetensors"} <= \
        {p.name for p in best.iterdir()}

    auto = AutoTokenizer.from_pretrained(best)
    slow = load_tokenizer(model_type, str(best))
    assert isinstance(auto, PreTrainedTokenizerFast) and type(slow).__name__ == "KoBertTokenizer"
    assert auto.model_max_length == 512
    question, context = questions(KORQUAD)[0]
    assert auto(question, context).data == slow(question, context).data  # both take the model's inputs
    assert auto(question, context)["input_ids"] == tokenizer(question, context)["input_ids"]
    assert ("token_type_ids" in auto(question)) == (model_type == "kobert")  # DistilBERT takes none

    answer = pipeline("question-answering", model=str(best))(question=question, context=context)
    assert answer["answer"] and answer["answer"] == context[answer["start"]:answer["end"]]
    assert not answer["answer"][0].isspace()


def test_other_model_types_export_as_before(tiny_bert, tmp_path):
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from korsquad.serving.export import export_model

    model = AutoModelForQuestionAnswering.from_pretrained(tiny_bert)
    export_model(model, AutoTokenizer.from_pretrained(tiny_bert), tmp_path, "bert")
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "BertTokenizer" and (tmp_path / "model.safetensors").is_file()
