"""`Model.summary()`: Keras 3's table of layers, output shapes and parameter
counts (same rows, columns and totals; drawn without `rich`).

- Sequential and subclassed models, and functional models whose graph is a
  chain, get the columns Layer (type) / Output Shape / Param #; other
  functional models also get Connected to (their own nodes only).
- `show_trainable` adds a Trainable column: Y / N for layers with weights, `-`
  for layers without.
- `expand_nested` adds the layers of nested models (anything with `layers`)
  under their parent, indented `"   " * depth + "└ "`.
- `layer_range=(first, last)`: the top-level rows from the first layer whose
  name matches `first` (a regex, `re.match`) to the last matching `last`.
- `line_length` / `positions` fix the column widths as Keras computes them
  (cells wrap, words too long end in "…"); by default columns fit their text.
- The totals count the model's weights plus, once the optimizer is built,
  its variables (an "Optimizer params" line), as Keras does.
"""
import re
import textwrap

import numpy as np

__all__ = ["print_summary", "layer_index_range"]


def _fmt_bytes(n):
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n / 1024 < 1 or unit == "TB":
            return f"{n:.2f} {unit}"
        n /= 1024


def _count(vars_):
    return int(sum(np.prod(v.shape, dtype=np.int64) for v in vars_))


def _nbytes(vars_):
    unique = {id(v): v for v in vars_}.values()
    return int(sum(np.prod(v.shape, dtype=np.int64) * np.dtype(v.dtype).itemsize
                   for v in unique))


def _is_shape(x):
    return isinstance(x, (tuple, list)) and all(d is None or isinstance(d, (int, np.integer))
                                                for d in x)


def _format_shapes(shapes):
    if _is_shape(shapes):
        return str(tuple(shapes))
    flat = []

    def walk(x):
        if _is_shape(x) or not isinstance(x, (tuple, list, dict)):
            flat.append(x)
        else:
            for v in (x.values() if isinstance(x, dict) else x):
                walk(v)

    walk(shapes)
    return str(tuple(flat[0])) if len(flat) == 1 else str([tuple(s) for s in flat])


def _output_shape(layer):
    """From the layer's last functional node; for a layer only called eagerly
    (inside a subclassed model), from its build shapes (Keras' rule)."""
    nodes = [n for n in getattr(layer, "_inbound_nodes", []) if n is not None]
    if nodes:
        return _format_shapes([tuple(t.shape) for t in nodes[-1].output_tensors])
    out = getattr(layer, "output", None) if type(layer).__name__ == "InputLayer" else None
    if out is not None and hasattr(out, "shape"):
        return _format_shapes(tuple(out.shape))
    shapes_dict = layer.__dict__.get("_build_shapes_dict")
    shapes = layer.__dict__.get("_build_shapes")
    if shapes_dict is None and shapes is None:
        return "?"
    try:
        out = layer.compute_output_shape(**shapes_dict) if shapes_dict is not None \
            else layer.compute_output_shape(shapes)
    except Exception:  # a layer that cannot say (Keras shows "?" too)
        return "?"
    return _format_shapes(out)


def layer_index_range(layers, layer_range=None):
    """[first, last + 1] of the rows `layer_range` selects (Keras' rule)."""
    if layer_range is None:
        return 0, len(layers)
    if len(layer_range) != 2:
        raise ValueError(
            "layer_range must be a list or tuple of length 2. Received: "
            f"layer_range = {layer_range} of length {len(layer_range)}")
    if not all(isinstance(n, str) for n in layer_range):
        raise ValueError(f"layer_range should contain string type only. Received: {layer_range}")
    lower = [i for i, l in enumerate(layers) if re.match(layer_range[0], l.name)]
    upper = [i for i, l in enumerate(layers) if re.match(layer_range[1], l.name)]
    if not lower or not upper:
        raise ValueError(
            "Passed layer_names do not match the layer names in the model. "
            f"Received: {layer_range}")
    if min(lower) > max(upper):
        return min(upper), max(lower) + 1
    return min(lower), max(upper) + 1


def _sequential_like(graph):
    """Keras' test: one node per depth, each with one input tensor, and no
    layer called twice in the graph."""
    if len(graph.flat_inputs) > 1:
        return False
    if any(len(node.input_tensors) > 1 for node in graph.nodes):
        return False
    input_ids = {id(t) for t in graph.flat_inputs}
    depth = {}
    for node in reversed(graph.nodes):
        d = depth.setdefault(id(node), 0)
        for t in node.input_tensors:
            layer, node_index, _ = t._history
            key = id(t) if id(t) in input_ids else id(layer._inbound_nodes[node_index])
            depth[key] = max(depth.get(key, 0), d + 1)
    per_depth = {}
    for d in depth.values():
        per_depth[d] = per_depth.get(d, 0) + 1
    if any(n > 1 for n in per_depth.values()):
        return False
    layer_ids = [id(node.layer) for node in graph.nodes]
    return len(layer_ids) == len(set(layer_ids))


def _wrap(text, width):
    lines = textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False) or [""]
    return [l if len(l) <= width else l[:width - 1] + "…" for l in lines]


def print_summary(model, line_length=None, positions=None, print_fn=None, expand_nested=False,
                  show_trainable=False, layer_range=None):
    print_fn = print_fn or print
    graph = getattr(model, "_graph", None)
    layers = graph.operations if graph is not None else [  # ops are rows, as in Keras
        l for l in model.layers if type(l).__name__ != "InputLayer"]
    connected = graph is not None and not _sequential_like(graph)
    headers = ["Layer (type)", "Output Shape", "Param #"]
    align = ["left", "left", "right"]
    if connected:
        headers.append("Connected to")
        align.append("left")
        default_length, default_positions = 108, [0.3, 0.56, 0.74, 1.0]
        graph_nodes = {id(n) for n in graph.nodes}
    else:
        default_length, default_positions = 88, [0.45, 0.80, 1.0]
        graph_nodes = set()
    if show_trainable:
        headers.append("Trainable")
        align.append("center")
        default_length += 12
        default_positions = [p * 0.90 for p in default_positions] + [1.0]
        if positions is not None:
            positions = [p * 0.90 for p in positions] + [1.0]

    def connections(layer):
        srcs = []
        for node in getattr(layer, "_inbound_nodes", []):
            if node is None or id(node) not in graph_nodes:
                continue
            for t in node.input_tensors:
                src, node_index, tensor_index = t._history
                srcs.append(f"{src.name}[{node_index}][{tensor_index}]")
        return ", ".join(srcs) or "-"

    def fields(layer, prefix):
        if not hasattr(layer, "built"):
            params = "0"
        elif not layer.built:
            params = "0 (unbuilt)"
        else:
            params = f"{_count(layer.weights):,}"
        row = [f"{prefix}{layer.name} ({type(layer).__name__})", _output_shape(layer), params]
        if connected:
            row.append(connections(layer))
        if show_trainable:
            has_weights = bool(getattr(layer, "weights", None))
            row.append(("Y" if layer.trainable else "N") if has_weights else "-")
        return row

    def rows_of(layer, level=0):
        out = [fields(layer, "   " * level + "└ " if level else "")]
        nested = getattr(layer, "layers", None) if expand_nested else None
        if nested:
            for sub in nested:
                out.extend(rows_of(sub, level + 1))
        return out

    first, last = layer_index_range(layers, layer_range)
    rows = [r for layer in layers[first:last] for r in rows_of(layer)]

    if line_length is not None or positions is not None:
        # Keras' column widths; a cell is its text plus one space each side
        # and its left border (the last also has the right border)
        length = line_length or default_length
        positions = positions or default_positions
        widths, current = [], 0
        for pos in positions:
            w = int(pos * length) - current
            if w < 4:
                raise ValueError("Insufficient console width to print summary.")
            widths.append(w)
            current += w
        widths = [w - 3 for w in widths]
        widths[-1] -= 1
        widths = [max(w, 1) for w in widths]
    else:
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
                  for i, h in enumerate(headers)]
        widths = [max(w, 12) for w in widths]

    def line(cells, sep):
        wrapped = [_wrap(c, w) for c, w in zip(cells, widths)]
        out = []
        for k in range(max(len(c) for c in wrapped)):
            parts = []
            for c, w, a in zip(wrapped, widths, align):
                text = c[k] if k < len(c) else ""
                text = text.rjust(w) if a == "right" else text.center(w) if a == "center" \
                    else text.ljust(w)
                parts.append(f" {text} ")
            out.append(sep + sep.join(parts) + sep)
        return out

    def rule(left, mid, right, ch):
        return left + mid.join(ch * (w + 2) for w in widths) + right

    out = [f'Model: "{model.name}"', rule("┏", "┳", "┓", "━")]
    out += line(headers, "┃")
    out.append(rule("┡", "╇", "┩", "━"))
    for i, r in enumerate(rows):
        out += line(r, "│")
        if i < len(rows) - 1:
            out.append(rule("├", "┼", "┤", "─"))
    out.append(rule("└", "┴", "┘", "─"))

    trainable = model.trainable_weights
    non_trainable = model.non_trainable_weights
    optimizer = getattr(model, "optimizer", None) if getattr(model, "compiled", False) else None
    opt_vars = list(optimizer.variables) if optimizer is not None and getattr(
        optimizer, "built", False) else None
    counts = {"trainable": _count(trainable), "non_trainable": _count(non_trainable),
              "optimizer": _count(opt_vars or [])}
    sizes = {"trainable": _nbytes(trainable), "non_trainable": _nbytes(non_trainable),
             "optimizer": _nbytes(opt_vars or [])}
    counts["total"] = sum(counts.values())
    sizes["total"] = sum(sizes.values())
    out.append(f" Total params: {counts['total']:,} ({_fmt_bytes(sizes['total'])})")
    out.append(f" Trainable params: {counts['trainable']:,} "
               f"({_fmt_bytes(sizes['trainable'])})")
    out.append(f" Non-trainable params: {counts['non_trainable']:,} "
               f"({_fmt_bytes(sizes['non_trainable'])})")
    if opt_vars is not None:
        out.append(f" Optimizer params: {counts['optimizer']:,} "
                   f"({_fmt_bytes(sizes['optimizer'])})")
    for text in out:
        print_fn(text)
    return counts
