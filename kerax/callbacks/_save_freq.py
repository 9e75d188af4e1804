"""The `save_freq=<int>` batch count shared by ModelCheckpoint and BackupAndRestore."""


def should_save_on_batch(callback, batch):
    """Whether `callback` is due to save after `batch`, `callback.save_freq`
    batches after its last save. A batch index not above the last one seen
    starts a new epoch; a jump of several counts the batches `steps_per_execution`
    ran together. Keeps its count in `_last_batch_seen` (None or -1 at first)
    and `_batches_seen_since_last_saving`."""
    if callback.save_freq == "epoch":
        return False
    last = callback._last_batch_seen
    if last is None or batch <= last:
        add = batch + 1  # a new epoch started
    else:
        add = batch - last
    callback._batches_seen_since_last_saving += add
    callback._last_batch_seen = batch
    if callback._batches_seen_since_last_saving >= callback.save_freq:
        callback._batches_seen_since_last_saving = 0
        return True
    return False
