"""The progress bar (`keras.utils.Progbar`), with Keras 3's layout:

    88/88 ━━━━━━━━━━━━━━━━━━━━ 1s 3ms/step - loss: 0.4200 - mae: 0.4800

On a terminal (or a Jupyter kernel) the line is redrawn in place with `\\r`,
at most every `interval` seconds and always at the last step, with Keras'
bold/green/grey highlighting. When the output is not a terminal (a log file,
a pipe, a CI job) nothing is drawn until the last step, which prints one plain
line, so logs get one line per epoch.

Values may be 0-d JAX arrays still being computed on the device: they are
kept as they are and converted to Python floats only when a line is actually
drawn, so a `fit` loop does not wait on the device between redraws.
"""
import math
import os
import sys
import time

import numpy as np

from kerax.io import io_utils

__all__ = ["Progbar"]

_BAR_CHAR = "\u2501"  # '━'
_BOLD = "\x1b[1m"
_GREEN = "\x1b[32m"
_GREY = "\x1b[37m"
_RESET = "\x1b[0m"


def _is_dynamic_display():
    out = sys.stdout
    try:
        if out is not None and out.isatty():
            return True
    except (AttributeError, ValueError):
        pass
    # A Jupyter kernel's stdout is ipykernel's OutStream (ipykernel merely
    # imported, e.g. by a notebook runner, does not make a display dynamic).
    return type(out).__module__.startswith("ipykernel") or "PYCHARM_HOSTED" in os.environ


def _to_number(v):
    """A display value as a Python float (forces a device value to the host)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    arr = np.asarray(v)
    if arr.dtype.kind not in "biuf":
        return None
    return float(arr) if arr.ndim == 0 else float(np.mean(arr))


def _format_value(v):
    x = _to_number(v)
    if x is None:
        return str(v)
    if abs(x) > 1e-3 or not math.isfinite(x):
        return f"{x:.4f}"
    return f"{x:.4e}"


def _format_time_per_unit(seconds, unit_name):
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit_name}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit_name}"
    return f"{seconds * 1e6:.0f}us/{unit_name}"


def _format_eta(seconds):
    if seconds > 3600:
        return "%d:%02d:%02d" % (seconds // 3600, (seconds % 3600) // 60, seconds % 60)
    if seconds > 60:
        return "%d:%02d" % (seconds // 60, seconds % 60)
    return "%ds" % seconds


class Progbar:
    """Displays a progress bar.

    Args:
        target: total number of steps expected, or None if unknown.
        width: the bar's width in characters (20).
        verbose: 0 silent, 1 progress bar, 2 one line at the end.
        interval: minimum seconds between two redraws of the bar.
        stateful_metrics: names of values shown as given. All other values are
            averaged over the steps (weighted by the number of steps since the
            previous update). Pass at most one of `stateful_metrics` and
            `stateless_metrics`.
        stateless_metrics: names of values to average; every other value is
            shown as given.
        unit_name: the unit in the time-per-unit field ("step", "sample").
    """

    def __init__(self, target, width=20, verbose=1, interval=0.05, stateful_metrics=None,
                 stateless_metrics=None, unit_name="step"):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError(
                "Progbar: pass only one of `stateful_metrics` (names shown as given, the "
                "rest averaged) and `stateless_metrics` (names averaged, the rest shown "
                "as given).")
        if target is not None:
            try:
                ok = int(target) == target and target >= 0
            except (TypeError, ValueError):
                ok = False
            if not ok or isinstance(target, bool):
                raise ValueError("Progbar: argument `target` must be a non-negative int or "
                                 f"None. Received: {target!r}")
        if verbose not in (0, 1, 2):
            raise ValueError(f"Progbar: argument `verbose` must be 0, 1 or 2. Received: {verbose!r}")
        self.target = None if target is None else int(target)
        self.width = int(width)
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        if stateless_metrics is not None:
            self.stateful_metrics = None
            self.stateless_metrics = set(stateless_metrics)
        else:
            self.stateful_metrics = set(stateful_metrics or ())
            self.stateless_metrics = None
        self._dynamic_display = _is_dynamic_display()
        self._seen_so_far = 0
        # name -> [sum, count] for averaged values, or [value, 1] for values
        # shown as given; the entries may be device arrays until drawn.
        self._values = {}
        self._start = time.time()
        self._last_update = 0.0
        self._first_update = None  # (current, time) of the first update after step 0
        self._prev_total_width = 0

    def _is_averaged(self, name):
        if self.stateful_metrics is not None:
            return name not in self.stateful_metrics
        return name in self.stateless_metrics

    def update(self, current, values=None, finalize=None):
        """Updates the progress bar.

        Args:
            current: index of the current step (1-based: the steps done so far).
            values: a list of `(name, value)` tuples (or a dict). Values may be
                floats, NumPy or JAX arrays; they are read only when drawn.
            finalize: whether this is the last update. Defaults to
                `current >= target`.
        """
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        if isinstance(values, dict):
            values = values.items()
        for name, v in values or ():
            if self._is_averaged(name):
                if finalize:
                    self._values[name] = [v, 1]
                else:
                    n = max(current - self._seen_so_far, 1)
                    entry = self._values.get(name)
                    if entry is None:
                        self._values[name] = [v * n, n]
                    else:
                        entry[0] = entry[0] + v * n
                        entry[1] += n
            else:
                self._values[name] = [v, 1]
        self._seen_so_far = current

        now = time.time()
        if self._first_update is None and current > 0:
            self._first_update = (current, now)
        if self.verbose == 0:
            return
        if self.verbose == 1:
            if self._dynamic_display:
                if not finalize and now - self._last_update < self.interval:
                    return
                self._draw_bar(current, now, finalize)
                self._last_update = now
            elif finalize:
                self._draw_bar(current, now, finalize)
            return
        if finalize:  # verbose == 2
            self._draw_summary_line(current, now)

    def add(self, n, values=None):
        """Advance the bar by `n` steps."""
        self.update(self._seen_so_far + n, values)

    # ---- drawing ----------------------------------------------------------------
    def _time_per_unit(self, current, now):
        if not current:
            return 0.0
        if self._first_update is not None and current > self._first_update[0]:
            first_current, first_time = self._first_update
            # The first update usually includes compilation: leave it out.
            return (now - first_time) / (current - first_current)
        return (now - self._start) / current

    def _metrics_text(self):
        parts = []
        for name, (total, count) in self._values.items():
            if count != 1:
                x = _to_number(total)
                text = _format_value(total) if x is None else _format_value(x / count)
            else:
                text = _format_value(total)
            parts.append(f" - {name}: {text}")
        return "".join(parts)

    def _styled(self, text, style):
        return f"{style}{text}{_RESET}" if self._dynamic_display else text

    def _draw_bar(self, current, now, finalize):
        if self.target is not None and self.target > 0:
            ndigits = len(str(self.target))
            count = f"{current:>{ndigits}d}/{self.target}"
            done = min(int(self.width * current / self.target), self.width)
            bar = self._styled(count, _BOLD) + " "
            plain_bar = count + " "
            if done > 0:
                bar += self._styled(_BAR_CHAR * done, _GREEN)
            bar += self._styled(_BAR_CHAR * (self.width - done), _GREY)
            plain_bar += _BAR_CHAR * self.width
        else:
            bar = plain_bar = "%7d/Unknown" % current
        if self.target is not None and self.target > 0 and not finalize:
            eta = self._time_per_unit(current, now) * (self.target - current)
            clock = _format_eta(eta)
        else:
            clock = f"{now - self._start:.0f}s"
        info_plain = f" {clock} " + _format_time_per_unit(
            self._time_per_unit(current, now), self.unit_name) + self._metrics_text()
        info = " " + self._styled(clock, _BOLD) + info_plain[len(clock) + 1:]
        width = len(plain_bar) + len(info_plain)
        if self._dynamic_display:
            message = "\r" + bar + info
            if self._prev_total_width > width:
                message += " " * (self._prev_total_width - width)
            self._prev_total_width = width
            if finalize:
                message += "\n"
        else:
            message = bar + info + "\n"
        io_utils.print_msg(message, line_break=False)

    def _draw_summary_line(self, current, now):
        if self.target is not None and self.target > 0:
            count = f"{current:>{len(str(self.target))}d}/{self.target}"
        else:
            count = f"{current}"
        line = (f"{count} - {now - self._start:.0f}s - "
                + _format_time_per_unit(self._time_per_unit(current, now), self.unit_name)
                + self._metrics_text())
        io_utils.print_msg(line)
