"""The README's main job: `python -m kerax demo`."""
import os
import subprocess
import sys


def test_demo_trains_saves_and_reloads(tmp_path):
    out = tmp_path / "demo.keras"
    proc = subprocess.run([sys.executable, "-m", "kerax", "demo", "--output", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = proc.stdout
    assert "Epoch 1/10" in text and "━" in text
    acc = float(text.split("test accuracy ")[1].split("%")[0])
    assert acc > 90.0
    assert "reloaded model predicts the same: True" in text
    assert os.path.getsize(out) > 0


def test_demo_help_lists_options():
    proc = subprocess.run([sys.executable, "-m", "kerax", "demo", "--help"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    for opt in ("--epochs", "--batch-size", "--output"):
        assert opt in proc.stdout
