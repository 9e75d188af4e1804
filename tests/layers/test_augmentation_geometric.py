"""Geometric and mixing augmentation layers (kerax/layers/augmentation_geometric.py)
against Keras 3: Keras draws a transformation with its own layer, both layers
apply that same transformation (images, boxes, masks, labels) and must agree;
configs and `.keras` files both ways; identity at inference; compiled fit
without a retrace per batch."""
import warnings

import jax
import numpy as np
import pytest

import kerax
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


# (layer, kwargs, input layout, compare boxes) for the Keras-drawn comparison
SAME_DRAW = [
    ("RandomPerspective", dict(scale=0.4, seed=1, bounding_box_format="xyxy"), True),
    ("RandomPerspective", dict(factor=0.5, scale=0.6, interpolation="nearest", fill_value=0.5,
                               seed=2), False),
    ("RandomErasing", dict(seed=1, value_range=(0, 1)), False),
    ("RandomErasing", dict(fill_value=0.3, factor=0.5, scale=0.2, value_range=(0, 1), seed=1,
                           data_format="channels_first"), False),
    ("RandomGaussianBlur", dict(kernel_size=(3, 5), sigma=(0.5, 2.0), value_range=(0, 1),
                                seed=1), False),
    ("CutMix", dict(seed=1), False),
    ("MixUp", dict(alpha=0.5, seed=1), False),
    ("RandomCrop", dict(height=4, width=5, seed=1), False),
    ("RandomCrop", dict(height=5, width=3, seed=1, data_format="channels_first"), False),
    ("RandomElasticTransform", dict(factor=0.0, seed=1), False),
]


@pytest.mark.parametrize("name,kw,boxes", SAME_DRAW,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(SAME_DRAW)])
def test_same_transformation_as_keras(keras, name, kw, boxes):
    k, m = _pair(keras, name, kw)
    x = _channels(IMAGES, kw)
    t = k.get_random_transformation(x)
    np.testing.assert_allclose(_np(m.transform_images(x, t)), _np(k.transform_images(x, t)),
                               atol=1e-5)
    if boxes:
        kb = k.transform_bounding_boxes({"boxes": BOXES, "labels": BOX_LABELS}, t)
        mb = m.transform_bounding_boxes({"boxes": BOXES, "labels": BOX_LABELS}, t)
        np.testing.assert_allclose(_np(mb["boxes"]), _np(kb["boxes"]), atol=1e-3)
        np.testing.assert_array_equal(_np(mb["labels"]), _np(kb["labels"]))
    if name in ("CutMix", "MixUp"):
        labels = np.eye(3, dtype="float32")
        np.testing.assert_allclose(_np(m.transform_labels(labels, t)),
                                   _np(k.transform_labels(labels, t)), atol=1e-6)
    _same_config(k, m)
    # kerax's own draw has Keras' shapes and dtypes
    mine = m.get_random_transformation(x)
    for a, b in zip(jax.tree_util.tree_leaves(t), jax.tree_util.tree_leaves(mine)):
        assert np.shape(a) == np.shape(b)



RANDOM = [("RandomShear", dict(x_factor=0.3, y_factor=0.3)),
          ("RandomCrop", dict(height=6, width=6)),
          ("RandomPerspective", dict(scale=0.5)),
          ("RandomElasticTransform", dict(scale=0.5, value_range=(0, 1))),
          ("RandomErasing", dict(value_range=(0, 1))),
          ("RandomGaussianBlur", dict(sigma=(1.0, 2.0), value_range=(0, 1))),
          ("CutMix", {}),
          ("MixUp", {})]


@pytest.mark.parametrize("name,kw", RANDOM, ids=[r[0] for r in RANDOM])
def test_inference_identity_seeded_unbatched(name, kw):
    x = IMAGES
    a, b = getattr(L, name)(seed=5, **kw), getattr(L, name)(seed=5, **kw)
    np.testing.assert_array_equal(_np(a(x, training=False)), x)   # identity at inference
    first = _np(a(x, training=True))
    np.testing.assert_array_equal(first, _np(b(x, training=True)))  # same seed, same draw
    if name != "RandomCrop":
        assert not np.allclose(first, x)                          # augments in training
    assert not np.allclose(_np(a(x, training=True)), first)       # the state advances
    # unbatched: one image in, one image out
    assert a(x[0]).shape == first.shape[1:]


def test_compiled_fit_without_retracing():
    """All the random layers in one model: compiled fit traces each once per
    program, not once per batch, and threads every layer's RNG state."""
    layers = [getattr(L, name)(seed=i, **kw) for i, (name, kw) in enumerate(RANDOM)
              if name != "RandomCrop"] + [L.RandomCrop(6, 6, seed=9)]
    calls = {layer.name: 0 for layer in layers}
    for layer in layers:
        def counting(data, training=True, _layer=layer, _call=layer.call):
            calls[_layer.name] += 1
            return _call(data, training=training)
        layer.call = counting
    model = kerax.Sequential([kerax.Input((9, 9, 2))] + layers +
                             [L.GlobalAveragePooling2D(), L.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    xs = RNG.uniform(0, 1, (16, 9, 9, 2)).astype("float32")
    ys = RNG.normal(size=(16, 1)).astype("float32")
    model.fit(xs, ys, batch_size=4, epochs=1, verbose=0)
    after_one = dict(calls)
    states = [_np(layer.generator.state.value).copy() for layer in layers]
    model.fit(xs, ys, batch_size=4, epochs=2, verbose=0)
    assert calls == after_one                           # 8 more batches, no new trace
    for layer, state in zip(layers, states):            # each layer's RNG advanced
        assert not np.array_equal(_np(layer.generator.state.value), state), layer.name
    # predict runs them in inference: the model is GAP + Dense of the input
    np.testing.assert_allclose(model.predict(xs, verbose=0),
                               _np(model.layers[-1](xs.mean(axis=(1, 2)))), atol=1e-5)


def test_keras_files_both_ways(keras, tmp_path):
    """A model of these layers saved by Keras loads in kerax (same configs,
    same inference outputs) and the reverse."""
    def build(lib):
        Lb = lib.layers
        inp = lib.Input((9, 9, 2))
        y = Lb.RandomShear(x_factor=(0.0, 0.2), y_factor=(0.1, 0.3), seed=1)(inp)
        y = Lb.RandomCrop(6, 6, seed=2)(y)
        y = Lb.RandomPerspective(factor=0.5, scale=0.3, seed=3)(y)
        y = Lb.RandomErasing(factor=0.5, value_range=(0, 1), seed=4)(y)
        y = Lb.RandomGaussianBlur(kernel_size=5, sigma=(0.5, 1.0), seed=5)(y)
        y = Lb.RandomElasticTransform(factor=0.3, scale=0.2, seed=6)(y)
        y = Lb.MixUp(alpha=0.3, seed=7)(y)
        y = Lb.CutMix(factor=0.5, seed=8)(y)
        y = Lb.GlobalAveragePooling2D()(y)
        return lib.Model(inp, Lb.Dense(2)(y))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k_model = build(keras)
    k_path = tmp_path / "keras.keras"
    k_model.save(k_path)
    m = kerax.models.load_model(k_path)
    np.testing.assert_allclose(_np(m.predict(IMAGES, verbose=0)),
                               _np(k_model.predict(IMAGES, verbose=0)), atol=1e-5)
    for kl, ml in zip(k_model.layers[1:-2], m.layers[1:-2]):
        assert type(ml).__name__ == type(kl).__name__
        assert plain(ml.get_config()) == plain(kl.get_config())

    m2 = build(kerax)
    m_path = tmp_path / "kerax.keras"
    m2.save(m_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k2 = keras.models.load_model(m_path)
    np.testing.assert_allclose(_np(k2.predict(IMAGES, verbose=0)),
                               _np(m2.predict(IMAGES, verbose=0)), atol=1e-5)


def test_random_crop_boxes_center_crop_and_shapes(keras):
    layer = L.RandomCrop(4, 6, seed=1, bounding_box_format="xyxy")
    boxes = {"boxes": np.array([[[1.0, 1.0, 8.0, 7.0], [0.0, 0.0, 1.0, 1.0]]], "float32"),
             "labels": np.array([[3, 4]], "int32")}
    x = IMAGES[:1]
    out = layer({"images": x, "bounding_boxes": boxes})
    # the crop's offset is where the output sits in the input
    top, left = next((t, l) for t in range(6) for l in range(4)
                     if np.array_equal(x[:, t:t + 4, l:l + 6], _np(out["images"])))
    b = boxes["boxes"][0, 0]
    want = np.clip([b[0] - left, b[1] - top, b[2] - left, b[3] - top], 0, [6, 4, 6, 4])
    np.testing.assert_allclose(_np(out["bounding_boxes"]["boxes"])[0, 0], want)
    assert _np(out["bounding_boxes"]["labels"])[0, 0] == 3
    # an image smaller than the target: the central crop of the target's aspect
    # ratio (9 x 4 at column 2), resized (bilinear) -- Keras' resize of that crop
    small = L.RandomCrop(12, 6, seed=1)(IMAGES)
    np.testing.assert_allclose(_np(small), _np(keras.ops.image.resize(IMAGES[:, :, 2:6], (12, 6))),
                               atol=1e-5)
    assert L.RandomCrop(4, 6).compute_output_shape((None, 9, 9, 2)) == (None, 4, 6, 2)
    assert tuple(L.RandomCrop(4, 6)(kerax.Input((9, 9, 2))).shape) == (None, 4, 6, 2)


def test_mixup_boxes_and_max_num_bounding_boxes(keras):
    mix = L.MixUp(seed=1, bounding_box_format="xyxy")
    out = mix({"images": IMAGES, "labels": np.eye(3, dtype="float32"),
               "bounding_boxes": {"boxes": BOXES, "labels": BOX_LABELS}})
    assert out["bounding_boxes"]["boxes"].shape == (3, 8, 4)
    assert out["bounding_boxes"]["labels"].shape == (3, 8)
    np.testing.assert_array_equal(_np(out["bounding_boxes"]["boxes"])[:, :4], BOXES)
    np.testing.assert_allclose(_np(out["labels"]).sum(-1), 1.0, atol=1e-6)
    for n in (2, 6):
        k, m = _pair(keras, "MaxNumBoundingBoxes", dict(max_number=n, bounding_box_format="xyxy"))
        data = {"images": IMAGES, "bounding_boxes": {"boxes": BOXES, "labels": BOX_LABELS}}
        kb, mb = k(dict(data))["bounding_boxes"], m(dict(data))["bounding_boxes"]
        np.testing.assert_array_equal(_np(mb["boxes"]), _np(kb["boxes"]))
        np.testing.assert_array_equal(_np(mb["labels"]), _np(kb["labels"]))
        # Keras' config leaves out fill_value (so its from_config drops it); kerax keeps it
        _same_config(k, m, skip=("fill_value",))
    lists = L.MaxNumBoundingBoxes(3, bounding_box_format="xyxy")(
        {"images": IMAGES[:2], "bounding_boxes": {"boxes": [[[0, 0, 1, 1]], []],
                                                  "labels": [[5], []]}})
    assert _np(lists["bounding_boxes"]["labels"]).tolist() == [[5, -1, -1], [-1, -1, -1]]


def test_clear_errors():
    with pytest.raises(ValueError, match="bounding_box_format"):
        L.RandomShear(0.2)({"images": IMAGES, "bounding_boxes": {"boxes": BOXES,
                                                                 "labels": BOX_LABELS}})
    with pytest.raises(NotImplementedError, match="bounding boxes"):
        L.CutMix(bounding_box_format="xyxy")({"images": IMAGES, "bounding_boxes": {
            "boxes": BOXES, "labels": BOX_LABELS}})
    with pytest.raises(ValueError, match="kernel_size"):
        L.RandomGaussianBlur(kernel_size=4)
    with pytest.raises(ValueError, match="scale"):
        L.RandomPerspective(scale=1.5)
    with pytest.raises(NotImplementedError, match="fill_mode"):
        L.RandomShear(0.1, fill_mode="mirror")
    with pytest.raises(ValueError, match="rank 4"):
        L.RandomErasing()(IMAGES[0, 0])
    with pytest.raises(ValueError, match="does not take a `factor`"):
        L.MixUp(factor=0.5)
