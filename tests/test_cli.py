"""`python -m kerax`: the subcommand list, `--help` for each, and `info`.

`python -m kerax demo` itself is tested in tests/test_demo.py."""
import importlib.metadata
import os
import subprocess
import sys

import jax
import pytest

import kerax
from kerax.__main__ import main


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "kerax", *args], capture_output=True,
                          text=True, timeout=300, env=env)


def test_no_command_lists_the_subcommands(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "usage: python -m kerax" in out
    for command in ("demo", "info"):
        assert f"    {command} " in out


@pytest.mark.parametrize("command", ["demo", "info"])
def test_each_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: python -m kerax {command}" in capsys.readouterr().out


def test_demo_help_keeps_the_readme_options(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    out = capsys.readouterr().out
    for option in ("--epochs", "--batch-size", "--output", "--seed"):
        assert option in out


def test_unknown_command_is_an_error_naming_the_choices(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["trian"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'trian'" in err and "'demo'" in err and "'info'" in err


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"kerax {kerax.__version__}"


def test_info_prints_versions_and_devices(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"kerax {kerax.__version__}"
    for package in ("jax", "jaxlib", "optax", "flax", "numpy", "h5py"):
        assert f"  {package:<13} {importlib.metadata.version(package)}\n" in out
    assert f"default backend: {jax.default_backend()}" in out
    for device in jax.devices():
        assert f"  {device.id}: {device} ({device.device_kind})" in out
    assert "compilation cache:" in out


def test_info_from_the_command_line_shows_the_cache_directory(tmp_path):
    cache = tmp_path / "jax_cache"
    env = {**os.environ, "JAX_COMPILATION_CACHE_DIR": str(cache)}
    proc = run_cli("info", env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"directory   {cache} (not created yet)" in proc.stdout

    # kerax's default: a per-user folder (KERAX_CACHE_DIR moves it)
    env.pop("JAX_COMPILATION_CACHE_DIR")
    env["KERAX_CACHE_DIR"] = str(tmp_path / "kerax_cache")
    proc = run_cli("info", env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"directory   {tmp_path / 'kerax_cache' / 'jax'} (exists)" in proc.stdout

    env["KERAX_COMPILATION_CACHE"] = "0"
    proc = run_cli("info", env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "persistent compilation cache is off" in proc.stdout
