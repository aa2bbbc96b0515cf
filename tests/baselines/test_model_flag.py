"""The model choice (``--model``, ``SRSConfig.architecture``): validation,
dispatch, the run directory and the checks of the commands that load a run."""

import dataclasses
import json
import os
import subprocess
import sys

import pytest
from baseline_helpers import TINY
from conftest import REPO

from srs_tf.baselines import BASELINES
from srs_tf.model.summary import component_parameters
from srs_tf.model_config import ARCHITECTURES, SRS_ONLY_ABLATIONS, SRSConfig
from srs_tf.restore import check_model
from srs_tf.run_config import TrainConfig

PY = sys.executable


def _env(**extra):
    return dict(
        os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="", **extra
    )


def test_the_six_systems_of_table_3():
    assert ARCHITECTURES == ("srs", "smn", "dam", "mrfn", "psac", "synergistic")
    assert BASELINES == ARCHITECTURES[1:]
    assert SRSConfig().architecture == "srs"


def test_unknown_model_and_srs_only_ablations_are_refused():
    with pytest.raises(ValueError, match="model='bert' is not one of srs, smn"):
        SRSConfig(architecture="bert")
    for ablation in SRS_ONLY_ABLATIONS:
        with pytest.raises(ValueError, match=f"ablation='{ablation}' removes a part of SRS"):
            SRSConfig(architecture="smn", ablation=ablation)
    # the ablations that concern the shared sticker encoder apply to every model
    for name in BASELINES:
        SRSConfig(architecture=name, ablation="no_pretrain")
        SRSConfig(architecture=name, ablation="no_classify")


def test_old_run_configs_without_the_field_load_as_srs():
    values = TrainConfig(data_dir="d", model_dir="m").to_dict()
    del values["model"]["architecture"]
    assert TrainConfig.from_dict(values).model.architecture == "srs"


def test_check_model_names_both_models_and_the_directory():
    check_model(None, "dam", "RUN")
    check_model("dam", "dam", "RUN")
    with pytest.raises(ValueError, match=r"--model=smn but RUN holds model 'dam'"):
        check_model("smn", "dam", "RUN")


def test_parameter_summary_of_a_baseline():
    rows = component_parameters(dataclasses.replace(TINY, architecture="smn"))
    names = [name for name, _, _ in rows]
    assert names[:2] == [
        "sticker encoder: Inception-v3 (eq. 1)",
        "sticker encoder: emoji classifier",
    ]
    assert all(name.startswith("smn: ") for name in names[2:-1]) and names[-1] == "total"
    assert rows[-1][1] == sum(trainable for _, trainable, _ in rows[:-1])


def _train(tmp_path, *args, keras_home=None):
    env = _env(KERAS_HOME=str(keras_home)) if keras_home else _env()
    return subprocess.run(
        [PY, os.path.join(REPO, "bin", "train"), f"--data_dir={tmp_path}", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_bin_train_records_the_model_before_any_work(tmp_path):
    # No ImageNet file in this Keras cache: bin/train prints the resolved
    # configuration, then stops before reading data or writing RUN.
    result = _train(
        tmp_path, f"--model_dir={tmp_path / 'run'}", "--model=dam", keras_home=tmp_path / "keras"
    )
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("resolved configuration"))
    end = next(i for i in range(start + 1, len(lines)) if lines[i] == "}")
    printed = json.loads("\n".join(lines[start + 1 : end + 1]))
    assert printed["model"]["architecture"] == "dam"
    assert not (tmp_path / "run").exists()


def test_bin_train_refuses_a_bad_model_or_combination(tmp_path):
    result = _train(tmp_path, f"--model_dir={tmp_path / 'run'}", "--model=bert")
    assert result.returncode != 0 and "--model" in result.stderr and "smn" in result.stderr
    result = _train(tmp_path, f"--model_dir={tmp_path / 'run'}", "--model=smn", "--ablation=no_fr")
    assert result.returncode != 0
    assert "ablation='no_fr' removes a part of SRS" in result.stderr
    assert not (tmp_path / "run").exists()
