"""Starting a cell's process with more in its environment than the runner puts there: a search trial's link to
its study (korsquad.pruning), a SLURM job's changes (korsquad.experiments.slurm). The runner takes how to start
a process as `spawn` (subprocess.Popen's signature); this is one."""

import subprocess


class EnvSpawn:
    """subprocess.Popen with `extra` laid over the environment it is given (a value None removes the variable);
    `on_launch(argv)`, when given, hears each command before it starts."""

    def __init__(self, extra, on_launch=None, popen=subprocess.Popen):
        self.extra = dict(extra)
        self.on_launch = on_launch
        self.popen = popen

    def __call__(self, argv, **kwargs):
        kwargs["env"] = amended(kwargs.get("env"), self.extra)
        if self.on_launch is not None:
            self.on_launch(list(argv))
        return self.popen(argv, **kwargs)


def amended(env, extra):
    import os

    result = dict(os.environ if env is None else env)
    for name, value in extra.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = value
    return result
