"""`keras.applications.xception`: Xception (Chollet, 2017)."""
from kerax import layers
from kerax.applications import _builder, imagenet_utils

__all__ = ["Xception", "preprocess_input", "decode_predictions"]

WEIGHTS_PATH = ("https://storage.googleapis.com/tensorflow/keras-applications/xception/"
                "xception_weights_tf_dim_ordering_tf_kernels.h5")
WEIGHTS_PATH_NO_TOP = ("https://storage.googleapis.com/tensorflow/keras-applications/"
                       "xception/xception_weights_tf_dim_ordering_tf_kernels_notop.h5")
_HASHES = ("0a58e3b7378bc2990ea3b43d5981f1f6", "b0042744bf5b25fce3cb969f33bebb97")


def Xception(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
             pooling=None, classes=1000, classifier_activation="softmax", name="xception"):
    """Xception (Keras' `keras.applications.Xception`; at least 71x71 pixels;
    inputs through `xception.preprocess_input`, scaled to [-1, 1]).

    >>> Xception(weights=None, include_top=False, input_shape=(71, 71, 3)).output.shape
    (None, 3, 3, 2048)
    """
    _builder.check_weights(weights, include_top, classes)
    _builder.check_pooling(pooling)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=299, min_size=71, data_format=_builder.data_format(),
        require_flatten=include_top, weights=weights)
    img_input = _builder.image_input(input_tensor, input_shape)
    axis = 1 if _builder.data_format() == "channels_first" else -1

    def bn(name=None):
        return layers.BatchNormalization(axis=axis, name=name)

    def sep(x, filters, name, act_name=None):
        if act_name:
            x = layers.Activation("relu", name=act_name)(x)
        x = layers.SeparableConv2D(filters, (3, 3), padding="same", use_bias=False,
                                   name=name)(x)
        return bn(f"{name}_bn")(x)

    def shortcut(x, filters):
        r = layers.Conv2D(filters, (1, 1), strides=(2, 2), padding="same", use_bias=False)(x)
        return bn()(r)

    x = layers.Conv2D(32, (3, 3), strides=(2, 2), use_bias=False,
                      name="block1_conv1")(img_input)
    x = bn("block1_conv1_bn")(x)
    x = layers.Activation("relu", name="block1_conv1_act")(x)
    x = layers.Conv2D(64, (3, 3), use_bias=False, name="block1_conv2")(x)
    x = bn("block1_conv2_bn")(x)
    x = layers.Activation("relu", name="block1_conv2_act")(x)

    residual = shortcut(x, 128)
    x = sep(x, 128, "block2_sepconv1")
    x = sep(x, 128, "block2_sepconv2", "block2_sepconv2_act")
    x = layers.MaxPooling2D((3, 3), strides=(2, 2), padding="same", name="block2_pool")(x)
    x = layers.add([x, residual])
    for block, filters in ((3, 256), (4, 728)):
        residual = shortcut(x, filters)
        x = sep(x, filters, f"block{block}_sepconv1", f"block{block}_sepconv1_act")
        x = sep(x, filters, f"block{block}_sepconv2", f"block{block}_sepconv2_act")
        x = layers.MaxPooling2D((3, 3), strides=(2, 2), padding="same",
                                name=f"block{block}_pool")(x)
        x = layers.add([x, residual])
    for i in range(8):
        residual = x
        prefix = f"block{i + 5}"
        for j in (1, 2, 3):
            x = sep(x, 728, f"{prefix}_sepconv{j}", f"{prefix}_sepconv{j}_act")
        x = layers.add([x, residual])
    residual = shortcut(x, 1024)
    x = sep(x, 728, "block13_sepconv1", "block13_sepconv1_act")
    x = sep(x, 1024, "block13_sepconv2", "block13_sepconv2_act")
    x = layers.MaxPooling2D((3, 3), strides=(2, 2), padding="same", name="block13_pool")(x)
    x = layers.add([x, residual])
    x = sep(x, 1536, "block14_sepconv1")
    x = layers.Activation("relu", name="block14_sepconv1_act")(x)
    x = sep(x, 2048, "block14_sepconv2")
    x = layers.Activation("relu", name="block14_sepconv2_act")(x)
    if include_top:
        x = _builder.head(x, True, None, classes, classifier_activation, weights)
    else:
        x = _builder.pool(x, pooling)
    path = WEIGHTS_PATH if include_top else WEIGHTS_PATH_NO_TOP
    return _builder.finish(img_input, input_tensor, x, name, weights, path.rsplit("/", 1)[1],
                           path, _HASHES[0] if include_top else _HASHES[1])


def preprocess_input(x, data_format=None):
    """Xception's preprocessing: scale to [-1, 1] (tf mode)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """`imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
