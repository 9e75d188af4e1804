"""`keras.applications.densenet`: DenseNet121/169/201 (Huang et al., 2017)."""
from kerax import layers
from kerax.applications import _builder, imagenet_utils

__all__ = ["DenseNet121", "DenseNet169", "DenseNet201", "preprocess_input",
           "decode_predictions"]

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/densenet/"
_EPS = 1.001e-5
# blocks -> (name, hash with top, hash without)
_WEIGHTS = {
    (6, 12, 24, 16): ("densenet121", "9d60b8095a5708f2dcce2bca79d332c7",
                      "30ee3e1110167f948a6b9946edeeb738"),
    (6, 12, 32, 32): ("densenet169", "d699b8f76981ab1b30698df4c175e90b",
                      "b8c4d4c20dd625c148057b9ff1c1176b"),
    (6, 12, 48, 32): ("densenet201", "1ceb130c1ea1b78c3bf6114dbdfd8807",
                      "c13680b51ded0fb44dff2d8f86ac8bb1"),
}


def dense_block(x, blocks, name):
    """`blocks` conv blocks, each concatenating 32 new channels."""
    for i in range(blocks):
        x = conv_block(x, 32, name=f"{name}_block{i + 1}")
    return x


def transition_block(x, reduction, name):
    """BN-ReLU, a 1x1 convolution keeping `reduction` of the channels, 2x2
    average pooling."""
    axis = _builder.channel_axis()
    x = layers.BatchNormalization(axis=axis, epsilon=_EPS, name=f"{name}_bn")(x)
    x = layers.Activation("relu", name=f"{name}_relu")(x)
    x = layers.Conv2D(int(x.shape[axis] * reduction), 1, use_bias=False,
                      name=f"{name}_conv")(x)
    return layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


def conv_block(x, growth_rate, name):
    """BN-ReLU-1x1 conv, BN-ReLU-3x3 conv, concatenated to the input."""
    axis = _builder.channel_axis()
    x1 = layers.BatchNormalization(axis=axis, epsilon=_EPS, name=f"{name}_0_bn")(x)
    x1 = layers.Activation("relu", name=f"{name}_0_relu")(x1)
    x1 = layers.Conv2D(4 * growth_rate, 1, use_bias=False, name=f"{name}_1_conv")(x1)
    x1 = layers.BatchNormalization(axis=axis, epsilon=_EPS, name=f"{name}_1_bn")(x1)
    x1 = layers.Activation("relu", name=f"{name}_1_relu")(x1)
    x1 = layers.Conv2D(growth_rate, 3, padding="same", use_bias=False,
                       name=f"{name}_2_conv")(x1)
    return layers.Concatenate(axis=axis, name=f"{name}_concat")([x, x1])


def DenseNet(blocks, include_top=True, weights="imagenet", input_tensor=None,
             input_shape=None, pooling=None, classes=1000, classifier_activation="softmax",
             name="densenet"):
    """A DenseNet with `blocks` conv blocks in each of its four dense blocks."""
    if _builder.data_format() == "channels_first":
        raise ValueError("DenseNet does not support the `channels_first` image data format. "
                         "Switch to `channels_last` by editing your local config file at "
                         "~/.keras/keras.json")
    _builder.check_weights(weights, include_top, classes)
    blocks = tuple(blocks)
    if weights == "imagenet" and blocks not in _WEIGHTS:
        raise ValueError(f"weights='imagenet': no published weights for DenseNet blocks "
                         f"{list(blocks)}.")
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=224, min_size=32, data_format=_builder.data_format(),
        require_flatten=include_top, weights=weights)
    img_input = _builder.image_input(input_tensor, input_shape)
    axis = _builder.channel_axis()
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)))(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = layers.BatchNormalization(axis=axis, epsilon=_EPS, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)))(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    for i, n in enumerate(blocks):
        x = dense_block(x, n, name=f"conv{i + 2}")
        if i < 3:
            x = transition_block(x, 0.5, name=f"pool{i + 2}")
    x = layers.BatchNormalization(axis=axis, epsilon=_EPS, name="bn")(x)
    x = layers.Activation("relu", name="relu")(x)
    x = _builder.head(x, include_top, pooling, classes, classifier_activation, weights)
    file_name = file_hash = None
    if blocks in _WEIGHTS:
        stem, top_hash, notop_hash = _WEIGHTS[blocks]
        file_name = f"{stem}_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"
        file_hash = top_hash if include_top else notop_hash
    return _builder.finish(img_input, input_tensor, x, name, weights, file_name,
                           BASE_WEIGHTS_PATH + (file_name or ""), file_hash)


def DenseNet121(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="densenet121"):
    """DenseNet121 (Keras' `keras.applications.DenseNet121`; inputs through
    `densenet.preprocess_input`, torch mode)."""
    return DenseNet([6, 12, 24, 16], include_top, weights, input_tensor, input_shape, pooling,
                    classes, classifier_activation, name=name)


def DenseNet169(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="densenet169"):
    """DenseNet169 (Keras' `keras.applications.DenseNet169`)."""
    return DenseNet([6, 12, 32, 32], include_top, weights, input_tensor, input_shape, pooling,
                    classes, classifier_activation, name=name)


def DenseNet201(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="densenet201"):
    """DenseNet201 (Keras' `keras.applications.DenseNet201`)."""
    return DenseNet([6, 12, 48, 32], include_top, weights, input_tensor, input_shape, pooling,
                    classes, classifier_activation, name=name)


def preprocess_input(x, data_format=None):
    """DenseNet's preprocessing: torch mode (scale to [0, 1], then normalise
    each channel with ImageNet's mean and std)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="torch")


def decode_predictions(preds, top=5):
    """`imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
