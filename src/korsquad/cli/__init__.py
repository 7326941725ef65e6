"""The commands: run_qa.py's run from top to bottom.

    run  the run, top to bottom: config, tokenizer, model, data, Trainer, train / evaluate / predict
"""
