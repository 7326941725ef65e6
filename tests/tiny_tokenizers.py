"""Small tokenizers trained offline inside the tests: a KoBERT-style sentencepiece tokenizer, DeBERTa-v2 / XLNet /
ALBERT sentencepiece tokenizers (slow and fast) and a RoBERTa-style byte-level BPE tokenizer (the real ones would
need a download)."""

import io
import json
import random
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
KOBERT_SPECIALS = ["[UNK]", "[PAD]", "[CLS]", "[SEP]", "[MASK]"]  # KoBERT's vocab.txt starts with these


def squad_contexts(path, limit=None):
    """Unique contexts of a SQuAD-format file, in file order."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    contexts = list(dict.fromkeys(p["context"] for article in data for p in article["paragraphs"]))
    return contexts[:limit]


def train_sentencepiece(texts, vocab_size, model_type="unigram", **options):
    """The bytes of a sentencepiece model trained on `texts` (single-threaded, so the same texts give the same
    model). character_coverage < 1 leaves rare characters out, so some pieces are unknown to the vocabulary."""
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(texts), model_writer=model, vocab_size=vocab_size,
                                   model_type=model_type, character_coverage=0.9995, hard_vocab_limit=False,
                                   num_threads=1, minloglevel=2, **options)
    return model.getvalue()


def train_kobert(folder, texts, vocab_size, pieces=(), algorithm="bpe", shuffle_vocab=False):
    """A KoBertTokenizer over a sentencepiece model (`algorithm` "bpe" or "unigram") trained on `texts` (KoBERT's
    file names and vocab.txt), with rare characters unknown to the vocabulary, as with the real KoBERT on KorQuAD.
    `pieces` are made pieces wherever they occur (to glue a particle to a word as a bigger vocabulary does);
    `shuffle_vocab` orders vocab.txt unlike the sentencepiece ids, as KoBERT's is."""
    import sentencepiece as spm

    from korsquad.features.tokenization import kobert_tokenizer_class

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = train_sentencepiece(texts, vocab_size, algorithm, user_defined_symbols=list(pieces))
    (folder / "tokenizer_78b3253a26.model").write_bytes(model)
    processor = spm.SentencePieceProcessor(model_proto=model)
    pieces = [processor.id_to_piece(i) for i in range(processor.get_piece_size())
              if not (processor.is_control(i) or processor.is_unknown(i))]
    if shuffle_vocab:
        random.Random(0).shuffle(pieces)
    (folder / "vocab.txt").write_text("\n".join(KOBERT_SPECIALS + pieces) + "\n", encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "KoBertTokenizer"}))
    return kobert_tokenizer_class().from_pretrained(str(folder))


# Per model type: the tokenizer classes, the special tokens they expect in the vocabulary and their unknown piece.
SENTENCEPIECE_MODELS = {
    "deberta-v2": ("DebertaV2Tokenizer", "DebertaV2TokenizerFast", ["[CLS]", "[SEP]", "[PAD]", "[MASK]"], "[UNK]"),
    "xlnet": ("XLNetTokenizer", "XLNetTokenizerFast", ["<sep>", "<cls>", "<pad>", "<mask>"], "<unk>"),
    "albert": ("AlbertTokenizer", "AlbertTokenizerFast", ["[CLS]", "[SEP]", "<pad>", "[MASK]"], "<unk>"),
}


def train_sentencepiece_pair(folder, texts, model_type, vocab_size=800):
    """(slow, fast) tokenizers of `model_type` (a key of SENTENCEPIECE_MODELS) over one unigram sentencepiece
    model trained on `texts`; the fast one is converted from the model file, as transformers does for a
    checkpoint without tokenizer.json."""
    import transformers

    slow_name, fast_name, specials, unknown = SENTENCEPIECE_MODELS[model_type]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = train_sentencepiece(texts, vocab_size, control_symbols=specials, unk_piece=unknown)
    (folder / "spiece.model").write_bytes(model)
    path = str(folder / "spiece.model")
    return getattr(transformers, slow_name)(path), getattr(transformers, fast_name)(vocab_file=path)


def train_byte_bpe(folder, texts, vocab_size=600):
    """RoBERTa-style (slow, fast) tokenizers over a byte-level BPE trained on `texts`."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaTokenizer, RobertaTokenizerFast

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=vocab_size, min_frequency=1, show_progress=False,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save_model(str(folder))
    vocab, merges = str(folder / "vocab.json"), str(folder / "merges.txt")
    return RobertaTokenizer(vocab, merges), RobertaTokenizerFast(vocab, merges)
