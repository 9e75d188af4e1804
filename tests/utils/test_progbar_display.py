"""When the progress bar redraws in place (a terminal or a Jupyter kernel's
output stream) and when it prints one line per update (files, pipes, pytest)."""
import io
import sys

import pytest

from kerax.io import progbar


def test_importing_ipykernel_does_not_make_a_pipe_dynamic(monkeypatch):
    pytest.importorskip("ipykernel")
    import ipykernel  # noqa: F401  (a notebook runner in the same process imports it)
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert progbar._is_dynamic_display() is False


def test_a_kernel_output_stream_is_dynamic(monkeypatch):
    OutStream = type("OutStream", (io.StringIO,), {"__module__": "ipykernel.iostream"})
    monkeypatch.setattr(sys, "stdout", OutStream())
    assert progbar._is_dynamic_display() is True


def test_a_terminal_is_dynamic(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True
    monkeypatch.setattr(sys, "stdout", Tty())
    assert progbar._is_dynamic_display() is True
