"""The data sets: the registry, strict readers, KorQuAD 2.x HTML as text, the official metrics and scoring of prediction
files, verified downloads.

    datasets    the registry: one description per data set (its files and data folder, reader, metric, defaults)
    readers     strict readers, one per file layout (SQuAD JSON, KorQuAD 2.x HTML pages, JSON lines)
    html_text   KorQuAD 2.x HTML -> readable text with a character map
    codepoints  a text's code points and which are whitespace, vectorized
    metrics     the official metrics, each a record (name, result keys, the key that ranks checkpoints, no-answer
                threshold, per-category keys, scoring)
    scoring     a prediction file scored exactly like the official script of its data set
    download    verified downloads: streamed, retried, resumed, checked
    zip_parts   KorQuAD 2.x zip parts: members checked, JSON parts extracted flat, the completion marker
"""

from ..common.exports import lazy_exports

# The names other stages and users import, each loaded with its module on first use (importing the package
# alone loads none of its modules).
__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "codepoints": ["codepoints", "whitespace_mask"],
    "datasets": ["DEFAULT_DATA_DIR", "REGISTRY", "get_spec", "split_file"],
    "download": ["run_cli"],
    "html_text": ["html_to_text", "to_text_span"],
    "metrics": ["KEY_NAMES", "TUNED_FLAG"],
    "readers": ["Example", "SQUAD_JSON", "data_digest", "data_files", "read_examples", "read_split"],
    "scoring": ["check_na_probs", "check_predictions", "evaluate_predictions", "gold_answers"],
})
