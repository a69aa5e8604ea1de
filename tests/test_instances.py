# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
import torch
from monai.metrics import PanopticQualityMetric

from monai_mamba.data import (
    InstanceToSemanticd,
    SemanticToInstanced,
    connected_components,
    instances_to_semantic,
    semantic_to_instances,
)


def _cells() -> torch.Tensor:
    instances = torch.zeros(16, 16, dtype=torch.long)
    instances[1:6, 1:6] = 1
    instances[8:14, 3:9] = 2
    instances[8:14, 9:15] = 3  # touching cell 2: only the boundary class separates them
    return instances


def test_connected_components_labels_each_blob():
    mask = torch.zeros(10, 10, dtype=torch.bool)
    mask[0:3, 0:3] = True
    mask[5:9, 5:9] = True
    mask[3, 3] = mask[4, 4] = True  # a diagonal bridge: 8-connectivity joins the two blobs
    assert connected_components(mask).unique().tolist() == [0, 1]
    mask[3, 3] = mask[4, 4] = False
    labels = connected_components(mask)
    assert labels.unique().tolist() == [0, 1, 2] and (labels == 1).sum() + (labels == 2).sum() == 9 + 16
    assert connected_components(torch.ones(3, 3, dtype=torch.bool)).unique().tolist() == [1]


def test_connected_components_stay_apart_beyond_float32_ids():
    """A 4100^2 image (above 2^24 pixels): a cell ending at the right edge of row 4098 and a one-pixel cell at the start
    of row 4099 are far apart but consecutive in raster order; float32 holds only even integers there, so labelling by
    max-pooled float32 pixel ids gave both the same label."""
    mask = torch.zeros(4100, 4100, dtype=torch.bool)
    mask[4097:4099, 4098:] = True
    mask[4099, 0] = True
    mask[0, 0] = True
    labels = connected_components(mask)
    assert labels[0, 0] == 1 and labels[4098, 4099] == 2 and labels[4099, 0] == 3 and labels.max() == 3
    assert (labels == 2).sum() == 4 and (labels == 3).sum() == 1


def test_three_classes_and_back_separate_touching_cells():
    instances = _cells()
    semantic = instances_to_semantic(instances)
    assert semantic.unique().tolist() == [0, 1, 2]
    assert semantic[3, 3] == 1 and semantic[1, 1] == 2 and semantic[10, 8] == 2 and semantic[10, 9] == 2
    recovered = semantic_to_instances(semantic)
    assert len(recovered.unique()) == 4  # background and the three cells, the touching pair kept apart
    metric = PanopticQualityMetric(num_classes=1, metric_name="rq")
    as_input = lambda x: torch.stack([x, (x > 0).long()])[None]  # noqa: E731
    metric(as_input(recovered), as_input(instances))
    assert metric.aggregate().item() > 0.999  # F1 = 1: every cell matched at IoU >= 0.5


def test_dictionary_transforms():
    data = {"label": _cells()[None].float()}
    semantic = InstanceToSemanticd("label")(data)["label"]
    assert semantic.shape == (1, 16, 16) and semantic.dtype == torch.float32
    one_hot = torch.nn.functional.one_hot(semantic[0].long(), 3).permute(2, 0, 1).float()
    out = SemanticToInstanced("pred")({"pred": one_hot})["pred"]
    assert out.shape == (2, 16, 16) and out[1].max() == 1 and len(out[0].unique()) == 4
