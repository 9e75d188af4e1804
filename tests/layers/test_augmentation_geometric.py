"""Geometric and mixing augmentation layers (kerax/layers/augmentation_geometric.py)
against Keras 3: Keras draws a transformation with its own layer, both layers
apply that same transformation (images, boxes, masks, labels) and must agree;
configs and `.keras` files both ways; identity at inference; compiled fit
without a retrace per batch."""
import warnings

import numpy as np
import pytest

from kerax import layers as L
from tests.layers.keras_compare import plain

RNG = np.random.default_rng(0)
IMAGES = RNG.uniform(0, 1, (3, 9, 9, 2)).astype("float32")
_XY = RNG.uniform(0, 6, (3, 4, 2))
BOXES = np.concatenate([_XY, _XY + RNG.uniform(1, 3, (3, 4, 2))], -1).astype("float32")
BOX_LABELS = np.arange(12, dtype="int32").reshape(3, 4)


def _np(x):
    return np.asarray(x)


def _channels(x, kw):
    return x.transpose(0, 3, 1, 2) if kw.get("data_format") == "channels_first" else x


def _pair(keras, name, kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k = getattr(keras.layers, name)(**kw)
    return k, getattr(L, name)(**kw)


def _same_config(k, m, skip=()):
    kc, mc = plain(k.get_config()), plain(m.get_config())
    assert set(kc) - set(skip) == set(mc) - set(skip)
    for key in kc:
        if key not in ("name",) + tuple(skip):
            assert kc[key] == mc[key], key
    assert plain(type(m).from_config(m.get_config()).get_config()) == mc


SHEAR = [dict(x_factor=0.3, y_factor=0.2, seed=1, bounding_box_format="xyxy"),
         dict(x_factor=(0.1, 0.5), fill_mode="constant", interpolation="nearest", seed=2,
              data_format="channels_first", bounding_box_format="center_xywh")]


@pytest.mark.parametrize("kw", SHEAR, ids=["default", "constant-cf"])
def test_random_shear_matches_keras(keras, kw):
    k, m = _pair(keras, "RandomShear", kw)
    x = _channels(IMAGES, kw)
    t = k.get_random_transformation(x)
    np.testing.assert_allclose(_np(m.transform_images(x, t)), _np(k.transform_images(x, t)),
                               atol=1e-5)
    boxes = {"boxes": BOXES, "labels": BOX_LABELS}
    kb = k.transform_bounding_boxes(dict(boxes), t)
    mb = m.transform_bounding_boxes(dict(boxes), t)
    np.testing.assert_allclose(_np(mb["boxes"]), _np(kb["boxes"]), atol=1e-4)
    np.testing.assert_array_equal(_np(mb["labels"]), _np(kb["labels"]))
    _same_config(k, m)


def test_random_shear_dict_inputs_move_together():
    """One image with boxes and a mask: a pure x-shear by s = +-0.5 (the sign
    is random) moves the mask as the image, and the box to the hull of
    x -> x - s * y (closed form), which holds the sheared object's pixels."""
    layer = L.RandomShear(x_factor=(0.5, 0.5), y_factor=0.0, fill_mode="constant",
                          interpolation="nearest", bounding_box_format="xyxy", seed=3)
    image = np.zeros((9, 9, 1), "float32")
    image[2:5, 3:6] = 1.0
    out = layer({"images": image, "segmentation_masks": image.copy(),
                 "bounding_boxes": {"boxes": np.array([[3.0, 2.0, 6.0, 5.0]], "float32"),
                                    "labels": np.array([7], "int32")}})
    np.testing.assert_array_equal(_np(out["segmentation_masks"]), _np(out["images"]))
    ys, xs = np.nonzero(_np(out["images"])[..., 0])
    s = 0.5 if xs.mean() < 4.5 else -0.5   # output x = input x - s * y
    expected = [min(3 - s * 2, 3 - s * 5), 2.0, max(6 - s * 2, 6 - s * 5), 5.0]
    np.testing.assert_allclose(_np(out["bounding_boxes"]["boxes"])[0], expected, atol=1e-6)
    assert expected[0] <= xs.min() and xs.max() < expected[2]
    assert _np(out["bounding_boxes"]["labels"]).tolist() == [7]
    assert out["images"].shape == (9, 9, 1)
