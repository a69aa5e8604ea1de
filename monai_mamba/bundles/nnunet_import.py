# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Turn an nnU-Net v2 results folder trained by a paper's own trainer into a MONAI bundle that predicts as nnU-Net
does: ``python -m monai_mamba.bundles import-nnunet RESULTS_DIR --output DIR [--bundle NAME] [--folds K|all]
[--checkpoint final|best] [--weights_url URL]``.

The bundle holds ``models/model.pt`` (our network's state_dict, loaded strictly through the network's
``official_checkpoint_filter`` where its module names differ from the official ones; several folds: a
``FoldEnsemble``), a standalone ``configs/inference.json`` whose values come from ``plans.json`` and
``dataset.json`` (reader, axis order, crop, normalisation, spacing, patch, tile step 0.5, Gaussian weights,
mirroring, export), ``configs/metadata.json`` with the label names of ``dataset.json``, ``large_files.yml``, docs and
the license of the paper's bundle.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import torch
import yaml
from monai.bundle import ConfigParser

from monai_mamba.bundles.pack import BUNDLES, large_file_entry
from monai_mamba.bundles.paths import new_output_folder
from monai_mamba.nnunet.results import NnUNetResults, read_nnunet_checkpoint
from monai_mamba.weights import load_official_weights

__all__ = ["import_nnunet_results"]

logger = logging.getLogger(__name__)

_SCHEMES = {"ZScoreNormalization": "z-score", "CTNormalization": "CT (clipped, z-scored with the dataset's statistics)"}


def _network_def(network_def: dict, num_folds: int) -> dict:
    """The bundle's network: the trainer's network, or a ``FoldEnsemble`` of one per fold."""
    if num_folds == 1:
        return network_def
    return {"_target_": "monai_mamba.nnunet.FoldEnsemble", "network": network_def, "num_folds": num_folds}


def _inference_config(results: NnUNetResults, network_def: dict, mirror_axes) -> dict:
    c = results.configuration
    plans = results.plans
    data_kwargs = {k: v for k, v in c.get("resampling_fn_data_kwargs", {}).items() if k != "is_seg"}
    logits_kwargs = {k: v for k, v in c.get("resampling_fn_probabilities_kwargs", {}).items() if k != "is_seg"}
    return {
        "imports": ["$import monai_mamba"],
        "bundle_root": ".",
        "ckpt_dir": "$@bundle_root + '/models'",
        "input_dir": "$@bundle_root + '/input'",
        "output_dir": "$@bundle_root + '/predictions'",
        "device": "$torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')",
        "nnunet": {
            "results_folder": results.folder.name,
            "dataset": results.plans.get("dataset_name", ""),
            "configuration": results.configuration_name,
            "file_ending": results.dataset.get("file_ending", ".nii.gz"),
            "num_channels": len(results.channel_names),
            "labels": {str(k): v for k, v in results.labels.items()},
            "target_spacing": c["spacing"],
            "patch_size": c["patch_size"],
            "transpose_forward": plans["transpose_forward"],
            "transpose_backward": plans["transpose_backward"],
            "normalization_schemes": c["normalization_schemes"],
            "use_mask_for_norm": c["use_mask_for_norm"],
            "intensity_properties": plans.get("foreground_intensity_properties_per_channel", {}),
            "resampling_image": data_kwargs,
            "resampling_logits": logits_kwargs,
            "mirror_axes": list(mirror_axes),
            "tile_step_size": 0.5,
            "accumulation_dtype": "float32",  # "float16": nnU-Net 2.x as shipped, its rounding at the image border
        },
        "network_def": network_def,
        "network": "$@network_def.to(@device)",
        "datalist": {
            "_target_": "monai_mamba.nnunet.nnunet_cases",
            "input_dir": "@input_dir",
            "num_channels": "@nnunet#num_channels",
            "file_ending": "@nnunet#file_ending",
        },
        "preprocessing": {
            "_target_": "Compose",
            "transforms": [
                {"_target_": "LoadImaged", "keys": "image", "reader": results.image_reader, "image_only": True},
                {"_target_": "EnsureChannelFirstd", "keys": "image"},
                {"_target_": "monai_mamba.data.RequireFinited", "keys": "image"},
                {
                    "_target_": "monai_mamba.nnunet.NnUNetPreprocessd",
                    "keys": "image",
                    "target_spacing": "@nnunet#target_spacing",
                    "transpose_forward": "@nnunet#transpose_forward",
                    "normalization_schemes": "@nnunet#normalization_schemes",
                    "use_mask_for_norm": "@nnunet#use_mask_for_norm",
                    "intensity_properties": "@nnunet#intensity_properties",
                    "resampling": "@nnunet#resampling_image",
                },
            ],
        },
        "dataset": {"_target_": "Dataset", "data": "@datalist", "transform": "@preprocessing"},
        "dataloader": {
            "_target_": "DataLoader",
            "dataset": "@dataset",
            "batch_size": 1,
            "shuffle": False,
            "num_workers": 0,
        },
        "cpu_bf16": False,
        "reuse_freed_memory": False,
        "allocator": "$monai_mamba.allocator.reuse_freed_memory(@reuse_freed_memory)",
        "inferer": {
            "_target_": "monai_mamba.inferers.CPUBF16Inferer",
            "inferer": "@window_inferer",
            "enabled": "@cpu_bf16",
        },
        "window_inferer": {
            "_target_": "monai_mamba.nnunet.NnUNetSlidingWindowInferer",
            "patch_size": "@nnunet#patch_size",
            "tile_step_size": "@nnunet#tile_step_size",
            "mirror_axes": "@nnunet#mirror_axes",
            "accumulation_dtype": "@nnunet#accumulation_dtype",
        },
        "postprocessing": {
            "_target_": "Compose",
            "transforms": [
                {
                    "_target_": "monai_mamba.nnunet.NnUNetRestored",
                    "keys": "pred",
                    "transpose_backward": "@nnunet#transpose_backward",
                    "resampling": "@nnunet#resampling_logits",
                },
                {
                    "_target_": "SaveImaged",
                    "keys": "pred",
                    "output_dir": "@output_dir",
                    "output_postfix": "",
                    "output_ext": "@nnunet#file_ending",
                    "output_dtype": "$np.uint8",
                    "resample": False,
                    "separate_folder": False,
                    "writer": "ITKWriter" if results.image_reader == "ITKReader" else "NibabelWriter",
                },
            ],
        },
        "handlers": [
            {
                "_target_": "CheckpointLoader",
                "load_path": "$@ckpt_dir + '/model.pt'",
                "load_dict": {"model": "@network"},
                "strict": True,
                "map_location": "@device",
            },
            {"_target_": "StatsHandler", "iteration_log": False},
        ],
        "evaluator": {
            "_target_": "SupervisedEvaluator",
            "device": "@device",
            "val_data_loader": "@dataloader",
            "network": "@network",
            "inferer": "@inferer",
            "postprocessing": "@postprocessing",
            "val_handlers": "@handlers",
            "amp": False,
        },
        "initialize": ["$monai.utils.set_determinism(seed=0)", "@allocator"],
        "run": ["$@evaluator.run()"],
    }


def _metadata(results: NnUNetResults, bundle: str, folds: list[str], checkpoint: str) -> dict:
    meta = json.loads((BUNDLES / bundle / "configs" / "metadata.json").read_text())
    c = results.configuration
    source = f"{results.folder.name} ({', '.join(folds)}, checkpoint {checkpoint})"
    meta["version"] = "0.1.0"
    meta["changelog"] = {"0.1.0": f"imported from the nnU-Net v2 results {source}"}
    meta["name"] = f"{meta['name']}: nnU-Net-trained model of {results.plans.get('dataset_name', 'a dataset')}"
    meta["task"] = f"{results.plans.get('dataset_name', '')}: {', '.join(list(results.labels.values())[1:])}"
    meta["description"] = (
        f"{results.trainer_name} ({results.configuration_name}) trained with nnU-Net v2, imported by monai-mamba "
        f"from {source}; inference reproduces nnU-Net's (preprocessing, sliding window, mirroring, export)."
    )
    meta["data_source"] = results.dataset.get("name", results.plans.get("dataset_name", "the nnU-Net dataset"))
    meta["image_classes"] = ", ".join(f"{k}: {v}" for k, v in results.channel_names.items())
    meta["label_classes"] = meta["pred_classes"] = ", ".join(f"{k} {v}" for k, v in results.labels.items())
    meta["eval_metrics"] = {}
    image = meta["network_data_format"]["inputs"]["image"]
    image.update(
        num_channels=len(results.channel_names),
        channel_def=results.channel_names,
        spatial_shape=list(c["patch_size"]),
        value_range=[],
        is_patch_data=True,
        modality="/".join(results.channel_names.values()),
    )
    pred = meta["network_data_format"]["outputs"]["pred"]
    pred.update(
        num_channels=len(results.labels),
        channel_def={str(k): v for k, v in results.labels.items()},
        spatial_shape=list(c["patch_size"]),
        is_patch_data=True,
    )
    return meta


def _readme(results: NnUNetResults, bundle: str, folds: list[str], checkpoint: str, source_readme: str) -> str:
    c = results.configuration
    normalisation = ", ".join(
        f"channel {k} ({v}): {_SCHEMES.get(s, s)}{' inside the non-zero mask' if m else ''}"
        for (k, v), s, m in zip(results.channel_names.items(), c["normalization_schemes"], c["use_mask_for_norm"])
    )
    dataset = results.plans.get("dataset_name", "an nnU-Net dataset")
    return f"""# {results.trainer_name} model of {dataset}, imported from nnU-Net

## Model Overview
The network of the `{bundle}` bundle of monai-mamba, trained by the paper's own nnU-Net v2 trainer
(`{results.trainer_name}`, plans `{results.plans_name}`, configuration `{results.configuration_name}`) and imported
with `python -m monai_mamba.bundles import-nnunet` from `{results.folder.name}` ({", ".join(folds)}, checkpoint
`{checkpoint}`). {"The folds' logits are averaged." if len(folds) > 1 else ""}
Inference reproduces nnU-Net's: spatial axes in SimpleITK order, `transpose_forward`
{results.plans["transpose_forward"]}, crop to the non-zero region, normalisation ({normalisation}),
resampling to {c["spacing"]} (order 3, anisotropic axes separately), sliding window over {c["patch_size"]}
patches with tile step 0.5 and Gaussian weights, mirroring, logits back to the input's geometry (order 1), most
probable label. Difference: logits are accumulated in float32 (nnU-Net 2.x uses float16 buffers, whose rounding
moves probabilities by up to about 1e-2 at tile corners).

## Data
Images named as in nnU-Net (`CASE_0000{results.dataset.get("file_ending", ".nii.gz")}`, one file per channel:
{", ".join(f"{k} {v}" for k, v in results.channel_names.items())}); labels
{", ".join(f"{k} {v}" for k, v in results.labels.items())}. See `data_license.txt` for the data the paper used.

## Training configuration
Trained with nnU-Net v2 by the trainer above, not by this bundle: this bundle predicts only (no train config).

## Performance
Whatever the nnU-Net run reached; the import changes no weight. The predictions equal nnU-Net's on >= 99.5 % of
voxels (monai-mamba's README, "Use the authors' trained models").

## MONAI Bundle Commands
To publish `models/model.pt` (the model zoo takes files over 25 MB only from a download URL), import again with
`--weights_url` (where you will upload it): `large_files.yml` then lists it with its SHA-256.

```
python -m monai.bundle run --config_file configs/inference.json --bundle_root . \\
    --input_dir /path/to/imagesTs --output_dir /path/to/predictions
```
`--cpu_bf16 true` runs the network under bfloat16 autocast on a CPU with native bfloat16 (AVX512-BF16/AMX), the
logits accumulated in float32; its predictions differ from float32's by bfloat16 rounding. `--reuse_freed_memory true`
has glibc keep freed memory for reuse: faster CPU inference of a large volume, a higher resident peak, the same
predictions (monai-mamba's README, "CPU bfloat16").

## References
- Isensee F, Jaeger PF, Kohl SAA, Petersen J, Maier-Hein KH. nnU-Net: a self-configuring method for deep
  learning-based biomedical image segmentation. Nature Methods 18, 203-211 (2021).
{source_readme}

## License
The code: Apache 2.0 (LICENSE). The weights: the terms under which their authors released them.
"""


def import_nnunet_results(
    results_dir: str | Path,
    output: str | Path,
    bundle: str | None = None,
    folds: str | int | None = None,
    checkpoint: str = "final",
    weights_url: str = "",
) -> Path:
    """Write a MONAI bundle at ``output`` from an nnU-Net v2 model folder (see the module docstring).

    Args:
        results_dir: ``nnUNet_results/DatasetNNN_Name/<Trainer>__<Plans>__<configuration>``.
        output: a new (or empty) folder.
        bundle: the monai-mamba bundle of the trainer (``lightm_unet``, ``swin_umamba``, ``mambaclinix``); checked
            against the trainer when given.
        folds: None (every ``fold_<k>``), ``"all"`` (``fold_all``), or ``"0,1"``.
        checkpoint: ``final``, ``best``, or a file name in each fold folder.
        weights_url: where ``models/model.pt`` will be downloadable once published (``large_files.yml``, which the
            model zoo needs for any file over 25 MB), listed there with its SHA-256; empty: no entry (the bundle
            runs with its local ``model.pt``).

    Returns:
        The bundle folder.
    """
    results = NnUNetResults(results_dir)
    if bundle is not None and bundle != results.trainer.bundle:
        raise ValueError(
            f"{results.trainer_name} trains the network of the {results.trainer.bundle!r} bundle, not {bundle!r}."
        )
    bundle = results.trainer.bundle
    output = new_output_folder(output)
    fold_names = results.folds(folds)
    network_def = _network_def(results.network_def(), len(fold_names))
    model = ConfigParser({"network_def": network_def}).get_parsed_content("network_def")
    mirror_axes = None
    for fold, network in zip(fold_names, model.networks if len(fold_names) > 1 else [model]):
        path = results.checkpoint_path(fold, checkpoint)
        weights, axes = read_nnunet_checkpoint(path)
        mirror_axes = axes if mirror_axes is None else mirror_axes  # the first fold's, as nnU-Net reads them
        load_official_weights(network, weights, str(path))
    if mirror_axes is None:
        mirror_axes = tuple(range(len(results.configuration["patch_size"])))

    config = _inference_config(results, network_def, mirror_axes)
    (output / "configs").mkdir(parents=True, exist_ok=True)
    (output / "models").mkdir(exist_ok=True)
    (output / "docs").mkdir(exist_ok=True)
    (output / "configs" / "inference.json").write_text(json.dumps(config, indent=4) + "\n")
    metadata = _metadata(results, bundle, fold_names, checkpoint)
    (output / "configs" / "metadata.json").write_text(json.dumps(metadata, indent=4) + "\n")
    shutil.copy2(BUNDLES / bundle / "configs" / "logging.conf", output / "configs" / "logging.conf")
    shutil.copy2(BUNDLES / bundle / "LICENSE", output / "LICENSE")
    shutil.copy2(BUNDLES / bundle / "docs" / "data_license.txt", output / "docs" / "data_license.txt")
    references = "\n".join(f"- {r}" for r in metadata.get("references", []))
    (output / "docs" / "README.md").write_text(_readme(results, bundle, fold_names, checkpoint, references))
    torch.save(model.state_dict(), output / "models" / "model.pt")
    entries = [large_file_entry("models/model.pt", weights_url, output / "models" / "model.pt")] if weights_url else []
    (output / "large_files.yml").write_text(yaml.safe_dump({"large_files": entries}, sort_keys=False))
    logger.info(
        "%s (%s, %s) -> %s: %d fold(s), mirror axes %s",
        results.folder.name,
        results.trainer_name,
        results.configuration_name,
        output,
        len(fold_names),
        tuple(mirror_axes),
    )
    return output
