"""`PyDataset`: a Python-side dataset of batches (Keras 3's `keras.utils.PyDataset`)."""

__all__ = ["PyDataset"]


class PyDataset:
    """Subclass and implement `__len__` (number of batches) and
    `__getitem__(index)` returning a batch `(x, y)` or `(x, y, sample_weight)`;
    `on_epoch_end` runs after each epoch (e.g. to reshuffle).

    `workers`, `use_multiprocessing` and `max_queue_size` are accepted for
    Keras compatibility; batches are read in order on the calling thread."""

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__.")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __len__.")

    @property
    def num_batches(self):
        return len(self)

    def on_epoch_end(self):
        pass

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]
