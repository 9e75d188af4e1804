"""`keras.applications.imagenet_utils`: ImageNet input preprocessing and
prediction decoding, shared by every application model."""
import json
import os

import numpy as np

from kerax import activations, ops
from kerax.core import config
from kerax.utils import file_utils

__all__ = ["preprocess_input", "decode_predictions"]

CLASS_INDEX = None
CLASS_INDEX_PATH = ("https://storage.googleapis.com/download.tensorflow.org/"
                    "data/imagenet_class_index.json")
CLASS_INDEX_HASH = "c2c37ea517e94d9795004a39431a14cb"

_CAFFE_MEAN = (103.939, 116.779, 123.68)  # BGR
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)


def preprocess_input(x, data_format=None, mode="caffe"):
    """Preprocess a batch of images (values in [0, 255], 3 colour channels).

    `mode="caffe"`: RGB to BGR, then subtract the ImageNet mean per channel;
    `"tf"`: scale to [-1, 1]; `"torch"`: scale to [0, 1] then normalise each
    channel with ImageNet's mean and std. A floating NumPy array is modified
    in place (as Keras); other NumPy arrays are cast to floatx first; tensors
    (JAX arrays, symbolic tensors) give a new tensor.

    >>> import numpy as np
    >>> preprocess_input(np.full((1, 2, 2, 3), 255.0), mode="tf")[0, 0, 0]
    array([1., 1., 1.])
    """
    if mode not in {"caffe", "tf", "torch"}:
        raise ValueError("Expected mode to be one of `caffe`, `tf` or `torch`. "
                         f"Received: mode={mode}")
    if data_format is None:
        data_format = config.image_data_format()
    elif data_format not in {"channels_first", "channels_last"}:
        raise ValueError("Expected data_format to be one of `channels_first` or "
                         f"`channels_last`. Received: data_format={data_format}")
    if isinstance(x, np.ndarray):
        return _preprocess_numpy(x, data_format, mode)
    return _preprocess_tensor(x, data_format, mode)


def _channel_shape(ndim, data_format):
    if data_format == "channels_last":
        return (1,) * (ndim - 1) + (3,)
    return (3, 1, 1) if ndim == 3 else (1, 3) + (1,) * (ndim - 2)


def _preprocess_numpy(x, data_format, mode):
    if not issubclass(x.dtype.type, np.floating):
        x = x.astype(config.floatx(), copy=False)
    if mode == "tf":
        x /= 127.5
        x -= 1.0
        return x
    if mode == "torch":
        x /= 255.0
        mean, std = _TORCH_MEAN, _TORCH_STD
    else:
        axis = -1 if data_format == "channels_last" else (0 if x.ndim == 3 else 1)
        x = np.flip(x, axis=axis)
        mean, std = _CAFFE_MEAN, None
    shape = _channel_shape(x.ndim, data_format)
    x -= np.asarray(mean, x.dtype).reshape(shape)
    if std is not None:
        x /= np.asarray(std, x.dtype).reshape(shape)
    return x


def _preprocess_tensor(x, data_format, mode):
    if mode == "tf":
        return x / 127.5 - 1.0
    ndim = len(x.shape)
    if mode == "torch":
        x = x / 255.0
        mean, std = _TORCH_MEAN, _TORCH_STD
    else:
        axis = -1 if data_format == "channels_last" else (0 if ndim == 3 else 1)
        x = ops.flip(x, axis=axis)
        mean, std = _CAFFE_MEAN, None
    shape = _channel_shape(ndim, data_format)
    x = x + ops.convert_to_tensor(-np.asarray(mean).reshape(shape), dtype=x.dtype)
    if std is not None:
        x = x / ops.convert_to_tensor(np.asarray(std).reshape(shape), dtype=x.dtype)
    return x


def _class_index():
    global CLASS_INDEX
    if CLASS_INDEX is None:
        try:
            path = file_utils.get_file("imagenet_class_index.json", CLASS_INDEX_PATH,
                                       cache_subdir="models", file_hash=CLASS_INDEX_HASH)
        except Exception as e:  # noqa: BLE001 - offline: say where the file goes
            where = os.path.join(file_utils._cache_root(None), "models",
                                 "imagenet_class_index.json")
            raise OSError(
                f"decode_predictions needs the ImageNet class index, which is not in the "
                f"Keras cache and could not be downloaded ({e}). Download "
                f"{CLASS_INDEX_PATH} and put it at {where}.") from e
        with open(path) as f:
            CLASS_INDEX = json.load(f)
    return CLASS_INDEX


def decode_predictions(preds, top=5):
    """Decode a batch of ImageNet predictions (shape `(samples, 1000)`) into
    one list per sample of `(class_name, class_description, score)` tuples,
    best first. Reads `imagenet_class_index.json` from the Keras cache
    (`~/.keras/models`), downloading it when absent.

    >>> decode_predictions(np.eye(1000)[:1], top=1)  # doctest: +SKIP
    [[('n01440764', 'tench', 1.0)]]
    """
    if len(preds.shape) != 2 or preds.shape[1] != 1000:
        raise ValueError("`decode_predictions` expects a batch of predictions (i.e. a 2D "
                         f"array of shape (samples, 1000)). Received array with shape: "
                         f"{preds.shape}")
    index = _class_index()
    results = []
    for pred in np.asarray(preds):
        best = pred.argsort()[-top:][::-1]
        result = [tuple(index[str(i)]) + (pred[i],) for i in best]
        result.sort(key=lambda r: r[2], reverse=True)
        results.append(result)
    return results


def obtain_input_shape(input_shape, default_size, min_size, data_format, require_flatten,
                       weights=None):
    """The model's input shape from the user's `input_shape` (None: the
    default), checked as Keras checks it (3 channels for ImageNet weights, at
    least `min_size` pixels, static when the classifier is included)."""
    last = data_format != "channels_first"
    if weights != "imagenet" and input_shape and len(input_shape) == 3:
        channels = input_shape[-1] if last else input_shape[0]
        default = (default_size, default_size, channels) if last else \
            (channels, default_size, default_size)
    else:
        default = (default_size, default_size, 3) if last else (3, default_size, default_size)
    if weights == "imagenet" and require_flatten:
        if input_shape is not None and tuple(input_shape) != default:
            raise ValueError("When setting `include_top=True` and loading `imagenet` "
                             f"weights, `input_shape` should be {default}.  Received: "
                             f"input_shape={input_shape}")
        return default
    if input_shape:
        if len(input_shape) != 3:
            raise ValueError("`input_shape` must be a tuple of three integers.")
        channels = input_shape[-1] if last else input_shape[0]
        size = input_shape[:2] if last else input_shape[1:]
        if channels != 3 and weights == "imagenet":
            raise ValueError("The input must have 3 channels; Received "
                             f"`input_shape={input_shape}`")
        if any(s is not None and s < min_size for s in size):
            raise ValueError(f"Input size must be at least {min_size}x{min_size}; "
                             f"Received: input_shape={input_shape}")
        input_shape = tuple(input_shape)
    elif require_flatten:
        input_shape = default
    else:
        input_shape = (None, None, 3) if last else (3, None, None)
    if require_flatten and None in input_shape:
        raise ValueError("If `include_top` is True, you should specify a static "
                         f"`input_shape`. Received: input_shape={input_shape}")
    return input_shape


def correct_pad(inputs, kernel_size):
    """The ZeroPadding2D padding that makes a strided 'valid' convolution of
    `kernel_size` over `inputs` match TensorFlow's 'same' downsampling."""
    first = 2 if config.image_data_format() == "channels_first" else 1
    size = inputs.shape[first:first + 2]
    if isinstance(kernel_size, int):
        kernel_size = (kernel_size, kernel_size)
    adjust = (1, 1) if size[0] is None else (1 - size[0] % 2, 1 - size[1] % 2)
    half = (kernel_size[0] // 2, kernel_size[1] // 2)
    return ((half[0] - adjust[0], half[0]), (half[1] - adjust[1], half[1]))


def validate_activation(classifier_activation, weights):
    """Pretrained weights allow only `None` or softmax as the classifier's
    activation."""
    if weights is None:
        return
    act = activations.get(classifier_activation)
    if act not in {activations.get("softmax"), activations.get(None)}:
        raise ValueError("Only `None` and `softmax` activations are allowed for the "
                         "`classifier_activation` argument when using pretrained weights, "
                         f"with `include_top=True`; Received: "
                         f"classifier_activation={classifier_activation}")
