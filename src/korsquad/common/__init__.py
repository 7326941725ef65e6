"""What every stage uses: one error line and exit status 2, flag spelling, JSON files, console output, the CPU's
settings.

    errors   one error line and exit status 2 for bad input, shared by every command
    flags    dashed flag spellings and "did you mean" for unknown flags
    jsonio   JSON read with errors that name the file, atomic writes, a file's sha256
    console  `--log_level`: the toolkit's lines on stdout/stderr, library noise kept at debug
    cpu      whether this CPU computes bfloat16 natively, and the batch widths that suit it
    exports  package faces that load a module only when one of its names is asked for
"""

from .exports import lazy_exports

# The names other stages and users import, each loaded with its module on first use (importing the package
# alone loads none of its modules).
__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "console": ["LEVELS", "log"],
    "cpu": ["precision_here", "precision_line", "width_multiple"],
    "errors": ["ArgumentParser", "UsageError", "exit_on_usage_error", "first_line", "program_name"],
    "flags": ["suggestions"],
    "jsonio": ["atomic_write_bytes", "atomic_write_json", "file_digest", "jsonl_objects", "load_json", "load_record",
               "ordinary_file_mode", "ordinary_folder_mode", "write_json_lines"],
})
