# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
import os

from monai.bundle import ConfigWorkflow

from monai_mamba.bundles import bundle_root


def test_outside_a_workflow_it_is_the_default(tmp_path):
    assert bundle_root(str(tmp_path)) == str(tmp_path)


def test_inside_a_workflow_it_is_the_folder_above_configs(tmp_path, monkeypatch):
    configs = tmp_path / "my_bundle" / "configs"
    configs.mkdir(parents=True)
    (configs / "train.yaml").write_text(
        "imports: ['$import os', '$import monai_mamba.bundles', '$import monai_mamba']\n"
        "bundle_root: $monai_mamba.bundles.bundle_root()\n"
        "run: [\"$os.environ.__setitem__('FOUND_BUNDLE_ROOT', @bundle_root)\"]\n"
    )
    monkeypatch.chdir(tmp_path)  # run from elsewhere, with a relative config path
    monkeypatch.delenv("FOUND_BUNDLE_ROOT", raising=False)
    workflow = ConfigWorkflow(config_file="my_bundle/configs/train.yaml", logging_file=False, workflow_type=None)
    workflow.initialize()
    workflow.run()
    assert os.environ["FOUND_BUNDLE_ROOT"] == str(tmp_path / "my_bundle")
