"""Small I/O helpers: the atomic file writer every kerax file write goes
through, and the message printer the callbacks and the progress bar use
(to stdout, or to the `logging` logger "kerax" when interactive logging is off)."""
import contextlib
import logging
import os
import sys
import tempfile

from kerax.core import config as core_config

__all__ = ["atomic_write", "print_msg", "enable_interactive_logging",
           "disable_interactive_logging", "is_interactive_logging_enabled"]

_logger = logging.getLogger("kerax")
# The switch lives in kerax.core.config (one state for kerax.config and kerax.utils).
enable_interactive_logging = core_config.enable_interactive_logging
disable_interactive_logging = core_config.disable_interactive_logging
is_interactive_logging_enabled = core_config.is_interactive_logging_enabled


_WRITE_MODES = ("w", "wb", "wt", "w+", "wb+", "w+b", "wt+", "w+t")
_default_file_mode = None


def _new_file_mode():
    """Permission bits a plain `open(path, "w")` would give a new file
    (0o666 minus the process umask), read once and cached."""
    global _default_file_mode
    if _default_file_mode is None:
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("Umask:"):
                        _default_file_mode = 0o666 & ~int(line.split()[1], 8)
                        break
        except OSError:
            pass
        if _default_file_mode is None:
            old = os.umask(0o022)  # the only portable way to read the umask
            os.umask(old)
            _default_file_mode = 0o666 & ~old
    return _default_file_mode


def _fsync_dir(dirname):
    """Make a rename durable: fsync the folder holding the file (POSIX only)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(dirname, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(path, mode="wb", encoding=None, newline=None):
    """Write a file all-or-nothing.

    Yields a file object open on a temporary file in the same folder as `path`.
    When the `with` block ends normally the data is flushed and fsynced and
    the temporary file is renamed over `path` (`os.replace`, atomic on POSIX
    and Windows), so a reader sees either the old file or the complete new
    one, never a half-written file. If the block raises, the temporary file is
    removed, `path` is left untouched and the exception propagates.

    Args:
        path: the target file (str or path-like). Its folder must exist.
        mode: a write mode, `"wb"` (default) or `"w"` for text.
        encoding: text encoding for text modes (default `"utf-8"`).
        newline: passed to `open` for text modes.

    Example:

    ```python
    with atomic_write("model.json", "w") as f:
        f.write(json.dumps(config))
    ```
    """
    if mode not in _WRITE_MODES:
        raise ValueError(
            "atomic_write: argument `mode` must be a write mode such as 'wb' or 'w' "
            f"(appending or reading cannot be atomic). Received: mode={mode!r}")
    path = os.fspath(path)
    if not path:
        raise ValueError("atomic_write: argument `path` must be a non-empty file path.")
    if os.path.isdir(path):
        raise IsADirectoryError(
            f"atomic_write: `path` is an existing directory, expected a file path: {path!r}")
    dirname = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(dirname):
        raise FileNotFoundError(
            f"atomic_write: the folder {dirname!r} of {path!r} does not exist; create it first.")
    binary = "b" in mode
    fd, tmp_path = tempfile.mkstemp(
        dir=dirname, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        if binary:
            f = os.fdopen(fd, mode)
        else:
            f = os.fdopen(fd, mode, encoding=encoding or "utf-8", newline=newline)
    except BaseException:
        os.close(fd)
        os.unlink(tmp_path)
        raise
    try:
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        try:
            st_mode = os.stat(path).st_mode & 0o7777
        except OSError:
            st_mode = _new_file_mode()
        try:
            os.chmod(tmp_path, st_mode)
        except OSError:
            pass
        os.replace(tmp_path, path)
    except BaseException:
        try:
            os.unlink(tmp_path)
        except OSError:
            pass
        raise
    _fsync_dir(dirname)


def print_msg(message, line_break=True):
    """Print `message` to the current `sys.stdout` (read at call time, so
    redirection and capture work) and flush; with interactive logging off,
    log it at INFO level instead."""
    message = str(message)
    if not is_interactive_logging_enabled():
        _logger.info(message)
        return
    out = sys.stdout
    if out is None:
        return
    out.write(message + "\n" if line_break else message)
    out.flush()
