"""kerax.applications' preprocessing, prediction decoding and weight files
against Keras 3: `preprocess_input` in each mode and data format (NumPy and
tensors), `decode_predictions` from the Keras cache, and a weights file
written in the legacy HDF5 layout of Keras' published files loading through
`weights="imagenet"` (or failing clearly when absent)."""
import json

import numpy as np
import pytest

import kerax
import kerax.applications as A
from kerax.applications import imagenet_utils


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_preprocess_input_matches_keras(keras, mode, data_format):
    x = np.random.default_rng(0).uniform(0, 255, (2, 3, 4, 3)).astype("float32")
    if data_format == "channels_first":
        x = np.moveaxis(x, -1, 1)
    want = keras.applications.imagenet_utils.preprocess_input(
        x.copy(), data_format=data_format, mode=mode)
    got = imagenet_utils.preprocess_input(x.copy(), data_format=data_format, mode=mode)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-5)
    # tensors (a JAX array) and a single image (3D) take the same path as Keras
    got_t = imagenet_utils.preprocess_input(kerax.ops.convert_to_tensor(x),
                                            data_format=data_format, mode=mode)
    np.testing.assert_allclose(np.asarray(got_t), want, rtol=1e-6, atol=1e-5)
    want3 = keras.applications.imagenet_utils.preprocess_input(
        x[0].copy(), data_format=data_format, mode=mode)
    np.testing.assert_allclose(
        imagenet_utils.preprocess_input(x[0].copy(), data_format=data_format, mode=mode),
        want3, rtol=1e-6, atol=1e-5)


def test_model_preprocess_input_modes_match_keras(keras):
    x = np.random.default_rng(1).integers(0, 256, (1, 2, 2, 3)).astype("uint8")
    for module in ("resnet", "resnet_v2", "vgg16", "vgg19", "mobilenet", "mobilenet_v2",
                   "mobilenet_v3", "densenet", "xception", "inception_v3",
                   "inception_resnet_v2", "efficientnet", "efficientnet_v2", "convnext",
                   "nasnet", "resnet50"):
        want = getattr(keras.applications, module).preprocess_input(x.copy())
        got = getattr(A, module).preprocess_input(x.copy())
        np.testing.assert_allclose(np.asarray(got, "float32"), np.asarray(want, "float32"),
                                   rtol=1e-6, err_msg=module)


def test_preprocess_input_symbolic_in_a_model():
    inputs = kerax.Input((2, 2, 3))
    model = kerax.Model(inputs, A.resnet.preprocess_input(inputs))
    x = np.random.default_rng(2).uniform(0, 255, (1, 2, 2, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(model(x)),
                               imagenet_utils.preprocess_input(x.copy()), rtol=1e-6,
                               atol=1e-5)


def test_preprocess_input_bad_arguments():
    with pytest.raises(ValueError, match="mode"):
        imagenet_utils.preprocess_input(np.zeros((1, 2, 2, 3)), mode="keras")
    with pytest.raises(ValueError, match="data_format"):
        imagenet_utils.preprocess_input(np.zeros((1, 2, 2, 3)), data_format="nhwc")


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX", None)
    (tmp_path / "models").mkdir()
    return tmp_path


def test_decode_predictions_reads_the_cached_class_index(keras, keras_home, monkeypatch):
    index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    (keras_home / "models" / "imagenet_class_index.json").write_text(json.dumps(index))
    # Keras' published file has CLASS_INDEX_HASH; this stand-in cannot, so no check.
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX_HASH", None)
    preds = np.random.default_rng(3).uniform(size=(2, 1000)).astype("float32")
    got = A.resnet50.decode_predictions(preds, top=3)
    # Keras decodes with the same index (its module global, set for the call)
    monkeypatch.setitem(keras.applications.imagenet_utils.decode_predictions.__globals__,
                        "CLASS_INDEX", index)
    want = keras.applications.resnet50.decode_predictions(preds, top=3)
    assert [[(a, b) for a, b, _ in row] for row in got] == \
        [[(a, b) for a, b, _ in row] for row in want]
    np.testing.assert_allclose([[s for *_, s in row] for row in got],
                               [[s for *_, s in row] for row in want])
    with pytest.raises(ValueError, match="shape"):
        A.resnet50.decode_predictions(preds[:, :10])


def test_decode_predictions_offline_and_absent_is_a_clear_error(keras_home, monkeypatch):
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX_PATH",
                        (keras_home / "nowhere" / "imagenet_class_index.json").as_uri())
    with pytest.raises(OSError, match="imagenet_class_index.json") as e:
        imagenet_utils.decode_predictions(np.zeros((1, 1000)))
    assert str(keras_home / "models") in str(e.value)


def _numpy_weights(model, rng):
    return [rng.normal(size=w.shape).astype("float32") if w.ndim else w
            for w in map(np.asarray, model.get_weights())]


def test_imagenet_weights_load_from_the_keras_cache(keras, keras_home):
    """A file in the layout of Keras' published weights (written by Keras'
    own legacy HDF5 writer) under Keras' file name in $KERAS_HOME/models is
    what weights="imagenet" loads."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format
    kw = dict(input_shape=(32, 32, 3), alpha=0.25, include_top=False)
    kmodel = keras.applications.MobileNet(weights=None, **kw)
    kmodel.set_weights(_numpy_weights(kmodel, np.random.default_rng(4)))
    path = keras_home / "models" / "mobilenet_2_5_224_tf_no_top.h5"
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, kmodel)
    with pytest.warns(UserWarning, match="224"):
        model = A.MobileNet(weights="imagenet", **kw)
    for got, want in zip(model.get_weights(), kmodel.get_weights()):
        np.testing.assert_array_equal(got, want)
    # the same file by path, into the wrong architecture: a clear error
    with pytest.raises(ValueError, match="layer count mismatch"):
        A.MobileNet(weights=str(path), input_shape=(32, 32, 3), alpha=0.25, classes=10)


def test_imagenet_weights_absent_offline_is_a_clear_error(keras_home, monkeypatch):
    monkeypatch.setattr(A.mobilenet, "BASE_WEIGHT_PATH", (keras_home / "offline").as_uri() + "/")
    with pytest.raises(OSError, match="mobilenet_2_5_224_tf_no_top.h5") as e:
        A.MobileNet(weights="imagenet", input_shape=(224, 224, 3), alpha=0.25,
                    include_top=False)
    assert str(keras_home / "models" / "mobilenet_2_5_224_tf_no_top.h5") in str(e.value)


def test_argument_errors():
    with pytest.raises(ValueError, match="weights"):
        A.ResNet50(weights="imagenet21k")
    with pytest.raises(ValueError, match="classes"):
        A.VGG16(weights="imagenet", classes=10)
    with pytest.raises(ValueError, match="at least 71x71"):
        A.Xception(weights=None, include_top=False, input_shape=(32, 32, 3))
    with pytest.raises(ValueError, match="pooling"):
        A.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3), pooling="mean")
    with pytest.raises(ValueError, match="static"):
        A.VGG16(weights=None, input_shape=(None, None, 3))
