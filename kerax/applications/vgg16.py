"""`keras.applications.vgg16`: VGG16 (Simonyan & Zisserman, 2014)."""
from kerax import layers
from kerax.applications import _builder, imagenet_utils

__all__ = ["VGG16", "preprocess_input", "decode_predictions"]

WEIGHTS_PATH = ("https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
                "vgg16_weights_tf_dim_ordering_tf_kernels.h5")
WEIGHTS_PATH_NO_TOP = ("https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
                       "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5")
_HASHES = ("64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc")


def build_vgg(convs, include_top, weights, input_tensor, input_shape, pooling, classes,
              classifier_activation, name, paths, hashes):
    """A VGG network: five blocks of `convs[i]` 3x3 ReLU convolutions and a
    2x2 max pooling, then (with the top) two 4096-unit layers."""
    _builder.check_weights(weights, include_top, classes)
    _builder.check_pooling(pooling)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=224, min_size=32, data_format=_builder.data_format(),
        require_flatten=include_top, weights=weights)
    img_input = _builder.image_input(input_tensor, input_shape)
    x = img_input
    for block, (n, filters) in enumerate(zip(convs, (64, 128, 256, 512, 512)), start=1):
        for i in range(1, n + 1):
            x = layers.Conv2D(filters, (3, 3), activation="relu", padding="same",
                              name=f"block{block}_conv{i}")(x)
        x = layers.MaxPooling2D((2, 2), strides=(2, 2), name=f"block{block}_pool")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", name="fc1")(x)
        x = layers.Dense(4096, activation="relu", name="fc2")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = _builder.pool(x, pooling)
    path = paths[0] if include_top else paths[1]
    return _builder.finish(img_input, input_tensor, x, name, weights, path.rsplit("/", 1)[1],
                           path, hashes[0] if include_top else hashes[1])


def VGG16(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
          pooling=None, classes=1000, classifier_activation="softmax", name="vgg16"):
    """VGG16 (Keras' `keras.applications.VGG16`; inputs through
    `vgg16.preprocess_input`).

    >>> VGG16(weights=None, include_top=False, input_shape=(32, 32, 3)).output.shape
    (None, 1, 1, 512)
    """
    return build_vgg((2, 2, 3, 3, 3), include_top, weights, input_tensor, input_shape,
                     pooling, classes, classifier_activation, name,
                     (WEIGHTS_PATH, WEIGHTS_PATH_NO_TOP), _HASHES)


def preprocess_input(x, data_format=None):
    """VGG's preprocessing: caffe mode (RGB to BGR, ImageNet mean subtracted)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


def decode_predictions(preds, top=5):
    """`imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
