"""What tests/unit/config/test_options.py and tests/e2e/test_options.py share."""




BASE = ["--model_type", "bert", "--model_name_or_path", "some/model", "--data_name", "squad_v1.1"]

