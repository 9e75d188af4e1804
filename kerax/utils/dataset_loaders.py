"""Keras 3's directory loaders: `image_dataset_from_directory`,
`text_dataset_from_directory`, `audio_dataset_from_directory`.

Each returns a `kerax.utils.PyDataset` of NumPy batches (no TensorFlow) that
`fit`/`evaluate`/`predict` consume directly; `subset="both"` returns a
`[train, validation]` pair. File indexing, ordering, class inference, label
encodings and the train/validation split follow Keras 3's rules:

* files are listed per class subdirectory (sorted, hidden ones skipped; with
  `class_names`, in that order), each walked recursively with sorted
  directories and sorted file names, extensions matched case-insensitively;
* when `shuffle`, the file list is shuffled once with
  `np.random.RandomState(seed)` (labels with a fresh state of the same seed),
  so `file_paths` matches Keras'; batches are then reshuffled at each epoch end;
* the validation subset is the last `int(validation_split * n)` files;
* labels: `"int"` int32 `(n,)`, `"categorical"` float32 one-hot,
  `"binary"` float32 `(n, 1)`.

Images are read with Pillow (optional: `pip install pillow`), text as UTF-8,
audio with the standard library's `wave` (PCM WAV).
"""
import os

import numpy as np

from kerax import config
from kerax.io import io_utils
from kerax.io.py_dataset import PyDataset

__all__ = ["image_dataset_from_directory", "text_dataset_from_directory",
           "audio_dataset_from_directory"]

IMAGE_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
TEXT_FORMATS = (".txt",)
AUDIO_FORMATS = (".wav",)

_IMAGE_INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "area", "lanczos3",
                         "lanczos5", "gaussian", "mitchellcubic")


# ---------------------------------------------------------------- indexing

def _walk_files(directory, follow_links, formats):
    walk = sorted(os.walk(directory, followlinks=follow_links), key=lambda t: t[0])
    for root, _, files in walk:
        for fname in sorted(files):
            if fname.lower().endswith(formats):
                yield os.path.join(root, fname)


def index_directory(directory, labels, formats, class_names=None, shuffle=True,
                    seed=None, follow_links=False, verbose=True):
    """`(file_paths, labels, class_names)` for the files under `directory`
    (Keras' indexing rules; see the module docstring)."""
    if labels == "inferred":
        subdirs = [d for d in sorted(os.listdir(directory))
                   if os.path.isdir(os.path.join(directory, d)) and not d.startswith(".")]
        if class_names is not None:
            if not set(class_names).issubset(subdirs):
                raise ValueError(
                    "The `class_names` passed did not match the names of the "
                    f"subdirectories of the target directory. Expected: {subdirs} "
                    f"(or a subset of it), but received: class_names={class_names}")
            subdirs = list(class_names)
    else:
        if class_names is not None:
            if labels is None:
                raise ValueError("When `labels=None` (no labels), argument "
                                 "`class_names` cannot be specified.")
            raise ValueError("When argument `labels` is specified, argument "
                             "`class_names` cannot be specified (the `class_names` "
                             "will be the sorted list of labels).")
        subdirs = [""]
    paths, inferred = [], []
    for index, subdir in enumerate(subdirs):
        found = list(_walk_files(os.path.join(directory, subdir), follow_links, formats))
        paths += found
        inferred += [index] * len(found)
    if labels == "inferred":
        class_names = list(subdirs)
        labels = np.asarray(inferred, dtype="int32")
    elif labels is None:
        class_names = None
    else:
        if len(labels) != len(paths):
            raise ValueError(
                "Expected the lengths of `labels` to match the number of files in "
                f"the target directory. len(labels) is {len(labels)} while we "
                f"found {len(paths)} files in directory {directory}.")
        class_names = [str(label) for label in sorted(set(labels))]
        labels = list(labels)
    if verbose:
        if labels is None:
            io_utils.print_msg(f"Found {len(paths)} files.")
        else:
            io_utils.print_msg(f"Found {len(paths)} files belonging to "
                               f"{len(class_names)} classes.")
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)
        np.random.RandomState(seed).shuffle(paths)
        if labels is not None:
            np.random.RandomState(seed).shuffle(labels)
    return paths, labels, class_names


def check_validation_split_arg(validation_split, subset, shuffle, seed):
    if validation_split and not 0 < validation_split < 1:
        raise ValueError("`validation_split` must be between 0 and 1, "
                         f"received: {validation_split}")
    if (validation_split or subset) and not (validation_split and subset):
        raise ValueError("If `subset` is set, `validation_split` must be set, "
                         "and inversely.")
    if subset not in ("training", "validation", "both", None):
        raise ValueError('`subset` must be either "training", "validation" or '
                         f'"both", received: {subset}')
    if validation_split and shuffle and seed is None:
        raise ValueError(
            "If using `validation_split` and shuffling the data, you must provide "
            "a `seed` argument, to make sure that there is no overlap between the "
            "training and validation subset.")


def get_training_or_validation_split(samples, labels, validation_split, subset):
    if not validation_split:
        return samples, labels
    n_val = int(validation_split * len(samples))
    if subset == "training":
        io_utils.print_msg(f"Using {len(samples) - n_val} files for training.")
        cut = slice(None, len(samples) - n_val)
    elif subset == "validation":
        io_utils.print_msg(f"Using {n_val} files for validation.")
        cut = slice(len(samples) - n_val, None)
    else:
        raise ValueError('`subset` must be either "training" or "validation", '
                         f"received: {subset}")
    return samples[cut], (None if labels is None else labels[cut])


def _encode_labels(labels, label_mode, num_classes):
    labels = np.asarray(labels)
    if label_mode == "binary":
        return labels.astype("float32").reshape(-1, 1)
    if label_mode == "categorical":
        return np.eye(num_classes, dtype="float32")[labels.astype("int64")]
    return labels.astype("int32")


def _check_labels_args(labels, label_mode, class_names):
    if labels not in ("inferred", None):
        if not isinstance(labels, (list, tuple)):
            raise ValueError(
                "`labels` argument should be a list/tuple of integer labels, of the "
                "same size as the number of files in the target directory. If you "
                "wish to infer the labels from the subdirectory names in the target "
                'directory, pass `labels="inferred"`. If you wish to get a dataset '
                f"that only contains inputs (no labels), pass `labels=None`. "
                f"Received: labels={labels}")
        if class_names:
            raise ValueError('You can only pass `class_names` if `labels="inferred"`. '
                             f"Received: labels={labels}, and class_names={class_names}")
    if label_mode not in {"int", "categorical", "binary", None}:
        raise ValueError('`label_mode` argument must be one of "int", "categorical", '
                         f'"binary", or None. Received: label_mode={label_mode}')


# ---------------------------------------------------------------- dataset

class DirectoryDataset(PyDataset):
    """A `PyDataset` of NumPy batches read from files. `class_names` and
    `file_paths` are as in Keras; `load(path)` reads one sample and
    `collate(samples)` stacks a batch."""

    def __init__(self, file_paths, labels, label_mode, class_names, batch_size,
                 load, collate, shuffle=False, seed=None):
        super().__init__()
        self.file_paths = list(file_paths)
        self.class_names = class_names
        self.label_mode = label_mode
        self.batch_size = batch_size
        self._labels = (None if label_mode is None else
                        _encode_labels(labels, label_mode, len(class_names or ())))
        self._load, self._collate = load, collate
        self._shuffle = shuffle
        self._rng = np.random.RandomState(seed)
        self._order = np.arange(len(self.file_paths))

    def __len__(self):
        if self.batch_size is None:
            return len(self.file_paths)
        return -(-len(self.file_paths) // self.batch_size)

    def __getitem__(self, index):
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"batch index {index} out of range")
        if self.batch_size is None:
            i = self._order[index]
            x = self._load(self.file_paths[i])
            return x if self._labels is None else (x, self._labels[i])
        idx = self._order[index * self.batch_size:(index + 1) * self.batch_size]
        x = self._collate([self._load(self.file_paths[i]) for i in idx])
        return x if self._labels is None else (x, self._labels[idx])

    def on_epoch_end(self):
        if self._shuffle:
            self._rng.shuffle(self._order)


def _build(directory, labels, label_mode, class_names, formats, batch_size, shuffle,
           seed, validation_split, subset, follow_links, verbose, load, collate,
           what="files"):
    check_validation_split_arg(validation_split, subset, shuffle, seed)
    if seed is None:
        seed = np.random.randint(1e6)
    paths, labels, class_names = index_directory(
        directory, labels, formats=formats, class_names=class_names, shuffle=shuffle,
        seed=seed, follow_links=follow_links, verbose=verbose)
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError('When passing `label_mode="binary"`, there must be exactly 2 '
                         f"class_names. Received: class_names={class_names}")

    def make(p, lab, shuf):
        return DirectoryDataset(p, lab, label_mode, class_names, batch_size, load,
                                collate, shuffle=shuf, seed=seed)

    if subset == "both":
        p_tr, l_tr = get_training_or_validation_split(paths, labels, validation_split,
                                                      "training")
        p_va, l_va = get_training_or_validation_split(paths, labels, validation_split,
                                                      "validation")
        if not p_tr:
            raise ValueError(f"No training {what} found in directory {directory}. "
                             f"Allowed formats: {formats}")
        if not p_va:
            raise ValueError(f"No validation {what} found in directory {directory}. "
                             f"Allowed formats: {formats}")
        return [make(p_tr, l_tr, shuffle), make(p_va, l_va, False)]
    paths, labels = get_training_or_validation_split(paths, labels, validation_split,
                                                     subset)
    if not paths:
        raise ValueError(f"No {what} found in directory {directory}. "
                         f"Allowed formats: {formats}")
    return make(paths, labels, shuffle)


# ---------------------------------------------------------------- images

def _pil_image():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("image_dataset_from_directory needs Pillow: "
                          "`pip install pillow`.") from None
    return Image


def _pil_filter(Image, interpolation):
    R = Image.Resampling
    return {"bilinear": R.BILINEAR, "nearest": R.NEAREST, "bicubic": R.BICUBIC,
            "area": R.BOX, "lanczos3": R.LANCZOS, "lanczos5": R.LANCZOS,
            "gaussian": R.BILINEAR, "mitchellcubic": R.BICUBIC}[interpolation]


def load_image(path, image_size, color_mode="rgb", interpolation="bilinear",
               crop_to_aspect_ratio=False, pad_to_aspect_ratio=False,
               data_format="channels_last"):
    """One image file as a float32 array `(height, width, channels)` (or
    channels-first), resized with Pillow's filter for `interpolation`."""
    Image = _pil_image()
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError("Only one of `pad_to_aspect_ratio`, `crop_to_aspect_ratio` "
                         "can be set to `True`.")
    mode = {"rgb": "RGB", "rgba": "RGBA", "grayscale": "L"}[color_mode]
    with Image.open(path) as img:
        img = img.convert(mode) if img.mode != mode else img.copy()
    th, tw = int(image_size[0]), int(image_size[1])
    w, h = img.size
    resample = _pil_filter(Image, interpolation)
    if crop_to_aspect_ratio:
        ch = min(h, int(float(w * th) / tw))
        cw = min(w, int(float(h * tw) / th))
        top, left = int(float(h - ch) / 2), int(float(w - cw) / 2)
        img = img.crop((left, top, left + cw, top + ch))
        w, h = img.size
    if pad_to_aspect_ratio:
        ratio = max(w / tw, h / th)
        rw, rh = max(1, int(w / ratio)), max(1, int(h / ratio))
        if (rw, rh) != (w, h):
            img = img.resize((rw, rh), resample=resample)
        canvas = np.zeros((th, tw, len(mode)), dtype="float32")
        top, left = (th - rh) // 2, (tw - rw) // 2
        canvas[top:top + rh, left:left + rw] = np.asarray(
            img, dtype="float32").reshape(rh, rw, len(mode))
        arr = canvas
    else:
        if (w, h) != (tw, th):
            img = img.resize((tw, th), resample=resample)
        arr = np.asarray(img, dtype="float32").reshape(th, tw, len(mode))
    if data_format == "channels_first":
        arr = arr.transpose(2, 0, 1)
    return arr


def image_dataset_from_directory(directory, labels="inferred", label_mode="int",
                                 class_names=None, color_mode="rgb", batch_size=32,
                                 image_size=(256, 256), shuffle=True, seed=None,
                                 validation_split=None, subset=None,
                                 interpolation="bilinear", follow_links=False,
                                 crop_to_aspect_ratio=False, pad_to_aspect_ratio=False,
                                 data_format=None, format="tf", verbose=True):
    """Keras 3's `image_dataset_from_directory`: a `PyDataset` of float32 image
    batches `(batch, height, width, channels)` (with labels when `labels` and
    `label_mode` are not None), or `[train, val]` for `subset="both"`.

    Supported formats: bmp, gif, jpeg, jpg, png. Images are decoded and resized
    with Pillow (`pip install pillow`), using Pillow's filter of the same name
    ("area" is Pillow's BOX, "lanczos3"/"lanczos5" LANCZOS, "mitchellcubic"
    BICUBIC, "gaussian" BILINEAR); Pillow antialiases when downscaling, unlike
    `tf.image.resize`. `format` ("tf"/"grain") is accepted for compatibility:
    both give the same NumPy `PyDataset`. The result has `class_names` and
    `file_paths`."""
    _check_labels_args(labels, label_mode, class_names)
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    channels = {"rgb": 3, "rgba": 4, "grayscale": 1}.get(color_mode)
    if channels is None:
        raise ValueError('`color_mode` must be one of {"rgb", "rgba", "grayscale"}. '
                         f"Received: color_mode={color_mode}")
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    elif not isinstance(image_size, (list, tuple)) or len(image_size) != 2:
        raise ValueError("Invalid `image_size` value. Expected a tuple of 2 integers. "
                         f"Received: image_size={image_size}")
    interpolation = interpolation.lower()
    if interpolation not in _IMAGE_INTERPOLATIONS:
        raise ValueError(f"Argument `interpolation` should be one of "
                         f"{_IMAGE_INTERPOLATIONS}. Received: interpolation={interpolation}")
    if format not in ("tf", "grain"):
        raise ValueError(f'`format` should be either "tf" or "grain". Received: format={format}')
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError("Only one of `pad_to_aspect_ratio`, `crop_to_aspect_ratio` "
                         "can be set to `True`.")
    _pil_image()
    data_format = data_format or config.image_data_format()

    def load(path):
        return load_image(path, image_size, color_mode, interpolation,
                          crop_to_aspect_ratio, pad_to_aspect_ratio, data_format)

    return _build(directory, labels, label_mode, class_names, IMAGE_FORMATS,
                  batch_size, shuffle, seed, validation_split, subset, follow_links,
                  verbose, load, np.stack, what="images")


# ---------------------------------------------------------------- text

def text_dataset_from_directory(directory, labels="inferred", label_mode="int",
                                class_names=None, batch_size=32, max_length=None,
                                shuffle=True, seed=None, validation_split=None,
                                subset=None, follow_links=False, format="tf",
                                verbose=True):
    """Keras 3's `text_dataset_from_directory`: a `PyDataset` of batches of
    `.txt` file contents (NumPy object arrays: `bytes` cut to `max_length`
    bytes with the default `format="tf"`, as tf.string tensors read in
    NumPy; `str` read as UTF-8 and cut to `max_length` characters with
    `format="grain"`), with labels as in Keras, or
    `[train, val]` for `subset="both"`. The result has `class_names` and
    `file_paths`."""
    _check_labels_args(labels, label_mode, class_names)
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    if format not in ("tf", "grain"):
        raise ValueError(f'`format` should be either "tf" or "grain". Received: format={format}')

    def load(path):
        if format == "tf":  # tf.io.read_file + tf.strings.substr: bytes, cut in bytes
            with open(path, "rb") as f:
                txt = f.read()
        else:  # Keras' grain path: str, cut in characters
            with open(path, encoding="utf-8") as f:
                txt = f.read()
        return txt if max_length is None else txt[:max_length]

    def collate(samples):
        out = np.empty(len(samples), dtype=object)
        out[:] = samples
        return out

    return _build(directory, labels, label_mode, class_names, TEXT_FORMATS,
                  batch_size, shuffle, seed, validation_split, subset, follow_links,
                  verbose, load, collate, what="text files")


# ---------------------------------------------------------------- audio

def read_wav(path):
    """A PCM WAV file as `(float32 array (samples, channels) in [-1, 1), rate)`,
    scaled as `tf.audio.decode_wav` (16-bit: / 32768)."""
    import wave  # on use: `import kerax` does not need it
    with wave.open(str(path), "rb") as f:
        channels, width, rate = f.getnchannels(), f.getsampwidth(), f.getframerate()
        raw = f.readframes(f.getnframes())
    if width == 1:
        data = (np.frombuffer(raw, dtype="uint8").astype("float32") - 128.0) / 128.0
    elif width == 2:
        data = np.frombuffer(raw, dtype="<i2").astype("float32") / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, dtype="uint8").reshape(-1, 3).astype("int32")
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        data = (np.where(v >= 1 << 23, v - (1 << 24), v) / float(1 << 23)).astype("float32")
    elif width == 4:
        data = (np.frombuffer(raw, dtype="<i4") / float(1 << 31)).astype("float32")
    else:
        raise ValueError(f"Unsupported WAV sample width {width} bytes in {path}.")
    return data.reshape(-1, channels), rate


def _resample(audio, rate_in, rate_out):
    if rate_in == rate_out or len(audio) == 0:
        return audio
    n_out = max(1, int(round(len(audio) * rate_out / rate_in)))
    t_out = np.arange(n_out) * (rate_in / rate_out)
    t_in = np.arange(len(audio))
    return np.stack([np.interp(t_out, t_in, audio[:, c]) for c in range(audio.shape[1])],
                    axis=1).astype("float32")


def audio_dataset_from_directory(directory, labels="inferred", label_mode="int",
                                 class_names=None, batch_size=32, sampling_rate=None,
                                 output_sequence_length=None, ragged=False, shuffle=True,
                                 seed=None, validation_split=None, subset=None,
                                 follow_links=False, verbose=True):
    """Keras 3's `audio_dataset_from_directory`: a `PyDataset` of float32 audio
    batches `(batch, samples, channels)` read from `.wav` files with the
    standard library's `wave` (PCM, scaled to [-1, 1) like `tf.audio.decode_wav`).
    Without `output_sequence_length`, each batch is zero-padded to its longest
    clip (Keras' `padded_batch`); with it, every clip is cut or zero-padded to
    that length. `sampling_rate` resamples linearly (Keras needs
    tensorflow-io for this). `ragged=True` gives batches as lists of
    per-clip arrays. Returns `[train, val]` for `subset="both"`; the result has
    `class_names` and `file_paths`."""
    _check_labels_args(labels, label_mode, class_names)
    if ragged and output_sequence_length is not None:
        raise ValueError("Cannot set both `ragged` and `output_sequence_length`")
    if sampling_rate is not None:
        if not isinstance(sampling_rate, int):
            raise ValueError("`sampling_rate` should have an integer value. "
                             f"Received: sampling_rate={sampling_rate}")
        if sampling_rate <= 0:
            raise ValueError("`sampling_rate` should be higher than 0. "
                             f"Received: sampling_rate={sampling_rate}")
    if labels is None or label_mode is None:
        labels, label_mode = None, None

    def load(path):
        audio, rate = read_wav(path)
        if output_sequence_length is not None:
            n = output_sequence_length
            audio = audio[:n] if len(audio) >= n else np.pad(
                audio, ((0, n - len(audio)), (0, 0)))
        if sampling_rate is not None:
            audio = _resample(audio, rate, sampling_rate)
        return audio

    def collate(samples):
        if ragged:
            return list(samples)
        n = max(len(s) for s in samples)
        out = np.zeros((len(samples), n, samples[0].shape[1]), dtype="float32")
        for i, s in enumerate(samples):
            out[i, :len(s)] = s
        return out

    return _build(directory, labels, label_mode, class_names, AUDIO_FORMATS,
                  batch_size, shuffle, seed, validation_split, subset, follow_links,
                  verbose, load, collate, what="audio files")
