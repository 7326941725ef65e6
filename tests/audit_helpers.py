"""What tests/unit/features/test_audit.py and tests/e2e/test_audit.py share."""

from conftest import FIXTURES, minilm_path


AUDIT_FLAGS = {"--data_name": "squad_v1.1", "--model_type": "bert", "--model_name_or_path": str(minilm_path()),
               "--max_seq_length": "160", "--doc_stride": "64"}


def audit_argv(path=FIXTURES / "squad_v1_tiny.json", **changed):
    flags = dict(AUDIT_FLAGS, **{f"--{name}": value for name, value in changed.items()})
    return [*[item for pair in flags.items() for item in pair], str(path)]

