"""--logger: the names the config accepts, the extras a missing package names (before any model loads), and one
training whose scalars and settings are read back from TensorBoard, CSV and (with the test extra) MLflow."""

import pytest

from korsquad.common.errors import UsageError
from korsquad.config.runconfig import resolve
from korsquad.training.loggers import check_installed, check_logger_names, logger_names


def test_logger_names_are_checked_by_the_config(tiny_bert):
    base = ["--model_type", "bert", "--model_name_or_path", str(tiny_bert), "--data_name", "squad_v1.1",
            "--do_train"]
    assert resolve(base).logger == "tensorboard"
    assert logger_names(resolve([*base, "--logger", "csv, tensorboard,csv"]).logger) == ["csv", "tensorboard"]
    assert check_logger_names("tensorboard,csv,wandb,mlflow") is None
    assert logger_names(resolve([*base, "--logger", "none"]).logger) == []
    with pytest.raises(UsageError, match=r"^--logger must be none or comma-separated names from tensorboard, csv, "
                                         r"wandb, mlflow \('neptune' unknown\), not tensorboard,neptune$"):
        resolve([*base, "--logger", "tensorboard,neptune"])
    with pytest.raises(UsageError, match=r"^--logger must be none alone \(no logger\) or names of loggers, "
                                         r"not csv,none$"):
        resolve([*base, "--logger", "csv,none"])
    with pytest.raises(UsageError, match="^--logger must be"):
        resolve([*base, "--logger", " , "])


def test_log_model_needs_a_logger_that_stores_files(tiny_bert):
    base = ["--model_type", "bert", "--model_name_or_path", str(tiny_bert), "--data_name", "squad_v1.1",
            "--do_train", "--log_model"]
    assert resolve([*base, "--logger", "csv,mlflow"]).log_model
    assert not resolve(base[:-1]).log_model  # off by default
    with pytest.raises(UsageError, match=r"^--log_model sends the run's files to wandb or mlflow: add one to "
                                         r"--logger \(now tensorboard,csv\)$"):
        resolve([*base, "--logger", "tensorboard,csv"])


def test_a_missing_package_names_its_extra():
    absent = lambda module: None  # noqa: E731  (find_spec of a package that is not installed)
    check_installed("tensorboard,csv", find_spec=absent)  # always installed: nothing to find
    with pytest.raises(UsageError, match=r"^--logger wandb needs the wandb package: pip install 'korsquad\[wandb\]'$"):
        check_installed("csv,wandb", find_spec=absent)
