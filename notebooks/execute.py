"""Run the notebooks top to bottom and save them with their outputs.

    python notebooks/execute.py                    # every notebook in notebooks/
    python notebooks/execute.py 03_customizing_fit # only the ones named
    python notebooks/execute.py --check            # run them, fail on an error, write nothing

A code cell whose metadata has `"docs_image": "<name>"` also has its first picture saved
as docs/images/<name>.png, where the documentation's guides show it.

Each notebook runs in a fresh Jupyter kernel (the `python3` kernel of this Python), in a
temporary copy of this folder, so the files a notebook writes (models, logs) do not land in
the repository. tests/test_notebooks.py uses `run_notebook` to execute them the same way.
"""
import argparse
import base64
import pathlib
import shutil
import sys
import tempfile
import time

import nbformat
from jupyter_client import KernelManager
from nbclient import NotebookClient

HERE = pathlib.Path(__file__).resolve().parent
DOCS_IMAGES = HERE.parent / "docs" / "images"


def notebooks(names=None):
    """The notebook paths in this folder, in order (only `names` when given)."""
    found = sorted(HERE.glob("[0-9][0-9]_*.ipynb"))
    if not names:
        return found
    by_stem = {p.stem: p for p in found}
    missing = [n for n in names if pathlib.Path(n).stem not in by_stem]
    if missing:
        raise SystemExit(f"no such notebook: {', '.join(missing)} "
                         f"(have: {', '.join(by_stem)})")
    return [by_stem[pathlib.Path(n).stem] for n in names]


def run_notebook(path, workdir, timeout=600):
    """Execute the notebook at `path` with `workdir` as its working directory (a copy of
    notebooks/data/ is placed there first) and return the executed notebook. A cell that
    raises makes this raise `nbclient.exceptions.CellExecutionError`."""
    workdir = pathlib.Path(workdir)
    if (HERE / "data").is_dir() and not (workdir / "data").exists():
        shutil.copytree(HERE / "data", workdir / "data")
    nb = nbformat.read(path, as_version=4)
    # IPC (Unix sockets in workdir) rather than TCP: no race for free ports with other
    # processes starting kernels or servers at the same time.
    km = KernelManager(kernel_name="python3", transport="ipc",
                       ip=str(workdir / "kernel"))
    client = NotebookClient(nb, km=km, timeout=timeout, record_timing=False,
                            resources={"metadata": {"path": str(workdir)}})
    client.execute()
    return nb


def save_docs_images(nb, folder=DOCS_IMAGES):
    """Write the first PNG output of each cell marked `docs_image` to `folder`; return
    the names written."""
    written = []
    for cell in nb.cells:
        name = cell.get("metadata", {}).get("docs_image")
        if not name:
            continue
        pngs = [o["data"]["image/png"] for o in cell.get("outputs", [])
                if "image/png" in o.get("data", {})]
        if not pngs:
            raise RuntimeError(f"the cell marked docs_image={name!r} produced no picture")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.png").write_bytes(base64.b64decode(pngs[0]))
        written.append(name)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebooks to run (default: all)")
    parser.add_argument("--check", action="store_true",
                        help="run them and report errors, but do not write the outputs")
    args = parser.parse_args(argv)
    for path in notebooks(args.names):
        with tempfile.TemporaryDirectory() as workdir:
            start = time.perf_counter()
            nb = run_notebook(path, workdir)
            seconds = time.perf_counter() - start
        if args.check:
            print(f"{path.name}: ran in {seconds:.0f} s")
            continue
        nbformat.write(nb, path)
        images = save_docs_images(nb)
        print(f"{path.name}: ran in {seconds:.0f} s, outputs saved"
              + (f"; docs/images: {', '.join(images)}" if images else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
