"""`Model.summary()`: a Keras-like table of layers, output shapes and parameter counts."""
import numpy as np


def _fmt_bytes(n):
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024


def _count(vars_):
    return int(sum(np.prod(v.shape, dtype=np.int64) for v in vars_))


def _nbytes(vars_):
    return int(sum(np.prod(v.shape, dtype=np.int64) * np.dtype(v.dtype).itemsize for v in vars_))


def _output_shape(layer):
    nodes = [n for n in getattr(layer, "_inbound_nodes", []) if n is not None]
    if not nodes:
        out = getattr(layer, "output", None)
        if out is not None and hasattr(out, "shape"):
            return str(tuple(out.shape))
        return "?"
    outs = nodes[-1].output_tensors
    if len(outs) == 1:
        return str(tuple(outs[0].shape))
    return str([tuple(t.shape) for t in outs])


def print_summary(model, print_fn=None, line_length=None):
    print_fn = print_fn or print
    graph = getattr(model, "_graph", None)
    layers = model.layers
    if type(model).__name__ == "Sequential" or graph is not None:
        rows_layers = [l for l in layers if graph is not None or type(l).__name__ != "InputLayer"]
    else:
        rows_layers = layers
    connected = graph is not None
    headers = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if connected else [])
    rows = []
    for layer in rows_layers:
        params = _count(layer.weights) if layer.built else 0
        row = [f"{layer.name} ({type(layer).__name__})", _output_shape(layer), f"{params:,}"]
        if connected:
            srcs = []
            for node in getattr(layer, "_inbound_nodes", []):
                if node is None:
                    continue
                for t in node.input_tensors:
                    src = t._history[0]
                    srcs.append(f"{src.name}[{t._history[1]}][{t._history[2]}]")
            row.append(", ".join(srcs) if srcs else "-")
        rows.append(row)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    widths = [max(w, 12) for w in widths]

    def line(cells, left, mid, right, fill=" "):
        parts = []
        for i, (c, w) in enumerate(zip(cells, widths)):
            c = c.rjust(w) if headers[i] == "Param #" else c.ljust(w)
            parts.append(fill + c + fill)
        return left + mid.join(parts) + right

    def rule(left, mid, right, ch):
        return left + mid.join(ch * (w + 2) for w in widths) + right

    print_fn(f'Model: "{model.name}"')
    print_fn(rule("┏", "┳", "┓", "━"))
    print_fn(line(headers, "┃", "┃", "┃"))
    print_fn(rule("┡", "╇", "┩", "━"))
    for i, r in enumerate(rows):
        print_fn(line(r, "│", "│", "│"))
        if i < len(rows) - 1:
            print_fn(rule("├", "┼", "┤", "─"))
    print_fn(rule("└", "┴", "┘", "─"))
    total = model.weights
    trainable = model.trainable_weights
    tr_ids = {id(v) for v in trainable}
    non_trainable = [v for v in total if id(v) not in tr_ids]
    print_fn(f" Total params: {_count(total):,} ({_fmt_bytes(_nbytes(total))})")
    print_fn(f" Trainable params: {_count(trainable):,} ({_fmt_bytes(_nbytes(trainable))})")
    print_fn(f" Non-trainable params: {_count(non_trainable):,} ({_fmt_bytes(_nbytes(non_trainable))})")
    return {"total": _count(total), "trainable": _count(trainable),
            "non_trainable": _count(non_trainable)}
