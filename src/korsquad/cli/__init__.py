"""The commands: run_qa.py's run from top to bottom, and the `korsquad` command.

    run       the run, top to bottom: config, tokenizer, model, data, Trainer, train / evaluate / predict
    commands  the `korsquad` command: its subcommands, each the `main` of the module that does the job
"""
