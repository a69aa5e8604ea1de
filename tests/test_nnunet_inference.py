# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""nnU-Net's inference pieces (monai_mamba.nnunet) against nnU-Net v2's own functions (the test-only extra
nnunetv2): resampling, tile placement, Gaussian weights, normalisation, the whole preprocessing of a case."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged

from monai_mamba.nnunet import (
    FoldEnsemble,
    NnUNetPreprocessd,
    NnUNetSlidingWindowInferer,
    resample_to_shape,
    tile_starts,
)
from monai_mamba.nnunet.inferer import _gaussian
from monai_mamba.nnunet.preprocessing import normalize_channel

sys.path.insert(0, str(Path(__file__).parent))
import nnunet_helpers as helpers  # noqa: E402

nnunetv2 = pytest.importorskip("nnunetv2", reason="nnunetv2 (the test extra) is the reference")

from nnunetv2.inference.sliding_window_prediction import (  # noqa: E402
    compute_gaussian,
    compute_steps_for_sliding_window,
)
from nnunetv2.preprocessing.normalization import default_normalization_schemes as schemes  # noqa: E402
from nnunetv2.preprocessing.preprocessors.default_preprocessor import DefaultPreprocessor  # noqa: E402
from nnunetv2.preprocessing.resampling.default_resampling import resample_data_or_seg_to_shape  # noqa: E402
from nnunetv2.utilities.plans_handling.plans_handler import PlansManager  # noqa: E402


@pytest.mark.parametrize(
    "shape, new_shape, spacing, new_spacing, order",
    [
        ((2, 10, 17, 13), (14, 9, 20), (1, 1, 1), (0.7, 1.9, 0.65), 3),  # isotropic: all axes with order 3
        ((1, 6, 20, 22), (15, 31, 29), (4.0, 0.8, 0.8), (1.6, 0.5, 0.6), 3),  # anisotropic input: axis 0 separate
        ((1, 6, 20, 22), (6, 31, 29), (4.0, 0.8, 0.8), (4.0, 0.5, 0.6), 3),  # separate axis keeps its size
        ((3, 12, 11, 9), (5, 15, 12), (1, 1, 1), (2.4, 0.7, 0.7), 1),  # anisotropic target (logits, order 1)
        ((1, 9, 12, 30), (9, 24, 12), (1, 1, 5), (1, 0.5, 2.5), 1),  # separate axis 2
        ((2, 1, 20, 22), (1, 31, 29), (999, 0.8, 0.8), (999, 0.5, 0.6), 3),  # a 2-D image
        ((1, 8, 8, 8), (8, 8, 8), (1, 1, 1), (1, 1, 1), 3),  # no change
    ],
)
def test_resampling_equals_nnunet(shape, new_shape, spacing, new_spacing, order):
    data = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    expected = resample_data_or_seg_to_shape(data, new_shape, spacing, new_spacing, False, order, 0, None)
    result = resample_to_shape(data, new_shape, spacing, new_spacing, order, 0, None)
    assert result.dtype == expected.dtype and result.shape == expected.shape
    np.testing.assert_array_equal(result, expected)


@pytest.mark.parametrize("size, tile", [(16, 16), (17, 16), (110, 64), (100, 64), (300, 96), (31, 8)])
def test_tile_starts_equal_nnunet(size, tile):
    assert tile_starts(size, tile, 0.5) == compute_steps_for_sliding_window((size,), (tile,), 0.5)[0]


@pytest.mark.parametrize("tile", [(16, 16, 8), (32, 48), (7, 9, 5)])
def test_gaussian_weights_are_nnunets_up_to_scale(tile):
    expected = compute_gaussian(tile, 1 / 8, 1, dtype=torch.float32, device=torch.device("cpu"))
    torch.testing.assert_close(_gaussian(tile), expected / expected.max(), rtol=1e-6, atol=1e-7)
    half = compute_gaussian(tile, 1 / 8, 10, dtype=torch.float16, device=torch.device("cpu"))
    assert torch.equal(_gaussian(tile, torch.float16), half)  # nnU-Net's own weights: max 10, float16


@pytest.mark.parametrize(
    "name, use_mask",
    [
        ("CTNormalization", False),
        ("ZScoreNormalization", False),
        ("ZScoreNormalization", True),
        ("NoNormalization", False),
        ("RescaleTo01Normalization", False),
    ],
)
def test_normalisation_equals_nnunet(name, use_mask):
    rng = np.random.default_rng(1)
    image = rng.normal(50, 120, size=(9, 10, 11)).astype(np.float32)
    mask = rng.random((9, 10, 11)) > 0.3
    properties = {"mean": 40.0, "std": 80.0, "percentile_00_5": -100.0, "percentile_99_5": 250.0}
    reference = getattr(schemes, name)(use_mask_for_norm=use_mask, intensityproperties=properties)
    expected = reference.run(image.copy(), np.where(mask, 0, -1))
    np.testing.assert_array_equal(normalize_channel(image, name, use_mask, mask, properties), expected)


def test_unknown_normalisation_is_refused():
    with pytest.raises(ValueError, match="RGBTo01Normalization.*not supported"):
        normalize_channel(np.zeros((2, 2, 2), np.float32), "RGBTo01Normalization", False, None, None)


@pytest.mark.parametrize(
    "configuration, spatial, spacing, transpose, schemes_, use_mask",
    [
        (
            "3d_fullres",
            (20, 26, 11),
            (0.8, 0.9, 2.5),
            (0, 2, 1),
            ["CTNormalization", "ZScoreNormalization"],
            [False, True],
        ),
        ("3d_fullres", (18, 14, 16), (1.2, 1.2, 1.2), (0, 1, 2), ["ZScoreNormalization"], [False]),
        ("2d", (24, 21, 7), (0.7, 0.7, 4.0), (0, 1, 2), ["ZScoreNormalization"], [True]),
        ("2d", (37, 29), (0.5, 0.6), (0, 1, 2), ["ZScoreNormalization"], [False]),
    ],
)
def test_preprocessing_equals_nnunets(tmp_path, configuration, spatial, spacing, transpose, schemes_, use_mask):
    """The whole case (SimpleITK axis order, transpose, crop to the filled non-zero region, normalisation,
    resampling) equals DefaultPreprocessor.run_case, to the bit."""
    dims = 3 if configuration == "3d_fullres" else 2
    target = [1.0, 1.1, 1.3][:dims] if dims == 3 else [0.55, 0.5]
    plans = helpers.plans(configuration, [16] * dims, target, schemes_, use_mask, {}, transpose)
    rng = np.random.default_rng(2)
    channels = []
    for _ in schemes_:
        array = np.zeros(spatial)
        inner = tuple(slice(2, s - 2) for s in spatial)
        array[inner] = rng.normal(30, 60, size=[s - 4 for s in spatial])
        array[tuple(slice(4, 6) for _ in spatial)] = 0  # a hole in the non-zero mask (filled, as nnU-Net does)
        channels.append(array)
    helpers.write_case(tmp_path, "case", channels, spacing)
    files = [str(tmp_path / f"case_{c:04d}.nii.gz") for c in range(len(schemes_))]
    manager = PlansManager(plans)
    expected, _, _ = DefaultPreprocessor(verbose=False).run_case(
        files,
        None,
        manager,
        manager.get_configuration(configuration),
        helpers.dataset_json(["x"] * len(files), ["background", "a"]),
    )
    transform = Compose(
        [
            LoadImaged("image", reader="ITKReader", image_only=True),
            EnsureChannelFirstd("image"),
            NnUNetPreprocessd(
                "image",
                target_spacing=target,
                transpose_forward=transpose,
                normalization_schemes=schemes_,
                use_mask_for_norm=use_mask,
                intensity_properties=plans["foreground_intensity_properties_per_channel"],
            ),
        ]
    )
    result = transform({"image": files})["image"].numpy()
    assert result.shape == expected.shape
    np.testing.assert_array_equal(result, expected)


class _Probe(torch.nn.Module):
    """A position-dependent 'network': logits that depend on each voxel's value and its place in the tile."""

    def forward(self, x):
        ramp = torch.linspace(0, 1, x.shape[-1]).expand_as(x[:, :1])
        return torch.cat([x[:, :1] * 2 + ramp, -x[:, :1] + ramp.flip(-1)], dim=1)


def _nnunet_logits(image: torch.Tensor, network: torch.nn.Module, patch, mirror) -> torch.Tensor:
    """nnUNetPredictor.predict_sliding_window_return_logits of ``network`` on ``image`` ``(1, c, *spatial)``."""
    from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor

    configuration = "3d_fullres" if len(patch) == 3 else "2d"
    manager = PlansManager(helpers.plans(configuration, patch, [1.0] * len(patch), ["NoNormalization"], [False], {}))
    predictor = nnUNetPredictor(
        perform_everything_on_device=False, device=torch.device("cpu"), verbose=False, allow_tqdm=False
    )
    predictor.manual_initialization(
        network, manager, manager.get_configuration(configuration), [network.state_dict()],
        helpers.dataset_json(["x", "y"], ["background", "a"]), "probe", mirror or None,
    )  # fmt: skip
    return predictor.predict_sliding_window_return_logits(image[0]).float()


@pytest.mark.parametrize(
    "patch, shape, mirror",
    [((8, 8, 8), (1, 2, 13, 20, 6), (0, 1, 2)), ((8, 8, 8), (1, 2, 8, 8, 8), ()), ((8, 8), (1, 2, 3, 13, 5), (0, 1))],
)
def test_sliding_window_equals_nnunets_predictor(monkeypatch, patch, shape, mirror):
    """Tile starts, padding of small axes, Gaussian weights, mirroring and slice-wise 2d prediction as
    nnUNetPredictor.predict_sliding_window_return_logits, with its accumulation buffers and Gaussian in float32 (in
    float16, nnU-Net's own rounding dominates: its weights underflow at the tile corners)."""
    from nnunetv2.inference import predict_from_raw_data

    monkeypatch.setattr(torch, "half", torch.float32)
    gaussian = predict_from_raw_data.compute_gaussian
    monkeypatch.setattr(
        predict_from_raw_data, "compute_gaussian", lambda *a, **k: gaussian(*a, **k, dtype=torch.float32)
    )

    image = torch.randn(shape)
    network = _Probe().eval()
    expected = _nnunet_logits(image, network, patch, mirror)
    result = NnUNetSlidingWindowInferer(patch, 0.5, mirror)(image, network)[0]
    assert result.shape == expected.shape
    torch.testing.assert_close(result, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("patch, shape", [((8, 8, 8), (1, 2, 13, 20, 6)), ((8, 8), (1, 2, 3, 13, 5))])
def test_float16_accumulation_reproduces_nnunet_as_shipped(patch, shape):
    """With ``accumulation_dtype="float16"`` the logits are nnU-Net 2.x's own, float16 rounding and the underflowing
    weights at the image border included (float32 accumulation differs from them there by far more)."""
    image = torch.randn(shape, generator=torch.Generator().manual_seed(0)) * 3
    network = _Probe().eval()
    mirror = tuple(range(len(patch)))
    expected = _nnunet_logits(image, network, patch, mirror)
    float16 = NnUNetSlidingWindowInferer(patch, 0.5, mirror, accumulation_dtype="float16")(image, network)[0]
    float32 = NnUNetSlidingWindowInferer(patch, 0.5, mirror)(image, network)[0]
    torch.testing.assert_close(float16, expected, atol=1e-3, rtol=1e-3)
    assert (float32 - expected).abs().max() > 10 * (float16 - expected).abs().max()


def test_network_sees_plain_tensors_when_given_a_metatensor():
    """The bundles' preprocessing gives a MetaTensor; its tiles reach the network as plain tensors (tracking meta
    through every operation of a Mamba network made nnU-Net-style inference about twice as slow), same logits."""
    from monai.data import MetaTensor

    seen = []

    def network(tile):
        seen.append(type(tile))
        return tile[:, :1] * 2

    image = torch.randn(1, 2, 3, 13, 5)
    plain = NnUNetSlidingWindowInferer((8, 8), 0.5, (0, 1))(image, network)
    seen_for_plain = len(seen)
    result = NnUNetSlidingWindowInferer((8, 8), 0.5, (0, 1))(MetaTensor(image, meta={"case": "x"}), network)
    assert seen[seen_for_plain:] and set(seen) == {torch.Tensor}
    assert type(result) is torch.Tensor
    torch.testing.assert_close(result, plain)


def test_fold_ensemble_averages_logits():
    net = torch.nn.Conv2d(1, 2, 1)
    ensemble = FoldEnsemble(net, 3)
    for i, fold in enumerate(ensemble.networks):
        torch.nn.init.constant_(fold.weight, float(i))
        torch.nn.init.zeros_(fold.bias)
    x = torch.randn(1, 1, 4, 4)
    torch.testing.assert_close(ensemble(x), x.expand(1, 2, 4, 4) * 1.0)  # mean of 0, 1, 2
    assert sorted(ensemble.state_dict()) == [f"networks.{i}.{p}" for i in range(3) for p in ("bias", "weight")]
