"""Keras 3's `plot_model` and `model_to_dot`: draw a model's layer graph with
pydot + Graphviz (optional: `pip install kerax[plot]` or `pip install pydot`,
plus Graphviz's `dot` binary, e.g. `apt-get install graphviz`)."""
import os

__all__ = ["model_to_dot", "plot_model"]

_INSTALL = ("You must install pydot (`pip install pydot`, or `pip install "
            "kerax[plot]`) and install Graphviz (see instructions at "
            "https://graphviz.gitlab.io/download/; its `dot` binary must be on "
            "PATH) for `plot_model` / `model_to_dot` to work.")


def _pydot():
    try:
        import pydot
    except ImportError:
        raise ImportError(_INSTALL) from None
    return pydot


def check_pydot():
    """True if pydot is importable."""
    try:
        _pydot()
    except ImportError:
        return False
    return True


def check_graphviz():
    """True if pydot and Graphviz's `dot` both work."""
    if not check_pydot():
        return False
    pydot = _pydot()
    try:
        pydot.Dot.create(pydot.Dot())
        return True
    except (OSError, Exception):
        return False


def _shapes_text(tensors):
    shapes = [tuple(t.shape) for t in tensors]
    if not shapes:
        return "?"
    return str(shapes[0]) if len(shapes) == 1 else str(shapes)


def _nodes_of(layer):
    return [n for n in getattr(layer, "_inbound_nodes", []) if n is not None]


def _layer_label(layer, show_shapes, show_dtype, show_layer_names,
                 show_layer_activations, show_trainable):
    cls = type(layer).__name__
    title = f"{layer.name} ({cls})" if show_layer_names else cls
    lines = [title]
    if show_layer_activations and hasattr(layer, "activation"):
        act = layer.activation
        name = getattr(act, "name", None) or getattr(act, "__name__", None) or str(act)
        lines.append(f"Activation: {name}")
    if show_dtype:
        dtype = getattr(layer, "dtype", None)
        lines.append(f"Output dtype: {dtype}")
    if show_shapes:
        nodes = _nodes_of(layer)
        if nodes:
            lines.append(f"Input shape: {_shapes_text(nodes[-1].input_tensors)}")
            lines.append(f"Output shape: {_shapes_text(nodes[-1].output_tensors)}")
        elif type(layer).__name__ == "InputLayer" and hasattr(layer, "output"):
            lines.append(f"Output shape: {tuple(layer.output.shape)}")
    if show_trainable and getattr(layer, "weights", None):
        lines.append(f"Trainable: {'T' if layer.trainable else 'F'}")
    return "\\n".join(lines)


def _is_model(layer):
    return hasattr(layer, "layers") and hasattr(layer, "fit")


def model_to_dot(model, show_shapes=False, show_dtype=False, show_layer_names=True,
                 rankdir="TB", expand_nested=False, dpi=200, subgraph=False,
                 show_layer_activations=False, show_trainable=False,
                 splines="ortho", **kwargs):
    """A `pydot.Dot` (or `pydot.Cluster` when `subgraph`) of `model`'s layers,
    one node per layer and one edge per connection (Keras 3's arguments).
    Needs pydot and Graphviz's `dot` binary (`pip install kerax[plot]` and a
    Graphviz install); raises ImportError saying so otherwise.
    `expand_nested` draws nested models as clusters of their layers."""
    if kwargs:
        raise ValueError(f"Unrecognized keyword arguments: {kwargs}")
    pydot = _pydot()
    if not model.built:
        raise ValueError("This model has not yet been built. Build the model first "
                         "by calling `build()` or by calling the model on a batch "
                         "of data.")
    if subgraph:
        dot = pydot.Cluster(style="dashed", graph_name=model.name)
        dot.set("label", model.name)
        dot.set("labeljust", "l")
    else:
        dot = pydot.Dot()
        dot.set("rankdir", rankdir)
        dot.set("concentrate", True)
        dot.set("dpi", dpi)
        dot.set("splines", splines)
        dot.set_node_defaults(shape="record")

    label_args = (show_shapes, show_dtype, show_layer_names, show_layer_activations,
                  show_trainable)
    graph = model.__dict__.get("_graph")
    # a functional model draws its ops too (Keras draws `model._operations`)
    layers = list(graph.operations if graph is not None else model.layers)
    # nested models drawn as clusters: edges enter their first and leave their last layer
    entry, exit_ = {}, {}
    for layer in layers:
        if expand_nested and _is_model(layer) and layer.layers:
            sub = model_to_dot(layer, *label_args[:3], rankdir=rankdir,
                               expand_nested=True, subgraph=True,
                               show_layer_activations=show_layer_activations,
                               show_trainable=show_trainable)
            dot.add_subgraph(sub)
            inner = list(layer.layers)
            entry[id(layer)] = str(id(inner[0]))
            exit_[id(layer)] = str(id(inner[-1]))
        else:
            node = pydot.Node(str(id(layer)), label=_layer_label(layer, *label_args))
            dot.add_node(node)
            entry[id(layer)] = exit_[id(layer)] = str(id(layer))

    def add_edge(src, dst):
        if not dot.get_edge(src, dst):
            dot.add_edge(pydot.Edge(src, dst, penwidth="2"))

    in_model = {id(layer) for layer in layers}
    edges = 0
    for layer in layers:
        for node in _nodes_of(layer):
            for t in node.input_tensors:
                history = getattr(t, "_history", None)
                src = history[0] if history else None
                if src is not None and id(src) in in_model:
                    add_edge(exit_[id(src)], entry[id(layer)])
                    edges += 1
    if not edges and len(layers) > 1:  # no recorded graph (e.g. Sequential): a chain
        for a, b in zip(layers, layers[1:]):
            add_edge(exit_[id(a)], entry[id(b)])
    return dot


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False,
               show_layer_names=False, rankdir="TB", expand_nested=False, dpi=200,
               show_layer_activations=False, show_trainable=False, splines="ortho",
               **kwargs):
    """Render `model`'s layer graph to `to_file` (format from its extension,
    PNG when none) with pydot + Graphviz, Keras 3's arguments. Needs
    `pip install kerax[plot]` (pydot) and Graphviz's `dot` binary on PATH;
    raises ImportError naming both when they are missing. Returns an
    `IPython.display.Image` when IPython is installed (not for PDF)."""
    if not check_graphviz():
        raise ImportError(_INSTALL)
    if kwargs.pop("layer_range", None) is not None:
        raise ValueError("Argument `layer_range` is no longer supported.")
    if kwargs:
        raise ValueError(f"Unrecognized keyword arguments: {kwargs}")
    dot = model_to_dot(model, show_shapes=show_shapes, show_dtype=show_dtype,
                       show_layer_names=show_layer_names, rankdir=rankdir,
                       expand_nested=expand_nested, dpi=dpi,
                       show_layer_activations=show_layer_activations,
                       show_trainable=show_trainable, splines=splines)
    to_file = str(to_file)
    extension = os.path.splitext(to_file)[1][1:] or "png"
    dot.write(to_file, format=extension)
    if extension != "pdf":
        try:
            from IPython import display
            return display.Image(filename=to_file)
        except ImportError:
            pass
