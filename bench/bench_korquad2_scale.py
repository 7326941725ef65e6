"""KorQuAD 2.x at full scale on CPU: a synthetic dev set through cached features, evaluation post-processing on
random logits and the official metric, with the time and peak RSS of every phase.

    python bench/bench_korquad2_scale.py                 # 10,000 questions over 1,000 documents (about a minute)
    python bench/bench_korquad2_scale.py --scale 0.02    # 20 documents, 200 questions: a quick check

1. generate  1,000 Wikipedia-like documents of about 15,000 characters of HTML each (the size the issue asks for;
             markup makes up about 57% of it, 60-63% in the real sample documents' `context`): Korean-looking
             text from a pseudo lexicon with Zipf frequencies, links, entities, an infobox, data tables, lists,
             footnotes, and a `raw_html` field (which the readers ignore) as the real files carry. Ten questions
             per document, their answers placed in the HTML: four links in paragraphs, two table cells, a whole
             row, a whole list, a whole paragraph and a whole table (a mix of our choosing, not measured).
             Written as two parts in `<tmp>/korquad_v2.1/dev/`, as download_korquad.py extracts the real ones.
2. tokenizer A WordPiece vocabulary (8,000 pieces, like KoBERT's 8,002) trained on the text of the first documents,
             used as BertTokenizerFast without lower-casing or accent stripping, so Hangul syllables stay whole:
             MiniLM's English uncased vocabulary would split every syllable into jamo (or [UNK]) and triple the
             token count. The result, about 2 characters per token, is what a WordPiece vocabulary trained on real
             Korean Wikipedia text (KorQuAD 1.0 dev) gives on the real KorQuAD 2.1 sample documents (1.8-2.2).
3. features  QADataModule.prepare_data: examples read from the parts, features built in chunks of
             KORSQUAD_CHUNK_EXAMPLES examples and merged by korsquad.features.cache into memory-mapped .npy columns
             (max_seq_length 512, doc_stride 128, max_query_length 64: the KorQuAD defaults).
4. load      QADataModule.setup: the cache verified (sha256 of every column) and memory-mapped, examples read again.
5. logits    What evaluation hands to the post-processing: random float32 logits per length-sorted batch (the
             module's validation outputs, padded to a multiple of 8), trimmed per feature and assembled with
             korsquad.decoding.inference.assemble_logits. The batch outputs stay referenced until the files are written,
             as they do in QAModule.on_validation_epoch_end.
6. decode    korsquad.decoding.postprocess.decode over the memory-mapped features (n_best_size 20, max_answer_length
256).
7. score     The KorQuAD 2.0 metric (korsquad.data.scoring.evaluate_predictions).
8. write     predictions_eval.json, nbest_predictions_eval.json and result.json
(korsquad.decoding.postprocess.write_outputs).

Every phase prints its seconds, the peak RSS so far (ru_maxrss, what the 6 GiB limit is about), the highest
anonymous and file-page RSS during the phase (memory-mapped cache columns count as RSS once read, but the kernel
can drop those pages) and the RSS after it. The answer-length distribution in tokens (from the
evaluation labels) is printed by answer kind. The last line is one JSON object.
"""

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from memory import peak_rss_mb, rss_now_mb  # noqa: E402

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

DOCUMENTS, HTML_CHARS = 1000, 15_000
WINDOW = dict(max_seq_length=512, doc_stride=128, max_query_length=64)
DECODE = dict(n_best_size=20, max_answer_length=256)
EVAL_BATCH_SIZE = 64
VOCAB_SIZE = 8000
LIMIT_MB = 6 * 1024
# Answer kinds and how many of a document's ten questions ask for each.
ANSWER_MIX = {"phrase": 4, "cell": 2, "row": 1, "list": 1, "paragraph": 1, "table": 1}
LENGTH_BOUNDS = (30, 64, 128, 256, 384)


# ---------------------------------------------------------------------------------------------------------------
# Memory


class Phases:
    """Times phases and records their memory: the peak RSS so far (ru_maxrss), the RSS at the end, and the
    highest anonymous and file-page RSS seen during the phase (sampled every 20 ms: mapped cache pages are
    file pages the kernel can drop, anonymous memory is what the process really holds)."""

    def __init__(self):
        self.report = {}

    def run(self, name, function, *args):
        highest = {"anon": 0.0, "file": 0.0}
        done = threading.Event()

        def sample():
            while True:
                now = rss_now_mb()
                for key in highest:
                    highest[key] = max(highest[key], now.get(key, 0.0))
                if done.wait(0.02):
                    return

        sampler = threading.Thread(target=sample, daemon=True)
        started = time.perf_counter()
        sampler.start()
        try:
            result = function(*args)
        finally:
            seconds = time.perf_counter() - started
            done.set()
            sampler.join()
        now = rss_now_mb()
        self.report[name] = {"seconds": round(seconds, 2), "peak_rss_mb": round(peak_rss_mb()),
                             "rss_mb": round(now.get("rss", 0)), "highest_anon_mb": round(highest["anon"]),
                             "highest_file_mb": round(highest["file"])}
        print(f"{name:10s} {seconds:7.1f} s   peak RSS {peak_rss_mb():6.0f} MiB   during: anon <= "
              f"{highest['anon']:5.0f}, file <= {highest['file']:5.0f} MiB   after: {now.get('rss', 0):6.0f} MiB",
              flush=True)
        return result


# ---------------------------------------------------------------------------------------------------------------
# Synthetic documents


class Lexicon:
    """Korean-looking words with Zipf frequencies: common ones repeat, rare ones get split into pieces."""

    PARTICLES = ("은", "는", "이", "가", "을", "를", "의", "에", "에서", "으로", "와", "과", "도", "")
    ENDINGS = ("이다.", "했다.", "있다.", "되었다.", "한다.", "였다.")

    def __init__(self, rng, size=60_000, zipf_exponent=0.8):
        self.rng = rng
        initial = rng.choice([0, 2, 3, 5, 6, 7, 9, 11, 12, 14, 15, 16, 17, 18], size=(size, 4))
        medial = rng.choice([0, 4, 8, 13, 18, 20, 1, 5, 6, 12], size=(size, 4))
        final = rng.choice([0, 0, 0, 4, 8, 16, 21, 1, 17], size=(size, 4))
        syllables = 0xAC00 + (initial * 21 + medial) * 28 + final
        lengths = rng.choice([1, 2, 2, 2, 3, 3, 4], size=size)
        self.words = list(dict.fromkeys("".join(map(chr, row[:n])) for row, n in zip(syllables, lengths)))
        weights = 1.0 / np.arange(1, len(self.words) + 1) ** zipf_exponent
        self.cumulative = np.cumsum(weights) / weights.sum()

    def word(self):
        return self.words[min(int(np.searchsorted(self.cumulative, self.rng.random())), len(self.words) - 1)]

    def phrase(self, n):
        return " ".join(self.word() for _ in range(n))

    def sentence(self):
        """A sentence with <a> links, numbers, an entity now and then, and a footnote mark; returns (html,
        [link texts])."""
        pieces, found = [], []
        for _ in range(int(self.rng.integers(6, 15))):
            roll = self.rng.random()
            if roll < 0.3:
                text = self.phrase(int(self.rng.integers(1, 3)))
                pieces.append(f"<a>{text}</a>{self.rng.choice(self.PARTICLES)}")
                found.append(f"<a>{text}</a>")
            elif roll < 0.37:
                pieces.append(f"<a>{int(self.rng.integers(1900, 2020))}년</a>")
            elif roll < 0.41:
                pieces.append(f"<span><b>{int(self.rng.integers(1, 999)):,}만</b> 명</span>")
            elif roll < 0.43:
                pieces.append(f"{self.word()} &amp; {self.word()}")
            else:
                pieces.append(self.word() + self.rng.choice(self.PARTICLES))
        sentence = " ".join(pieces) + " " + self.word() + self.rng.choice(self.ENDINGS)
        return sentence + f"<sup><a>[{int(self.rng.integers(1, 30))}]</a></sup>", found


class Page:
    """Builds one HTML page and remembers where answer candidates are: kind -> [(start, end)] in the page."""

    def __init__(self):
        self.parts, self.length = [], 0
        self.candidates = {kind: [] for kind in ANSWER_MIX}

    def add(self, html, kind=None):
        """Append html; mark it as an answer candidate of `kind` when given."""
        if kind is not None:
            self.candidates[kind].append((self.length, self.length + len(html)))
        self.parts.append(html)
        self.length += len(html)

    def html(self):
        return "".join(self.parts)


def paragraph(lexicon, page, sentences):
    body, links = zip(*(lexicon.sentence() for _ in range(sentences)))
    page.add("<div></div>\n<div><span></span></div>\n")  # the empty layout blocks real pages are full of
    html = "<p>" + " ".join(body) + "\n</p>"
    start = page.length
    page.add(html, "paragraph")
    for link in (link for found in links for link in found):
        offset = html.index(link)
        page.candidates["phrase"].append((start + offset, start + offset + len(link)))


def data_table(lexicon, page, rng):
    columns, rows = int(rng.integers(3, 6)), int(rng.integers(4, 12))
    header = "<tr>" + "".join(f"<th>{lexicon.word()}</th>" for _ in range(columns)) + "</tr>\n"
    body = []
    for _ in range(rows):
        cells = [f"<td>{int(rng.integers(1950, 2020))}</td>"] + [
            f"<td>{lexicon.phrase(int(rng.integers(1, 4)))}</td>" for _ in range(columns - 1)]
        body.append("<tr>" + "".join(cells) + "</tr>\n")
    table_start = page.length
    page.add("<table><tbody>" + header)
    for row in body:
        row_start = page.length
        page.add(row, "row")
        cell = row.split("</td>")[int(rng.integers(1, columns))] + "</td>"
        page.candidates["cell"].append((row_start + row.index(cell), row_start + row.index(cell) + len(cell)))
    page.add("</tbody></table>\n")
    page.candidates["table"].append((table_start, page.length - 1))


def item_list(lexicon, page, rng):
    items = "".join(f"<li>{lexicon.phrase(int(rng.integers(2, 6)))}</li>\n" for _ in range(int(rng.integers(3, 9))))
    page.add(f"<ul>\n{items}</ul>", "list")
    page.add("\n")


def document(lexicon, rng):
    """(title, html, raw_html, candidates) of one page of about HTML_CHARS characters."""
    title = lexicon.phrase(2)
    page = Page()
    page.add(f"<!DOCTYPE html>\n<html>\n<head>\n<meta>\n<title>{title} - 위키백과, 우리 모두의 백과사전</title>\n"
             + "<link>\n" * 12 + "</head>\n<body>\n<div></div>\n<div>\n")
    page.add(f"<h1>{title}</h1>\n<div>위키백과, 우리 모두의 백과사전.</div>\n<a>둘러보기로 가기</a>\n")
    infobox = "".join(f"<tr><th>{lexicon.word()}</th>\n<td>\n<a>{lexicon.phrase(2)}</a></td></tr>"
                      for _ in range(int(rng.integers(5, 10))))
    page.add(f'<table><tbody><tr><th colspan="2">{title}</th></tr>{infobox}\n</tbody></table>\n')
    paragraph(lexicon, page, 3)
    target = HTML_CHARS * rng.uniform(0.8, 1.1)  # the last section overshoots by about 1,000 characters
    while page.length < target:
        page.add(f"<h2><span></span><span>{lexicon.phrase(2)}</span><span><span>[</span><a>편집</a>"
                 "<span>]</span></span></h2>\n")
        for _ in range(int(rng.integers(1, 4))):
            paragraph(lexicon, page, int(rng.integers(2, 6)))
        roll = rng.random()
        if roll < 0.5:
            data_table(lexicon, page, rng)
        elif roll < 0.8:
            item_list(lexicon, page, rng)
    page.add("<h2><span>각주</span></h2>\n<ol>\n" + "".join(
        f"<li><span><a>↑</a></span> <span><cite>{lexicon.phrase(4)}</cite>. {int(rng.integers(2000, 2020))}년에 "
        "확인함.</span>\n</li>\n" for _ in range(6)) + "</ol>\n</div>\n</body>\n</html>\n")
    html = page.html()
    raw_html = re.sub(r"<(a|div|span|td|th|table|li|p)>", r'<\1 class="mw-\1" data-x="wiki">', html)
    return title, html, raw_html, page.candidates


def questions(lexicon, rng, number, title, html, candidates):
    qas = []
    for kind, count in ANSWER_MIX.items():
        kind = kind if candidates[kind] else "phrase"  # a page without a table or a list asks for phrases instead
        pool = candidates[kind]
        for pick in rng.choice(len(pool), size=count, replace=len(pool) < count):
            start, end = pool[int(pick)]
            qas.append({"id": f"{number:05d}-{kind}-{len(qas)}",
                        "question": f"{title}에서 {lexicon.phrase(int(rng.integers(3, 8)))}{lexicon.word()}은 무엇인가?",
                        "answer": {"text": html[start:end], "answer_start": start}})
    return qas


def generate(folder, n_documents, seed=0):
    """Write the synthetic dev set as two parts in `folder`; returns the readable texts of the first documents."""
    from korsquad.data.html_text import html_to_text

    rng = np.random.default_rng(seed)
    lexicon = Lexicon(rng)
    folder.mkdir(parents=True)
    documents, training_texts = [], []
    for number in range(n_documents):
        title, html, raw_html, candidates = document(lexicon, rng)
        documents.append({"title": title, "url": f"https://ko.wikipedia.org/wiki/{title}", "context": html,
                          "raw_html": raw_html, "qas": questions(lexicon, rng, number, title, html, candidates)})
        if number < 200:
            training_texts.append(html_to_text(html)[0])
    half = (len(documents) + 1) // 2
    for part, chunk in enumerate((documents[:half], documents[half:])):
        (folder / f"KorQuAD_2.1_dev_{part:02d}.json").write_text(
            json.dumps({"version": "KorQuAD_2.1", "data": chunk}, ensure_ascii=False), encoding="utf-8")
    html_chars = [len(d["context"]) for d in documents]
    return training_texts, {"documents": len(documents), "questions": sum(len(d["qas"]) for d in documents),
                            "mean_html_chars": round(float(np.mean(html_chars))),
                            "mean_text_chars": round(float(np.mean([len(t) for t in training_texts])))}


def train_tokenizer(texts, folder):
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertTokenizerFast

    wordpiece = BertWordPieceTokenizer(lowercase=False, strip_accents=False, clean_text=True)
    wordpiece.train_from_iterator(texts, vocab_size=VOCAB_SIZE, min_frequency=2, show_progress=False)
    folder.mkdir(parents=True)
    wordpiece.save_model(str(folder))
    tokenizer = BertTokenizerFast(str(folder / "vocab.txt"), do_lower_case=False, strip_accents=False)
    tokenizer.model_max_length = 512
    return tokenizer


# ---------------------------------------------------------------------------------------------------------------
# The pipeline


def random_batch_logits(features, rng):
    """Validation outputs as QAModule keeps them: per length-sorted batch, padded float32 logits trimmed to views
    per feature (the padded arrays stay alive through the views)."""
    from korsquad.features.batching import length_sorted_shard

    lengths = np.diff(features.row_splits)
    batches = []
    for indices in length_sorted_shard(lengths, EVAL_BATCH_SIZE, 0, 1):
        indices = np.asarray(indices)
        width = int(-(-lengths[indices].max() // 8) * 8)
        start = rng.standard_normal((len(indices), width), dtype=np.float32)
        end = rng.standard_normal((len(indices), width), dtype=np.float32)
        batches.append((indices, [start[i, :n] for i, n in enumerate(lengths[indices])],
                        [end[i, :n] for i, n in enumerate(lengths[indices])]))
    return batches


def answer_lengths(features, examples):
    """Per answer kind: the answer's length in tokens (from the first window labeling it), and how many answers
    no window labels (longer than a window's context can hold, given the window starts)."""
    labeled = np.flatnonzero(features.start_positions != features.cls_index)
    first = labeled[np.unique(features.example_index[labeled], return_index=True)[1]]
    lengths = dict(zip(features.example_index[first].tolist(),
                       (features.end_positions[first] - features.start_positions[first] + 1).tolist()))
    by_kind = {}
    for index, example in enumerate(examples):
        kind = example.id.split("-")[1]
        by_kind.setdefault(kind, []).append(lengths.get(index))
    by_kind["all"] = [length for values in list(by_kind.values()) for length in values]
    return {kind: summary(values) for kind, values in by_kind.items()}


def summary(values):
    found = np.asarray([v for v in values if v is not None])
    out = {"answers": len(values), "in_no_window": len(values) - len(found)}
    if len(found):
        out.update({f"p{p}": int(np.percentile(found, p)) for p in (50, 90, 99)}, max=int(found.max()))
        out.update({f"share_le_{b}": round(float(np.mean(found <= b)), 4) for b in LENGTH_BOUNDS})
    return out


def pipeline():
    """The toolkit's evaluation modules (torch and Lightning come with the DataModule, as in run_qa.py)."""
    from korsquad.data.scoring import evaluate_predictions
    from korsquad.decoding import inference, postprocess
    from korsquad.training.datamodule import CHUNK_EXAMPLES, QADataModule

    return inference, postprocess, evaluate_predictions, QADataModule, CHUNK_EXAMPLES


def run(work, n_documents):
    from korsquad.data.datasets import get_spec  # light: the registry, not the pipeline the "imports" phase times

    phases = Phases()
    data_dir, spec = work / "data", get_spec("korquad_v2.1")
    texts, data = phases.run("generate", generate, spec.split_path(data_dir, "dev"), n_documents)
    tokenizer = phases.run("tokenizer", train_tokenizer, texts, work / "tokenizer")
    data["chars_per_token"] = round(sum(map(len, texts)) / sum(
        len(ids) for ids in tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]), 2)

    inference, postprocess, evaluate_predictions, QADataModule, CHUNK_EXAMPLES = phases.run("imports", pipeline)
    from korsquad.runs.folder import RunFolder
    from korsquad.runs.settings import WindowSettings

    module = QADataModule(spec, tokenizer, train=False, eval_split="dev", data_dir=data_dir,
                          batch_size=16, eval_batch_size=EVAL_BATCH_SIZE, seed=0, negative_window_ratio=1.0,
                          window=WindowSettings(**WINDOW))
    phases.run("features", module.prepare_data)
    phases.run("load", module.setup)
    examples, features = module.examples["dev"], module.features["dev"]
    data.update(features=len(features), tokens=features.num_tokens,
                windows_per_question=round(len(features) / len(examples), 1),
                answer_windows_per_question=round(int(np.sum(features.start_positions != features.cls_index))
                                                  / len(examples), 1),
                cache_mb=round(sum(p.stat().st_size for p in module.cache_folder("dev").iterdir()) / 2**20),
                chunk_examples=CHUNK_EXAMPLES)

    rng = np.random.default_rng(0)
    batches = phases.run("logits", random_batch_logits, features, rng)
    start, end = phases.run("assemble", inference.assemble_logits, features, batches)
    decoded = phases.run("decode", lambda: postprocess.decode(features, examples, start, end, **DECODE))
    data["predicted_questions"] = len(decoded.predictions)
    data["predictions_in_their_html"] = all(decoded.predictions[ex.id] in ex.context for ex in examples)
    result = phases.run("score", evaluate_predictions, examples, decoded.predictions,
                        module.spec.metric)
    phases.run("write", postprocess.write_outputs, RunFolder(work / "run"), decoded, result)
    del batches  # held until here, as QAModule holds its validation outputs until the evaluator returns

    lengths = answer_lengths(features, examples)
    print("answer length in tokens, by kind:")
    for kind, stats in lengths.items():
        print(f"  {kind:10s} {json.dumps(stats)}")
    peak = peak_rss_mb()
    print(f"peak RSS {peak:.0f} MiB ({'under' if peak < LIMIT_MB else 'OVER'} the {LIMIT_MB} MiB limit)")
    return {"peak_rss_mb": round(peak), "under_6_gib": peak < LIMIT_MB,
            "total_seconds": round(sum(p["seconds"] for p in phases.report.values()), 1), "data": data,
            "result": result, "phases": phases.report, "answer_length_tokens": lengths}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="fraction of the 1,000 documents to generate (10 questions each; default 1.0)")
    parser.add_argument("--work_dir", help="keep the generated data, cache and outputs here (default: a temporary "
                                           "folder, removed at the end)")
    args = parser.parse_args(argv)
    n_documents = max(1, round(DOCUMENTS * args.scale))
    work = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="korquad2_scale_"))
    if args.work_dir and work.exists() and any(work.iterdir()):
        parser.error(f"--work_dir {work} is not empty")
    try:
        report = run(work, n_documents)
    finally:
        if not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
