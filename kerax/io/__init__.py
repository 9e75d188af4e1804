"""Low-level I/O helpers used across kerax (saving, callbacks, trainers): the
atomic file writer and message printer (`io_utils`), the progress bar
(`progbar`) and `PyDataset`. Users reach them as `kerax.utils.*`."""
