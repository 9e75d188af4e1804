"""`keras.applications.inception_v3`: InceptionV3 (Szegedy et al., 2016)."""
from kerax import layers
from kerax.applications import _builder, imagenet_utils

__all__ = ["InceptionV3", "preprocess_input", "decode_predictions"]

WEIGHTS_PATH = ("https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"
                "inception_v3_weights_tf_dim_ordering_tf_kernels.h5")
WEIGHTS_PATH_NO_TOP = ("https://storage.googleapis.com/tensorflow/keras-applications/"
                       "inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5")
_HASHES = ("9a0d58056eeedaa3f26cb7ebd46da564", "bcbd6486424b2319ff4ef7d526e38f63")


def conv2d_bn(x, filters, num_row, num_col, padding="same", strides=(1, 1), name=None):
    """Conv2D (no bias) + BatchNormalization (no scale) + ReLU."""
    axis = _builder.channel_axis()
    x = layers.Conv2D(filters, (num_row, num_col), strides=strides, padding=padding,
                      use_bias=False, name=None if name is None else f"{name}_conv")(x)
    x = layers.BatchNormalization(axis=axis, scale=False,
                                  name=None if name is None else f"{name}_bn")(x)
    return layers.Activation("relu", name=name)(x)


def _avg_branch(x, filters):
    x = layers.AveragePooling2D((3, 3), strides=(1, 1), padding="same")(x)
    return conv2d_bn(x, filters, 1, 1)


def _chain(x, specs):
    for spec in specs:
        x = conv2d_bn(x, *spec)
    return x


def InceptionV3(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="inception_v3"):
    """InceptionV3 (Keras' `keras.applications.InceptionV3`; at least 75x75
    pixels; inputs through `inception_v3.preprocess_input`, scaled to [-1, 1])."""
    _builder.check_weights(weights, include_top, classes)
    _builder.check_pooling(pooling)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=299, min_size=75, data_format=_builder.data_format(),
        require_flatten=include_top, weights=weights)
    img_input = _builder.image_input(input_tensor, input_shape)
    axis = _builder.channel_axis()

    def concat(branches, name=None):
        return layers.concatenate(branches, axis=axis, name=name)

    x = conv2d_bn(img_input, 32, 3, 3, strides=(2, 2), padding="valid")
    x = conv2d_bn(x, 32, 3, 3, padding="valid")
    x = conv2d_bn(x, 64, 3, 3)
    x = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = conv2d_bn(x, 80, 1, 1, padding="valid")
    x = conv2d_bn(x, 192, 3, 3, padding="valid")
    x = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    # mixed 0, 1, 2: 35 x 35
    for i, pool_filters in enumerate((32, 64, 64)):
        b1 = conv2d_bn(x, 64, 1, 1)
        b5 = _chain(x, [(48, 1, 1), (64, 5, 5)])
        b3 = _chain(x, [(64, 1, 1), (96, 3, 3), (96, 3, 3)])
        bp = _avg_branch(x, pool_filters)
        x = concat([b1, b5, b3, bp], name=f"mixed{i}")
    # mixed 3: 17 x 17
    b3 = conv2d_bn(x, 384, 3, 3, strides=(2, 2), padding="valid")
    b3d = _chain(x, [(64, 1, 1), (96, 3, 3)])
    b3d = conv2d_bn(b3d, 96, 3, 3, strides=(2, 2), padding="valid")
    bp = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = concat([b3, b3d, bp], name="mixed3")
    # mixed 4, 5, 6, 7: 17 x 17
    for i, f in enumerate((128, 160, 160, 192)):
        b1 = conv2d_bn(x, 192, 1, 1)
        b7 = _chain(x, [(f, 1, 1), (f, 1, 7), (192, 7, 1)])
        b7d = _chain(x, [(f, 1, 1), (f, 7, 1), (f, 1, 7), (f, 7, 1), (192, 1, 7)])
        bp = _avg_branch(x, 192)
        x = concat([b1, b7, b7d, bp], name=f"mixed{4 + i}")
    # mixed 8: 8 x 8
    b3 = conv2d_bn(x, 192, 1, 1)
    b3 = conv2d_bn(b3, 320, 3, 3, strides=(2, 2), padding="valid")
    b7 = _chain(x, [(192, 1, 1), (192, 1, 7), (192, 7, 1)])
    b7 = conv2d_bn(b7, 192, 3, 3, strides=(2, 2), padding="valid")
    bp = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = concat([b3, b7, bp], name="mixed8")
    # mixed 9, 10: 8 x 8
    for i in range(2):
        b1 = conv2d_bn(x, 320, 1, 1)
        b3 = conv2d_bn(x, 384, 1, 1)
        b3 = concat([conv2d_bn(b3, 384, 1, 3), conv2d_bn(b3, 384, 3, 1)], name=f"mixed9_{i}")
        b3d = _chain(x, [(448, 1, 1), (384, 3, 3)])
        b3d = concat([conv2d_bn(b3d, 384, 1, 3), conv2d_bn(b3d, 384, 3, 1)])
        bp = _avg_branch(x, 192)
        x = concat([b1, b3, b3d, bp], name=f"mixed{9 + i}")
    if include_top:
        x = _builder.head(x, True, None, classes, classifier_activation, weights)
    else:
        x = _builder.pool(x, pooling)
    path = WEIGHTS_PATH if include_top else WEIGHTS_PATH_NO_TOP
    return _builder.finish(img_input, input_tensor, x, name, weights, path.rsplit("/", 1)[1],
                           path, _HASHES[0] if include_top else _HASHES[1])


def preprocess_input(x, data_format=None):
    """InceptionV3's preprocessing: scale to [-1, 1] (tf mode)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """`imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
