"""Small tokenizers trained offline inside the tests: a KoBERT-style sentencepiece tokenizer and a RoBERTa-style
byte-level BPE tokenizer (the real ones would need a download)."""

import io
import json
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
KOBERT_SPECIALS = ["[UNK]", "[PAD]", "[CLS]", "[SEP]", "[MASK]"]  # KoBERT's vocab.txt starts with these


def squad_contexts(path, limit=None):
    """Unique contexts of a SQuAD-format file, in file order."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    contexts = list(dict.fromkeys(p["context"] for article in data for p in article["paragraphs"]))
    return contexts[:limit]


def train_kobert(folder, texts, vocab_size):
    """A KoBertTokenizer over a BPE sentencepiece model trained on `texts` (KoBERT's file names and vocab.txt).

    character_coverage < 1 leaves rare characters out, so some pieces are unknown to the vocabulary, as with the
    real KoBERT on KorQuAD."""
    import sentencepiece as spm
    from kobert_transformers.tokenization_kobert import KoBertTokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(texts), model_writer=model, vocab_size=vocab_size,
                                   model_type="bpe", character_coverage=0.9995, hard_vocab_limit=False,
                                   num_threads=1, minloglevel=2)
    (folder / "tokenizer_78b3253a26.model").write_bytes(model.getvalue())
    processor = spm.SentencePieceProcessor(model_proto=model.getvalue())
    pieces = [processor.id_to_piece(i) for i in range(processor.get_piece_size())
              if not (processor.is_control(i) or processor.is_unknown(i))]
    (folder / "vocab.txt").write_text("\n".join(KOBERT_SPECIALS + pieces) + "\n", encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "KoBertTokenizer"}))
    return KoBertTokenizer.from_pretrained(str(folder))


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
