# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""nnU-Net results folder -> bundle (``python -m monai_mamba.bundles import-nnunet``): clear refusals, the per-network
weights, and prediction parity with nnU-Net's own predictor (nnunetv2, the test extra) on NIfTI images."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
import yaml
from monai.bundle import ConfigParser

from monai_mamba import allocator
from monai_mamba.bundles.nnunet_import import import_nnunet_results
from monai_mamba.bundles.zoo import check_bundle
from monai_mamba.handlers import file_sha256
from monai_mamba.nets import LightMUNet, MambaClinix, SwinUMamba, SwinUMambaD, UMambaBot, UMambaEnc
from monai_mamba.nnunet import NnUNetResults

sys.path.insert(0, str(Path(__file__).parent))
import nnunet_helpers as helpers  # noqa: E402
from test_mambaclinix import OFFICIAL_STATE_DICTS, official_state_dict  # noqa: E402
from test_umamba import OFFICIAL as UMAMBA_OFFICIAL  # noqa: E402

LIGHTM_3D = helpers.architecture([32, 64, 128, 256], [[3, 3, 3]] * 4, [[1, 1, 1], [2, 2, 2], [2, 2, 2], [2, 2, 2]])
CLINIX = OFFICIAL_STATE_DICTS["networks"][0]  # the small plan whose official names the test data lists

URL = "https://example.org/imported/model.pt"  # where a maintainer would publish the imported weights


def _lightm_results(tmp_path, trainer="nnUNetTrainerLightMUNet", configuration="3d_fullres", **plans_changes):
    plans = helpers.plans(configuration, [16, 16, 16], [2.0, 1.0, 1.5], ["CTNormalization"], [False], LIGHTM_3D)
    plans["configurations"][configuration].update(plans_changes)
    net = LightMUNet(3, 1, 2)
    dataset = helpers.dataset_json(["CT"], ["background", "liver"])
    return helpers.write_results(
        tmp_path / "results", trainer, configuration, plans, dataset, {0: net.state_dict()}, (0, 1, 2)
    )


def _import_error(folder, match, **kwargs):
    with pytest.raises((ValueError, FileNotFoundError, FileExistsError, RuntimeError), match=match):
        import_nnunet_results(folder, folder.parent / "bundle", **kwargs)


def test_refusals_name_the_problem_and_the_way_out(tmp_path):
    folder = _lightm_results(tmp_path)
    renamed = folder.with_name("nnUNetTrainerUnknownNet__nnUNetPlans__3d_fullres")
    folder.rename(renamed)
    supported = r"supported trainers: .*nnUNetTrainerLightMUNet.*nnUNetTrainerUMambaBot"
    _import_error(renamed, rf"nnUNetTrainerUnknownNet.*{supported}")
    renamed.rename(folder)
    _import_error(folder, "no fold_3 .*present: fold_0", folds="3")
    _import_error(folder, "trains the network of the 'lightm_unet' bundle, not 'mambaclinix'", bundle="mambaclinix")
    _import_error(folder.parent / "Dataset1_X", "not found")
    (tmp_path / "results" / "bundle").mkdir()
    (tmp_path / "results" / "bundle" / "mine.txt").write_text("work")
    _import_error(folder, "not empty")
    (tmp_path / "results" / "bundle" / "mine.txt").unlink()


@pytest.mark.parametrize(
    "change, match",
    [
        ({"previous_stage": "3d_lowres"}, "cascade stage"),
        ({"normalization_schemes": ["MyNormalization"]}, "MyNormalization.*supported"),
        ({"patch_size": [16, 16, 16, 16]}, "2-D or 3-D networks"),
    ],
)
def test_unsupported_plans_are_refused(tmp_path, change, match):
    _import_error(_lightm_results(tmp_path, **change), match)


def test_other_plans_files_are_refused(tmp_path):
    folder = _lightm_results(tmp_path)
    (folder / "plans.json").unlink()
    (folder / "plans.pkl").write_bytes(b"")
    _import_error(folder, r"no plans.json \(found plans.pkl \(nnU-Net v1")
    (folder / "plans.json").write_text(json.dumps({"plans_per_stage": {}}))
    _import_error(folder, "nnU-Net v2")
    (folder / "plans.json").write_text(
        json.dumps(helpers.plans("3d_fullres", [16] * 3, [1] * 3, ["CTNormalization"], [False], {}))
    )
    dataset = helpers.dataset_json(["CT"], ["background"])
    dataset["labels"] = {"background": 0, "whole": [1, 2]}
    (folder / "dataset.json").write_text(json.dumps(dataset))
    _import_error(folder, "region-based labels")


def test_a_checkpoint_with_pickled_objects_is_refused_with_the_conversion_command(tmp_path):
    folder = _lightm_results(tmp_path)
    path = folder / "fold_0" / "checkpoint_final.pth"
    checkpoint = torch.load(path, weights_only=False)
    checkpoint["init_args"]["trainer"] = Path("a/path")  # an arbitrary object: never unpickled
    torch.save(checkpoint, path)
    _import_error(folder, r"(?s)pickled Python objects.*weights_only=False.*--checkpoint checkpoint_final_weights.pth")
    # the command it prints writes a copy that imports
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"import torch; c = torch.load('{path}', weights_only=False); torch.save({{'network_weights': "
            f"c['network_weights'], 'inference_allowed_mirroring_axes': c.get('inference_allowed_mirroring_axes')}}, "
            f"'{path.with_name('checkpoint_final_weights.pth')}')",
        ],
        check=True,
    )
    import_nnunet_results(folder, tmp_path / "bundle", checkpoint="checkpoint_final_weights.pth")
    assert (tmp_path / "bundle" / "models" / "model.pt").is_file()


def test_weights_of_another_network_are_refused_naming_the_tensors(tmp_path):
    folder = _lightm_results(tmp_path)
    state = LightMUNet(3, 1, 3).state_dict()  # three classes: the head differs from the plans' two
    torch.save({"network_weights": state}, folder / "fold_0" / "checkpoint_final.pth")
    _import_error(folder, r"does not fit the LightMUNet.*other shape \(2\): conv_final")


def test_old_plans_format_of_the_papers_forks_builds_the_same_network(tmp_path):
    """The forks wrote plans of nnU-Net 2.1-2.3 (UNet_base_num_features, pool_op_kernel_sizes, ...)."""
    plans = helpers.plans("3d_fullres", [16, 32, 32], [2.0, 1.0, 1.0], ["CTNormalization"], [False], {})
    configuration = plans["configurations"]["3d_fullres"]
    del configuration["architecture"]
    configuration.update(
        UNet_class_name="PlainConvUNet",
        UNet_base_num_features=32,
        unet_max_num_features=320,
        conv_kernel_sizes=[[1, 3, 3]] + [[3, 3, 3]] * 5,
        pool_op_kernel_sizes=[[1, 1, 1]] + [[1, 2, 2]] + [[2, 2, 2]] * 4,
        n_conv_per_stage_encoder=[2] * 6,
        n_conv_per_stage_decoder=[2] * 5,
    )
    folder = helpers.write_results(
        tmp_path,
        "nnUNetTrainerMambaClinix",
        "3d_fullres",
        plans,
        helpers.dataset_json(["CT"], ["background", "a"]),
        {},
        (),
    )
    network_def = NnUNetResults(folder).network_def()
    assert network_def["features"] == [32, 64, 128, 256, 320, 320]
    assert network_def["kernel_sizes"][0] == [1, 3, 3] and network_def["strides"][1] == [1, 2, 2]
    configuration["n_conv_per_stage_encoder"] = [3] * 6
    (folder / "plans.json").write_text(json.dumps(plans))
    with pytest.raises(ValueError, match="HGCN block only where n_conv_per_stage_encoder is 2"):
        NnUNetResults(folder).network_def()


# -- parity with nnU-Net's predictor ---------------------------------------------------------------------------------


def _lightm_3d():
    """Two channels (CT-normalised, z-scored inside the non-zero mask), anisotropic spacing (separate-z resampling),
    a transposed axis order."""
    net = LightMUNet(3, 2, 3)
    plans = helpers.plans(
        "3d_fullres",
        [16, 16, 16],
        [2.0, 1.0, 1.5],
        ["CTNormalization", "ZScoreNormalization"],
        [False, True],
        LIGHTM_3D,
        transpose=(0, 2, 1),
    )
    rng = np.random.default_rng(0)
    images = [np.zeros((20, 26, 11)), np.zeros((20, 26, 11))]
    images[0][2:18, 3:24, 1:10] = rng.normal(60, 90, size=(16, 21, 9))
    images[1][2:18, 3:24, 1:10] = rng.normal(5, 2, size=(16, 21, 9))
    return "nnUNetTrainerLightMUNet", "3d_fullres", plans, ["CT", "T2"], 3, {0: net}, images, (0.8, 0.9, 2.5)


def _lightm_2d():
    """A 2d model predicting a volume slice by slice, z-scored, two folds (logits averaged)."""
    plans = helpers.plans(
        "2d",
        [16, 16],
        [0.8, 0.8],
        ["ZScoreNormalization"],
        [False],
        helpers.architecture([32, 64, 128, 256], [[3, 3]] * 4, [[1, 1], [2, 2], [2, 2], [2, 2]]),
    )
    image = np.random.default_rng(1).normal(100, 30, size=(24, 20, 5))
    image[6:18, 4:15] += 400  # structure a random network responds to
    return (
        "nnUNetTrainerLightMUNet",
        "2d",
        plans,
        ["MR"],
        2,
        {0: LightMUNet(2, 1, 2), 1: LightMUNet(2, 1, 2)},
        [image],
        (0.7, 0.7, 3.0),
    )


def _mambaclinix():
    """MambaClinix from a checkpoint with the official names (672-style duplicates and skip_scale)."""
    net = MambaClinix(
        3, 2, 3, features=CLINIX["features"], strides=CLINIX["strides"], kernel_sizes=CLINIX["kernel_sizes"]
    )
    plans = helpers.plans(
        "3d_fullres",
        [8, 16, 16],
        [3.0, 1.0, 1.0],
        ["CTNormalization", "ZScoreNormalization"],
        [False, False],
        helpers.architecture(CLINIX["features"], CLINIX["kernel_sizes"], CLINIX["strides"]),
    )
    rng = np.random.default_rng(2)
    images = [rng.normal(40, 70, size=(21, 18, 9)), rng.normal(0, 1, size=(21, 18, 9))]
    images[0][5:15, 4:12, 2:7] += 300  # structure a random network responds to
    images[1][8:20, 2:9] -= 3
    return "nnUNetTrainerMambaClinix", "3d_fullres", plans, ["CT", "PET"], 3, {0: net}, images, (0.9, 1.1, 3.0)


def _umamba(record: dict):
    """U-Mamba from a checkpoint with the official names (``decoder.encoder.*``, ``all_modules`` duplicates): Enc 3-D
    (channel tokens at its last stage) and Bot 2-D (no skip at the finest decoder level)."""

    def case():
        dims, variant = record["spatial_dims"], record["variant"]
        cls = UMambaBot if variant == "Bot" else UMambaEnc
        extra = {"patch_size": record["patch_size"]} if variant == "Enc" else {}
        channels, classes = record["in_channels"], record["out_channels"]
        net = cls(dims, channels, classes, features=record["features"], strides=record["strides"],
                  kernel_sizes=record["kernel_sizes"], deep_supervision=False, **extra)  # fmt: skip
        configuration = "3d_fullres" if dims == 3 else "2d"
        spacing = [3.0, 1.0, 1.0] if dims == 3 else [0.8, 0.8]
        schemes = ["CTNormalization"] + ["ZScoreNormalization"] * (channels - 1)
        architecture = helpers.architecture(record["features"], record["kernel_sizes"], record["strides"])
        plans = helpers.plans(configuration, record["patch_size"], spacing, schemes, [False] * channels, architecture)
        rng = np.random.default_rng(4)
        shape = (21, 18, 9) if dims == 3 else (40, 37, 3)
        images = [rng.normal(40, 70, size=shape)] + [rng.normal(0, 1, size=shape) for _ in range(channels - 1)]
        images[0][5:15, 4:12] += 300  # structure a random network responds to
        images[1][8:20, 2:9] -= 3
        names = ["CT"] + [f"MR{c}" for c in range(1, channels)]
        return f"nnUNetTrainerUMamba{variant}", configuration, plans, names, classes, {0: net}, images, (0.9, 1.1, 3.0)

    return case


UMAMBA_ENC_3D = UMAMBA_OFFICIAL["networks"][1]  # Enc 3-D, 4 stages, channel tokens at the last
UMAMBA_BOT_2D = UMAMBA_OFFICIAL["networks"][2]  # Bot 2-D, 5 stages


def _swin(network):
    def case():
        plans = helpers.plans("2d", [32, 32], [0.55, 0.5], ["ZScoreNormalization"], [False], {})
        image = np.random.default_rng(3).normal(10, 3, size=(37, 29))
        trainer = "nnUNetTrainerSwinUMamba" if network is SwinUMamba else "nnUNetTrainerSwinUMambaD"
        return (
            trainer,
            "2d",
            plans,
            ["microscopy"],
            2,
            {0: network(2, 1, 2, deep_supervision=False)},
            [image],
            (0.5, 0.6),
        )

    return case


def _official_weights(trainer, network):
    """What the trainer's checkpoint holds: the official names (ours, but MambaClinix's)."""
    if trainer.startswith("nnUNetTrainerUMamba"):  # our tensors under every official name, duplicates included
        record = UMAMBA_ENC_3D if trainer.endswith("Enc") else UMAMBA_BOT_2D
        ours = network.state_dict()
        return {k: ours[network.official_checkpoint_filter(_primary(k), None)[0][0]] for k in record["state_dict"]}
    if trainer != "nnUNetTrainerMambaClinix":
        return network.state_dict()
    return official_state_dict(CLINIX["state_dict"], ours=network.state_dict())


def _primary(key: str) -> str:
    """The name a duplicate of the official U-Mamba state_dict repeats."""
    key = key.removeprefix("decoder.") if key.startswith("decoder.encoder.") else key
    return key.replace(".all_modules.0.", ".conv.").replace(".all_modules.1.", ".norm.")


CASES = {
    "lightm_unet-3d": pytest.param(_lightm_3d),
    "lightm_unet-2d-2folds": pytest.param(_lightm_2d, marks=pytest.mark.slow),
    "mambaclinix-3d": pytest.param(_mambaclinix, marks=pytest.mark.slow),
    "swin_umamba-2d": pytest.param(_swin(SwinUMamba), marks=pytest.mark.slow),
    "umamba_enc-3d": pytest.param(_umamba(UMAMBA_ENC_3D), marks=pytest.mark.slow),
    "umamba_bot-2d": pytest.param(_umamba(UMAMBA_BOT_2D), marks=pytest.mark.slow),
    "swin_umamba_d-2d": pytest.param(_swin(SwinUMambaD), marks=pytest.mark.slow),
}


@pytest.mark.parametrize("make_case", CASES.values(), ids=CASES.keys())
def test_imported_bundle_predicts_as_nnunet(tmp_path, monkeypatch, request, make_case):
    """results folder -> import -> ``python -m monai.bundle run`` writes NIfTI label maps with the affine of nnU-Net's
    own predictor's (same network and weights, same files) and its labels on >= 99.5 % of voxels, its logits in
    nnU-Net's frame to 1e-4, both with nnU-Net's accumulation buffers in float32; nnU-Net as shipped accumulates in
    float16, whose rounding at the image border moves labels (>= 95 % equal here, tiny images) and probabilities
    (median difference < 1e-3), and the bundle with ``--nnunet#accumulation_dtype float16`` gives its labels on
    >= 99.5 % of voxels. The bundle passes ``bundles check``."""
    nnunetv2 = pytest.importorskip("nnunetv2", reason="nnunetv2 (the test extra) is the reference")
    from nnunetv2.inference import predict_from_raw_data
    from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor
    from nnunetv2.preprocessing.preprocessors.default_preprocessor import DefaultPreprocessor
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

    assert nnunetv2
    torch.manual_seed(0)
    trainer, configuration, plans, channels, classes, networks, images, spacing = make_case()
    dataset = helpers.dataset_json(channels, ["background"] + [f"class{i}" for i in range(1, classes)])
    mirror = tuple(range(len(plans["configurations"][configuration]["patch_size"])))
    checkpoints = {fold: _official_weights(trainer, net) for fold, net in networks.items()}
    folder = helpers.write_results(tmp_path / "results", trainer, configuration, plans, dataset, checkpoints, mirror)
    helpers.write_case(tmp_path / "imagesTs", "case7", images, spacing)
    files = [str(tmp_path / "imagesTs" / f"case7_{c:04d}.nii.gz") for c in range(len(channels))]

    if request.node.callspec.id == "lightm_unet-3d":  # the command line once; the same function in-process after
        command = [sys.executable, "-m", "monai_mamba.bundles", "import-nnunet", str(folder), "--output"]
        subprocess.run([*command, str(tmp_path / "bundle"), "--weights_url", URL], check=True, capture_output=True)
    else:
        import_nnunet_results(folder, tmp_path / "bundle", weights_url=URL)
    # the zoo takes model.pt (over 25 MB) only from a URL: listed with its hash
    (entry,) = yaml.safe_load((tmp_path / "bundle" / "large_files.yml").read_text())["large_files"]
    assert entry["url"] == URL and entry["hash_val"] == file_sha256(tmp_path / "bundle" / "models" / "model.pt")
    assert check_bundle(tmp_path / "bundle") == []
    run = [
        sys.executable,
        "-m",
        "monai.bundle",
        "run",
        "--config_file",
        str(tmp_path / "bundle/configs/inference.json"),
    ]
    paths = ["--bundle_root", str(tmp_path / "bundle"), "--input_dir", str(tmp_path / "imagesTs")]
    subprocess.run([*run, *paths, "--output_dir", str(tmp_path / "ours")], check=True, capture_output=True)
    ours = nib.load(str(tmp_path / "ours" / "case7.nii.gz"))

    manager = PlansManager(plans)
    nets = [n.eval() for n in networks.values()]
    predictor = nnUNetPredictor(
        perform_everything_on_device=False, device=torch.device("cpu"), verbose=False, allow_tqdm=False
    )
    predictor.manual_initialization(
        nets[0],
        manager,
        manager.get_configuration(configuration),
        [{k: v.clone() for k, v in n.state_dict().items()} for n in nets],  # it loads each into nets[0]
        dataset,
        trainer,
        mirror,
    )
    ours_labels = np.asarray(ours.dataobj)
    assert ours_labels.shape == images[0].shape

    def nnunet_prediction(folder: str):
        (tmp_path / folder).mkdir()
        predictor.predict_from_files_sequential([files], [str(tmp_path / folder / "case7")], False, True, None)
        written = nib.load(str(tmp_path / folder / "case7.nii.gz"))
        np.testing.assert_allclose(ours.affine, written.affine, atol=1e-5)
        return np.asarray(written.dataobj), predictor.predict_logits_from_preprocessed_data(torch.from_numpy(data))

    data, _, _ = DefaultPreprocessor(verbose=False).run_case(
        files, None, manager, manager.get_configuration(configuration), dataset
    )
    stock_labels, stock_logits = nnunet_prediction("stock")
    monkeypatch.setattr(torch, "half", torch.float32)  # nnU-Net's accumulation buffers and Gaussian in float32
    gaussian = predict_from_raw_data.compute_gaussian

    def float32_gaussian(*args, **kwargs):
        return gaussian(*args, **kwargs, dtype=torch.float32)

    float32_gaussian.cache_clear = gaussian.cache_clear
    monkeypatch.setattr(predict_from_raw_data, "compute_gaussian", float32_gaussian)
    float32_labels, float32_logits = nnunet_prediction("float32")
    assert len(np.unique(float32_labels)) > 1  # a prediction that can disagree
    assert (ours_labels == float32_labels).mean() >= 0.995
    # nnU-Net as shipped: its float16 buffers lose the weights of tile edges at the image border; the bundle
    # reproduces that with accumulation_dtype float16 (below)
    stock_agreement = (ours_labels == stock_labels).mean()
    assert stock_agreement >= 0.95

    # logits in nnU-Net's frame: the bundle's preprocessing, network (from model.pt) and inferer
    parser = ConfigParser()
    parser.read_config(str(tmp_path / "bundle" / "configs" / "inference.json"))
    parser.update(
        {
            "bundle_root": str(tmp_path / "bundle"),
            "input_dir": str(tmp_path / "imagesTs"),
            "device": "$torch.device('cpu')",
        }
    )
    network = parser.get_parsed_content("network_def")
    network.load_state_dict(torch.load(tmp_path / "bundle" / "models" / "model.pt", weights_only=True))
    image = parser.get_parsed_content("preprocessing")(parser.get_parsed_content("datalist")[0])["image"]
    logits = parser.get_parsed_content("inferer")(image[None], network.eval())[0]
    parser["nnunet#accumulation_dtype"] = "float16"  # --nnunet#accumulation_dtype float16: nnU-Net as shipped
    logits_float16 = parser.get_parsed_content("inferer", lazy=False)(image[None], network)[0]
    restore = parser.get_parsed_content("postprocessing").transforms[0]  # NnUNetRestored, before SaveImaged
    ours_float16 = restore({"pred": logits_float16, "image": image})["pred"][0].numpy()
    float16_agreement = (ours_float16 == stock_labels).mean()
    assert float16_agreement >= 0.995
    probabilities, stock_probabilities = logits.softmax(0), stock_logits.float().softmax(0)
    assert (probabilities - stock_probabilities).abs().median() < 1e-3
    labels_float32, labels_stock = 100 * (ours_labels == float32_labels).mean(), 100 * stock_agreement
    labels_float16 = 100 * float16_agreement
    logits_float32 = (logits - float32_logits).abs().max()
    probabilities_stock = (probabilities - stock_probabilities).abs().max()
    print(  # the figures of the README's table (pytest -s)
        f"\nPARITY {request.node.callspec.id}: labels {labels_float32:.2f} % (float32 buffers), {labels_stock:.2f} % "
        f"(stock), {labels_float16:.2f} % (stock vs the bundle in float16); logits max |diff| {logits_float32:.1e} "
        f"(float32); probabilities max |diff| {probabilities_stock:.1e}"
    )
    torch.testing.assert_close(logits, float32_logits.float(), atol=1e-4, rtol=1e-4)


def test_imported_bundle_serves_in_monai_label(tmp_path):
    """MONAI Label's BundleInferTask loads the imported bundle (labels from its metadata) and returns the label map
    the bundle itself writes, in the image's geometry. Skipped without monailabel (``pip install -e ".[label]"``)."""
    pytest.importorskip("monailabel", reason="MONAI Label (the label extra) is not installed")
    from monailabel.tasks.infer.bundle import BundleInferTask

    torch.manual_seed(0)
    folder = _lightm_results(tmp_path)
    image = np.random.default_rng(0).normal(60, 90, size=(20, 26, 11))
    image[5:15, 5:20] += 300
    helpers.write_case(tmp_path / "imagesTs", "case1", [image], (0.8, 0.9, 2.5))
    import_nnunet_results(folder, tmp_path / "bundle")
    task = BundleInferTask(str(tmp_path / "bundle"), {"preload": "false"})
    assert task.is_valid() and task.labels == {"liver": 1} and task.dimension == 3
    label_file, _ = task({"image": str(tmp_path / "imagesTs" / "case1_0000.nii.gz"), "device": "cpu"})
    subprocess.run(
        [sys.executable, "-m", "monai.bundle", "run", "--config_file", str(tmp_path / "bundle/configs/inference.json"),
         "--bundle_root", str(tmp_path / "bundle"), "--input_dir", str(tmp_path / "imagesTs"),
         "--output_dir", str(tmp_path / "ours")],
        check=True, capture_output=True,
    )  # fmt: skip
    served, ours = nib.load(label_file), nib.load(str(tmp_path / "ours" / "case1.nii.gz"))
    np.testing.assert_array_equal(np.asarray(served.dataobj), np.asarray(ours.dataobj))
    np.testing.assert_allclose(served.affine, ours.affine, atol=1e-5)
    assert len(np.unique(np.asarray(ours.dataobj))) == 2


def test_imported_bundle_takes_cpu_bf16(tmp_path):
    """An imported bundle's ``inferer`` follows ``cpu_bf16`` as the shipped bundles' does: off, nnU-Net's sliding
    window itself; on, the network under bfloat16 autocast with the logits in float32, close to float32's."""
    from monai_mamba.inferers import cpu_bf16
    from monai_mamba.nnunet import NnUNetSlidingWindowInferer

    torch.manual_seed(0)
    import_nnunet_results(_lightm_results(tmp_path), tmp_path / "bundle")
    parser = ConfigParser()
    parser.read_config(str(tmp_path / "bundle" / "configs" / "inference.json"))
    parser["bundle_root"] = str(tmp_path / "bundle")
    network = parser.get_parsed_content("network_def").eval()
    image = torch.randn(1, 1, 20, 18, 16)
    inferer = parser.get_parsed_content("inferer")
    assert isinstance(inferer.inferer, NnUNetSlidingWindowInferer) and not inferer.enabled
    with torch.no_grad():
        expected = inferer(image, network)
        parser["cpu_bf16"] = True
        if not cpu_bf16.cpu_has_native_bf16():
            pytest.skip("this CPU has no native bfloat16")
        logits = parser.get_parsed_content("inferer", lazy=False)(image, network)
    assert logits.dtype == torch.float32 and logits.shape == expected.shape
    assert ((logits - expected).norm() / expected.norm()).item() < 0.05
    assert not torch.equal(logits, expected)  # it did run in bfloat16


def test_imported_bundle_takes_reuse_freed_memory(tmp_path, monkeypatch):
    """An imported bundle's ``reuse_freed_memory`` (off by default) is what its ``allocator`` passes on, and its
    ``initialize`` runs it, as the shipped bundles' setup does."""
    calls = []
    monkeypatch.setattr(allocator, "reuse_freed_memory", lambda enabled=True: calls.append(enabled) or enabled)
    import_nnunet_results(_lightm_results(tmp_path), tmp_path / "bundle")
    for setting in (None, True):
        parser = ConfigParser()
        parser.read_config(str(tmp_path / "bundle" / "configs" / "inference.json"))
        parser["bundle_root"] = str(tmp_path / "bundle")
        if setting is not None:
            parser["reuse_freed_memory"] = setting
        assert "@allocator" in parser["initialize"]
        parser.get_parsed_content("allocator")
    assert calls == [False, True]


def test_imported_bundle_runs_the_shared_cpu_settings_as_the_shipped_bundles_write_them(tmp_path):
    """The imported bundle is self-contained, so it writes the CPU settings of ``bundles/shared/run.yaml`` itself:
    the same ids, defaults and expressions (bfloat16, freed-memory reuse, the inferer wrapper), so that the two
    cannot drift apart."""
    shared = yaml.safe_load((Path(__file__).parents[1] / "bundles" / "shared" / "run.yaml").read_text())
    import_nnunet_results(_lightm_results(tmp_path), tmp_path / "bundle")
    imported = json.loads((tmp_path / "bundle" / "configs" / "inference.json").read_text())
    for key in ("cpu_bf16", "reuse_freed_memory", "allocator"):
        assert imported[key] == shared[key], key
    assert {k: imported["inferer"][k] for k in ("_target_", "enabled")} == {
        k: shared["inferer"][k] for k in ("_target_", "enabled")
    }
