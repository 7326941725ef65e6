"""What tests/unit/training/test_ddp.py and tests/e2e/test_ddp.py share."""

import pytest
from conftest import FIXTURES, data_dir_with


@pytest.fixture()
def squad_dir(tmp_path):
    tiny = FIXTURES / "squad_v1_tiny.json"
    return data_dir_with(tmp_path, "squad_v1.1", tiny, tiny)

