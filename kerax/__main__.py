"""kerax's command line: `python -m kerax <command>`.

    python -m kerax demo    train, save and reload a small model on the digits shipped with kerax
    python -m kerax info    versions, JAX devices and the compilation cache location

`python -m kerax <command> --help` describes each command's options.
"""
import argparse
import importlib.metadata
import os
import platform
import sys

import jax

import kerax
from kerax.demo import run

# Distributions whose versions `info` prints (the optional ones only when installed).
PACKAGES = ("jax", "jaxlib", "optax", "flax", "numpy", "h5py")
OPTIONAL_PACKAGES = ("keras", "tensorboardX", "pillow", "pydot")


def _version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def info_lines():
    """The lines `python -m kerax info` prints: versions, devices, compilation cache.

    >>> lines = info_lines()
    >>> lines[0].startswith("kerax ")
    True
    """
    lines = [f"kerax {kerax.__version__}",
             f"python {platform.python_version()} ({sys.executable})",
             f"platform {platform.platform()}", "", "packages:"]
    for name in PACKAGES:
        lines.append(f"  {name:<13} {_version(name) or 'not installed'}")
    for name in OPTIONAL_PACKAGES:
        version = _version(name)
        lines.append(f"  {name:<13} {version or 'not installed (optional)'}")

    lines += ["", f"devices (default backend: {jax.default_backend()}, "
                  f"process {jax.process_index()} of {jax.process_count()}):"]
    for device in jax.devices():
        lines.append(f"  {device.id}: {device} ({device.device_kind})")

    cache_dir = jax.config.jax_compilation_cache_dir if \
        jax.config.jax_enable_compilation_cache else None
    lines += ["", "compilation cache:"]
    if cache_dir:
        exists = "exists" if os.path.isdir(cache_dir) else "not created yet"
        lines.append(f"  directory   {os.path.abspath(cache_dir)} ({exists})")
        lines.append("  min compile time cached: "
                     f"{jax.config.jax_persistent_cache_min_compile_time_secs} s")
    else:
        lines.append("  directory   none: JAX's persistent compilation cache is off")
        lines.append("  kerax turns it on at import unless KERAX_COMPILATION_CACHE=0; "
                     "kerax.config.enable_compilation_cache(path) turns it on")
    return lines


def _info(args):
    print("\n".join(info_lines()))
    return 0


def _demo(args):
    return run(epochs=args.epochs, batch_size=args.batch_size, output=args.output,
               seed=args.seed)


def build_parser():
    """The argument parser of `python -m kerax` (one subparser per command)."""
    parser = argparse.ArgumentParser(
        prog="python -m kerax",
        description="kerax: Keras-compatible deep learning that runs as pure JAX functions.",
        epilog="Run `python -m kerax <command> --help` for a command's options.")
    parser.add_argument("--version", action="version", version=f"kerax {kerax.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="<command>", title="commands")

    demo = sub.add_parser(
        "demo", help="train a small model on a dataset shipped with kerax",
        description="Train Flatten -> Dense(128, relu) -> Dropout(0.2) -> Dense(10, softmax) "
                    "on the 8x8 handwritten digits shipped with kerax (no download), print "
                    "the test accuracy, save the model, reload it and check the reloaded "
                    "model predicts the same. Exits with 1 if the accuracy is not above 90% "
                    "or the predictions differ.")
    demo.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    demo.add_argument("--batch-size", type=int, default=32, help="batch size (default 32)")
    demo.add_argument("--output", default="kerax_demo.keras",
                      help="where to save the trained model (default kerax_demo.keras)")
    demo.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    demo.set_defaults(handler=_demo)

    info = sub.add_parser(
        "info", help="print versions, JAX devices and the compilation cache location",
        description="Print the versions of kerax, Python and the packages it uses, the "
                    "devices JAX sees, and where JAX's persistent compilation cache is "
                    "(or that it is off).")
    info.set_defaults(handler=_info)
    return parser


def main(argv=None):
    """Run the command line with `argv` (default: `sys.argv[1:]`); return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
