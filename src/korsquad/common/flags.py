"""Flag spelling on every command line: `--learning-rate` is `--learning_rate`, and an unknown flag is answered with
the flags it most likely meant (`--epochs` -> `--num_train_epochs`). Prefix abbreviations are not accepted
(korsquad.common.errors.ArgumentParser turns argparse's off): a flag added later would silently change their meaning."""

import difflib

MAX_SUGGESTIONS = 3


def underscored(argv, flags):
    """argv with each dashed spelling of a known `--flag_name` (`--flag-name`, `--flag-name=value`) replaced by the
    flag; values and everything after `--` are left alone."""
    out = []
    for i, arg in enumerate(argv):
        if arg == "--":
            return out + list(argv[i:])
        name, sep, value = arg.partition("=")
        if name.startswith("--") and name not in flags:
            candidate = "--" + name[2:].replace("-", "_")
            if candidate in flags:
                arg = candidate + sep + value
        out.append(arg)
    return out


def suggestions(unknown, flags):
    """Up to MAX_SUGGESTIONS known flags an unknown `--flag` may have meant, best first: the flag whose initials it
    is (`--lr`), flags whose words its words begin (`--epochs`, `--learn`, `--num_epochs`), then close spellings."""
    name = unknown.lstrip("-").replace("-", "_").lower()
    names = [flag[2:] for flag in flags if flag.startswith("--")]
    words = [w for w in name.split("_") if w]
    initials = [n for n in names if len(name) > 1 and "".join(w[0] for w in n.split("_") if w) == name]
    by_words = sorted((n for n in names if words and _words_begin(words, n.split("_"))),
                      key=lambda n: -difflib.SequenceMatcher(None, name, n).ratio())
    close = difflib.get_close_matches(name, names, n=MAX_SUGGESTIONS, cutoff=0.6)
    return ["--" + n for n in dict.fromkeys([*initials, *by_words, *close])][:MAX_SUGGESTIONS]


def _words_begin(words, flag_words):
    """Whether each word begins a different word of the flag."""
    left = list(flag_words)
    for word in words:
        match = next((w for w in left if w.startswith(word)), None)
        if match is None:
            return False
        left.remove(match)
    return True


def unknown_message(extras, flags):
    """One line for argparse's leftover arguments: each unknown flag with what it may have meant."""
    unknown = [arg.partition("=")[0] for arg in extras if arg.startswith("-") and len(arg) > 1
               and not _is_number(arg)]
    if not unknown:
        return f"unrecognized arguments: {' '.join(extras)}"
    parts = []
    for flag in unknown:
        meant = suggestions(flag, flags)
        parts.append(f"{flag} (did you mean {_or(meant)}?)" if meant else flag)
    return f"unknown flag{'s' if len(parts) > 1 else ''} {'; '.join(parts)}; see --help"


def _or(items):
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True
