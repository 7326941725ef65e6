"""The run's configuration: every flag of run_qa.py, --config files, the one resolved RunConfig.

    options    every flag: its type, default, help and check; `--help`, `--config` files and the README's flag table
               made from them
    runconfig  the one resolved configuration: flags, `--config` file, the training's settings, defaults, every
               check
"""

from ..common.exports import lazy_exports

# The names other stages and users import, each loaded with its module on first use (importing the package
# alone loads none of its modules).
__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "options": ["BY_NAME", "replay_settings", "typed_settings"],
    "runconfig": ["default_run_name", "is_plain_name", "resolve", "resolve_offline", "with_late_defaults"],
})
