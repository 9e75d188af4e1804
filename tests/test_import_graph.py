"""The import graph of kerax runs one way (DESIGN.md): core, then the basics
(ops, random, initializers, ...), losses/metrics/optimizers, layers, saving,
trainers/callbacks, models, and the public facades on top. No circles, and no
kerax import written inside a function (those are for optional dependencies)."""
import ast
import pathlib

import kerax

ROOT = pathlib.Path(kerax.__file__).parent

# Longest matching prefix wins; a module may import only from levels <= its own.
LEVELS = [
    ("kerax.core", 0),
    ("kerax._lazy", 0),  # stand-ins for third-party modules imported on first use
    ("kerax.variables", 1), ("kerax.transforms", 1),
    ("kerax.registry", 1), ("kerax.version", 1), ("kerax.tree", 1),
    ("kerax.io", 2),  # low-level helpers: io_utils (atomic_write, print_msg), progbar, PyDataset
    ("kerax.ops", 2), ("kerax.random", 2), ("kerax.dtype_policies", 2),
    ("kerax.quantizers", 2),  # keras.quantizers: on ops, dtype_policies and the registry
    ("kerax.config", 2),  # facade over core.config and the dtype policy
    ("kerax.initializers", 2), ("kerax.activations", 2), ("kerax.regularizers", 2),
    ("kerax.constraints", 2),
    ("kerax.distribution", 2),  # on core and kerax.random: optimizers, saving and the engine ask it
    ("kerax.losses", 3), ("kerax.metrics", 3), ("kerax.optimizers", 3),
    ("kerax.layers", 4),
    ("kerax.saving", 5), ("kerax.export", 5),
    ("kerax.callbacks", 6), ("kerax.trainers", 6),
    ("kerax.models", 7),
    ("kerax.distillation", 7),  # keras.distillation: Distiller is a Model
    ("kerax", 8),  # the public facades: kerax, kerax.backend, kerax.utils, kerax.mixed_precision, demo
    ("kerax.utils", 8),  # keras.utils: re-exports from every level (kerax.io, registry, backend, ...)
    ("kerax.applications", 8),  # keras.applications: functional models on layers, models, utils
]


def level(module):
    best = None
    for prefix, lvl in LEVELS:
        if module == prefix or module.startswith(prefix + "."):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, lvl)
    return best[1]


def modules():
    out = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        name = ".".join(rel.parts)
        if name.endswith(".__init__"):
            name = name[: -len(".__init__")]
        out[name] = path
    return out


def imports(path, known):
    """(imported kerax module, inside a function?, line) for each import."""
    def resolve(name):
        while name not in known and "." in name:
            name = name.rsplit(".", 1)[0]
        return name if name in known else None

    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                      ast.Lambda))
            names = []
            if isinstance(child, ast.Import):
                names = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                names = [f"{child.module}.{a.name}" for a in child.names]
            for n in names:
                if n == "kerax" or n.startswith("kerax."):
                    target = resolve(n)
                    if target:
                        found.append((target, inner, child.lineno))
            visit(child, inner)

    visit(ast.parse(path.read_text()), False)
    return found


def test_imports_run_one_way_without_circles():
    known = modules()
    problems, graph = [], {}
    for mod, path in sorted(known.items()):
        graph[mod] = set()
        for target, inner, line in sorted(set(imports(path, known))):
            if target == mod:
                continue
            where = f"{path.relative_to(ROOT.parent)}:{line}: {mod} imports {target}"
            if inner:
                problems.append(f"{where} inside a function")
            if level(target) > level(mod):
                problems.append(f"{where} (level {level(target)} > {level(mod)})")
            # A package's __init__ importing its own modules is not a circle.
            if not target.startswith(mod + "."):
                graph[mod].add(target)
            # Importing kerax.a.b.c first runs the packages kerax.a and kerax.a.b.
            parts = target.split(".")
            for i in range(2, len(parts)):
                package = ".".join(parts[:i])
                if package in known and not (mod + ".").startswith(package + ".") \
                        and not package.startswith(mod + "."):
                    if level(package) > level(mod):
                        problems.append(f"{where}: importing it runs package {package} "
                                        f"(level {level(package)} > {level(mod)})")
                    graph[mod].add(package)
    # circles among module-level imports (Tarjan)
    index, low, stack, on, sccs = {}, {}, [], set(), []

    def strong(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    for v in graph:
        if v not in index:
            strong(v)
    problems += [f"import circle: {' <-> '.join(c)}" for c in sccs]
    assert not problems, "\n".join(problems)
