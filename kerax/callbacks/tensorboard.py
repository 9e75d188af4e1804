"""`TensorBoard`: write training logs for TensorBoard (through tensorboardX)."""
import os
import time
import warnings

import numpy as np

from kerax.callbacks import _lr
from kerax.callbacks.callback import Callback

__all__ = ["TensorBoard"]


def _summary_writer_class():
    try:
        from tensorboardX import SummaryWriter
    except ImportError as e:
        raise ImportError(
            "The TensorBoard callback writes its event files with the `tensorboardX` "
            "package, which is not installed. Install it with `pip install "
            "kerax[tensorboard]` (or `pip install tensorboardX`).") from e
    return SummaryWriter


def _scalar(value):
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf" or arr.size != 1:
        return None
    return float(arr.reshape(()))


def _parse_profile_batch(profile_batch):
    if isinstance(profile_batch, str):
        parts = [p.strip() for p in profile_batch.split(",") if p.strip()]
        profile_batch = [int(p) for p in parts]
    if isinstance(profile_batch, (int, np.integer)) and not isinstance(profile_batch, bool):
        start = stop = int(profile_batch)
    elif isinstance(profile_batch, (list, tuple)) and len(profile_batch) == 2:
        start, stop = (int(p) for p in profile_batch)
    else:
        start = stop = -1
    if start < 0 or stop < start:
        raise ValueError("TensorBoard: argument `profile_batch` must be a non-negative int, or "
                         "a pair (start, stop) of non-negative ints with start <= stop (also "
                         f"as the string 'start,stop'). Received: {profile_batch!r}")
    return start, stop


class TensorBoard(Callback):
    """Writes logs for TensorBoard: one folder per mode under `log_dir`
    (`log_dir/train`, `log_dir/validation`), the same layout and tag names as
    Keras (`epoch_loss`, `epoch_learning_rate`, `batch_loss`,
    `evaluation_loss_vs_iterations`, ...).

    The event files are written with `tensorboardX` (an optional dependency:
    `pip install kerax[tensorboard]`). View them with
    `tensorboard --logdir=logs`.

    Args:
        log_dir: the root folder of the logs.
        histogram_freq: every how many epochs to write histograms of the
            model's weights (0: never).
        write_graph: write the model's JSON config (as the text summary
            `keras`); kerax has no TensorFlow graph to show.
        write_images: also write 2-D weights as images (with
            `histogram_freq`).
        write_steps_per_second: also log the training speed.
        update_freq: `"epoch"` to write only epoch results, `"batch"` or an
            int `n` to also write the batch results every `n` steps (each write
            waits for the device).
        profile_batch: profile a batch (an int) or a range `(start, stop)` of
            batches with `jax.profiler`, into `log_dir/train` (0: no profiling).
        embeddings_freq, embeddings_metadata: accepted for compatibility;
            embedding projector output is not supported (a warning says so).
    """

    @property
    def accepts_grouped_batches(self):
        """Per-epoch logging without profiling needs no batch hook."""
        return self.update_freq == "epoch" and not self._should_trace

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0,
                 embeddings_freq=0, embeddings_metadata=None):
        super().__init__()
        _summary_writer_class()  # fail early, with the install hint
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and (not isinstance(update_freq, int)
                                       or isinstance(update_freq, bool) or update_freq <= 0):
            raise ValueError("TensorBoard: argument `update_freq` must be 'epoch', 'batch' or a "
                             f"positive int. Received: update_freq={update_freq!r}")
        self.update_freq = update_freq
        self.embeddings_freq = embeddings_freq
        self.embeddings_metadata = embeddings_metadata
        if embeddings_freq:
            warnings.warn("kerax's TensorBoard callback does not write embedding projector "
                          "data; `embeddings_freq` is ignored.", stacklevel=2)
        self._start_batch, self._stop_batch = (0, 0) if not profile_batch else \
            _parse_profile_batch(profile_batch)
        self._should_trace = self._stop_batch > 0
        self._is_tracing = False
        self._train_dir = os.path.join(self.log_dir, "train")
        self._val_dir = os.path.join(self.log_dir, "validation")
        self._writers = {}
        self._global_train_batch = 0
        self._global_test_batch = 0
        self._last_train_batch = -1
        self._last_test_batch = -1
        self._epoch_start_time = None
        self._epoch_steps = 0
        self._batch_start_time = None
        self._should_write_graph = False

    # ---- writers ----------------------------------------------------------------
    def _writer(self, kind):
        writer = self._writers.get(kind)
        if writer is None:
            SummaryWriter = _summary_writer_class()
            writer = SummaryWriter(logdir=self._train_dir if kind == "train" else self._val_dir)
            self._writers[kind] = writer
        return writer

    def _flush_writers(self):
        for writer in self._writers.values():
            writer.flush()

    def _close_writers(self):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def set_model(self, model):
        super().set_model(model)
        self._writers = {}
        self._should_write_graph = bool(self.write_graph)

    def _write_model_config(self):
        to_json = getattr(self._model, "to_json", None)
        if to_json is None:
            return
        try:
            text = to_json()
        except Exception as e:  # noqa: BLE001 - a model that can't serialize still trains
            warnings.warn(f"TensorBoard: could not write the model config ({e}).", stacklevel=2)
            return
        self._writer("train").add_text("keras", text, 0)

    # ---- hooks ------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        self._last_train_batch = -1
        if self._should_write_graph:
            self._write_model_config()
            self._should_write_graph = False

    def on_train_end(self, logs=None):
        if self._is_tracing:
            self._stop_trace()
        self._close_writers()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start_time = time.time()
        self._epoch_steps = 0
        self._last_train_batch = -1

    @staticmethod
    def _advance(batch, last):
        return batch + 1 if batch <= last else batch - last

    def on_train_batch_begin(self, batch, logs=None):
        if self.write_steps_per_second:
            self._batch_start_time = time.time()
        if self._should_trace and not self._is_tracing:
            # The global step this group of batches starts at (1-based).
            nxt = self._global_train_batch + 1
            if nxt >= self._start_batch and nxt <= self._stop_batch:
                self._start_trace()

    def on_train_batch_end(self, batch, logs=None):
        n = self._advance(batch, self._last_train_batch)
        self._last_train_batch = batch
        before = self._global_train_batch
        self._global_train_batch += n
        self._epoch_steps += n
        step = self._global_train_batch
        if self.update_freq != "epoch" and step // self.update_freq > before // self.update_freq:
            writer = self._writer("train")
            for name, value in (logs or {}).items():
                v = _scalar(value)
                if v is not None:
                    writer.add_scalar(f"batch_{name}", v, step)
            if self.write_steps_per_second and self._batch_start_time is not None:
                elapsed = time.time() - self._batch_start_time
                if elapsed > 0:
                    writer.add_scalar("batch_steps_per_second", n / elapsed, step)
        if self._is_tracing and step >= self._stop_batch:
            self._stop_trace()

    def on_test_begin(self, logs=None):
        self._last_test_batch = -1

    def on_test_batch_end(self, batch, logs=None):
        n = self._advance(batch, self._last_test_batch)
        self._last_test_batch = batch
        before = self._global_test_batch
        self._global_test_batch += n
        step = self._global_test_batch
        if self.update_freq != "epoch" and step // self.update_freq > before // self.update_freq:
            writer = self._writer("validation")
            for name, value in (logs or {}).items():
                v = _scalar(value)
                if v is not None:
                    writer.add_scalar(f"batch_{name}", v, step)

    def on_test_end(self, logs=None):
        optimizer = getattr(self._model, "optimizer", None)
        iterations = getattr(optimizer, "iterations", None)
        if logs and iterations is not None:
            step = int(np.asarray(iterations))
            writer = self._writer("validation")
            for name, value in logs.items():
                v = _scalar(value)
                if v is not None:
                    writer.add_scalar(f"evaluation_{name}_vs_iterations", v, step)
            writer.flush()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        train_logs = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val_logs = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        if getattr(self._model, "optimizer", None) is not None:
            _lr.add_learning_rates(self.model, train_logs)
        if self.write_steps_per_second and self._epoch_start_time is not None:
            elapsed = time.time() - self._epoch_start_time
            if elapsed > 0:
                train_logs["steps_per_second"] = self._epoch_steps / elapsed
        for kind, entries in (("train", train_logs), ("validation", val_logs)):
            if not entries:
                continue
            writer = self._writer(kind)
            for name, value in entries.items():
                v = _scalar(value)
                if v is not None:
                    writer.add_scalar(f"epoch_{name}", v, epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        self._flush_writers()

    def _log_weights(self, epoch):
        writer = self._writer("train")
        for w in getattr(self.model, "weights", None) or ():
            name = str(getattr(w, "path", None) or getattr(w, "name", "weight")).replace(":", "_")
            arr = np.asarray(w)
            if arr.dtype.kind == "V" or arr.dtype.kind not in "biuf":
                arr = arr.astype(np.float32)
            writer.add_histogram(f"{name}/histogram", arr, epoch)
            if self.write_images:
                img = np.squeeze(arr)
                if img.ndim == 1:
                    img = img[None, :]
                if img.ndim == 2:
                    lo, hi = float(img.min()), float(img.max())
                    img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
                    writer.add_image(f"{name}/image", img[None].astype(np.float32), epoch)

    # ---- profiling --------------------------------------------------------------
    def _start_trace(self):
        import jax

        os.makedirs(self._train_dir, exist_ok=True)
        jax.profiler.start_trace(self._train_dir)
        self._is_tracing = True

    def _stop_trace(self):
        import jax

        jax.profiler.stop_trace()
        self._is_tracing = False
