"""The functional graph: nodes recorded by calling layers and ops on
KerasTensors, run in topological order. `Function` is such a graph as a
callable operation (Keras 3's `keras.Function`); functional models run the same
`Graph`."""
import jax

from kerax.layers.core import InputLayer
from kerax.layers.layer import KerasTensor, _is_kt
from kerax.layers.masking_utils import call_with_masks
from kerax.layers.operation import Operation

__all__ = ["Graph", "build_graph", "Function"]


def _flatten(x):
    return [t for t in jax.tree_util.tree_leaves(x, is_leaf=_is_kt)]


class Graph:
    def __init__(self, inputs, outputs, nodes, layers):
        self.inputs = inputs
        self.outputs = outputs
        self.flat_inputs = _flatten(inputs)
        self.flat_outputs = _flatten(outputs)
        self.nodes = nodes
        # Keras' order of everything recorded (what a config lists, what a
        # summary shows) and, as Keras' `model.layers`, the layers among them:
        # operations (kerax.ops calls, Operation subclasses) are not layers.
        self.operations = layers
        self.layers = [layer for layer in layers if not isinstance(layer, Operation)]

    def input_shapes(self):
        shapes = [list(t.shape) for t in self.flat_inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    def _bind_inputs(self, values):
        flat = self.flat_inputs
        if isinstance(values, dict) and not isinstance(self.inputs, dict):
            names = [t._history[0].name for t in flat]
            missing = [n for n in names if n not in values]
            if missing:
                raise ValueError(
                    f"Model expects inputs named {names}; missing {missing} in the "
                    f"dict given (keys {sorted(values)}).")
            vals = [values[n] for n in names]
        elif isinstance(self.inputs, dict):
            if not isinstance(values, dict):
                raise ValueError(
                    f"Model expects a dict of inputs with keys {sorted(self.inputs)}, "
                    f"got {type(values).__name__}.")
            missing = [k for k in self.inputs if k not in values]
            if missing:
                raise ValueError(f"Model inputs dict is missing keys {missing}.")
            # flat_inputs follows JAX's sorted-key order of the inputs dict
            vals = [values[k] for k in sorted(self.inputs)]
        else:
            if len(flat) == 1 and not isinstance(values, (list, tuple)):
                vals = [values]
            else:
                vals = list(values) if isinstance(values, (list, tuple)) else [values]
            if len(vals) != len(flat):
                raise ValueError(
                    f"Model expects {len(flat)} input(s) "
                    f"{[t._history[0].name for t in flat]}, got {len(vals)}.")
        env = {}
        for t, v in zip(flat, vals):
            if hasattr(v, "shape") and len(v.shape) != len(t.shape):
                raise ValueError(
                    f"Input {t._history[0].name!r} expects arrays of shape {t.shape}, "
                    f"got shape {tuple(v.shape)}.")
            env[id(t)] = v
        return env

    def run(self, values, training=None):
        env = self._bind_inputs(values)

        def sub(x):
            if isinstance(x, KerasTensor):
                return env[id(x)]
            return x

        masks = {}  # id(KerasTensor) -> implicit mask (kerax.layers.masking_utils)

        def mask_of(x):
            return masks.get(id(x)) if isinstance(x, KerasTensor) else None

        for node in self.nodes:
            args, kwargs = jax.tree_util.tree_map(sub, (node.args, node.kwargs), is_leaf=_is_kt)
            # As Keras 3: an explicit outer `training` overrides the one recorded
            # on the node (Keras writes training=True for the random preprocessing
            # layers into its files; predict must still run them in inference).
            if training is not None and node.layer._call_signature()["training"]:
                kwargs["training"] = training
            arg_masks = [jax.tree_util.tree_map(mask_of, a, is_leaf=_is_kt) for a in node.args]
            kwarg_masks = {k: jax.tree_util.tree_map(mask_of, v, is_leaf=_is_kt)
                           for k, v in node.kwargs.items()}
            out, out_masks = call_with_masks(node.layer, args, kwargs, arg_masks, kwarg_masks)
            if out_masks is not None:
                for t, m in zip(node.output_tensors, out_masks):
                    if m is not None:
                        masks[id(t)] = m
            out_flat = jax.tree_util.tree_leaves(out)
            if len(out_flat) != len(node.output_tensors):
                raise ValueError(
                    f"Layer {node.layer.name!r} returned {len(out_flat)} outputs, its "
                    f"symbolic call produced {len(node.output_tensors)}.")
            for t, v in zip(node.output_tensors, out_flat):
                env[id(t)] = v
        return jax.tree_util.tree_map(lambda t: env[id(t)], self.outputs, is_leaf=_is_kt)

    def output_spec(self, values):
        """The outputs' KerasTensors for KerasTensor `values`, each node's spec
        from its layer's `compute_output_spec` (nothing is recorded)."""
        env = self._bind_inputs(values)

        def sub(x):
            return env[id(x)] if isinstance(x, KerasTensor) else x

        for node in self.nodes:
            args, kwargs = jax.tree_util.tree_map(sub, (node.args, node.kwargs), is_leaf=_is_kt)
            out = node.layer.compute_output_spec(*args, **kwargs)
            for t, v in zip(node.output_tensors, jax.tree_util.tree_leaves(out, is_leaf=_is_kt)):
                env[id(t)] = v
        return jax.tree_util.tree_map(lambda t: env[id(t)], self.outputs, is_leaf=_is_kt)


def build_graph(inputs, outputs, model_name="model"):
    flat_inputs = _flatten(inputs)
    flat_outputs = _flatten(outputs)
    for t in flat_inputs:
        if not isinstance(t, KerasTensor) or t._history is None or not isinstance(
                t._history[0], InputLayer):
            raise ValueError(
                f"Model {model_name!r}: every element of `inputs` must be a tensor "
                f"returned by kerax.Input, got {t!r}.")
    for t in flat_outputs:
        if not isinstance(t, KerasTensor):
            raise ValueError(
                f"Model {model_name!r}: every element of `outputs` must be a symbolic "
                f"tensor produced by layers called on kerax.Input tensors, got {t!r}.")
    input_ids = {id(t) for t in flat_inputs}
    nodes = []
    seen_nodes = set()
    missing = []
    layer_index = {}  # post-order of first appearance (Keras' layer order tiebreak)

    def index(layer):
        layer_index.setdefault(id(layer), len(layer_index))

    def visit(t, path):
        if id(t) in input_ids:
            index(t._history[0])
            return
        layer, node_index, _ = t._history
        if isinstance(layer, InputLayer):
            missing.append(t)
            return
        node = layer._inbound_nodes[node_index]
        if id(node) in seen_nodes:
            return
        if id(node) in path:
            raise ValueError(f"Model {model_name!r}: the graph has a cycle at layer {layer.name!r}.")
        path = path | {id(node)}
        for inp in node.input_tensors:
            visit(inp, path)
        seen_nodes.add(id(node))
        nodes.append(node)
        index(layer)

    for t in flat_outputs:
        visit(t, frozenset())
    if missing:
        names = sorted({t._history[0].name for t in missing})
        raise ValueError(
            f"Model {model_name!r}: the outputs cannot be computed from the given inputs. "
            f"They depend on input(s) {names} which are not in `inputs` "
            f"(inputs are {[t._history[0].name for t in flat_inputs]}).")
    # Keras' layer order: by depth from the outputs (deepest first), ties by
    # post-order of discovery. It fixes get_weights()/set_weights() order.
    depth = {}
    for node in reversed(nodes):
        d = depth.setdefault(id(node), 0)
        for t in node.input_tensors:
            producer = t._history[0]
            key = id(t) if id(t) in input_ids else id(producer._inbound_nodes[t._history[1]])
            depth[key] = max(depth.get(key, 0), d + 1)
    layer_depth = {}
    layer_obj = {}
    for t in flat_inputs:
        layer_depth[id(t._history[0])] = depth.get(id(t), 0)
        layer_obj[id(t._history[0])] = t._history[0]
    for node in nodes:
        lid = id(node.layer)
        layer_depth[lid] = max(layer_depth.get(lid, 0), depth[id(node)])
        layer_obj[lid] = node.layer
    order = sorted(layer_obj, key=lambda lid: (-layer_depth[lid], layer_index.get(lid, 0)))
    nodes.sort(key=lambda n: -depth[id(n)])
    return Graph(inputs, outputs, nodes, [layer_obj[lid] for lid in order])


class Function(Operation):
    """A callable graph of ops and layers from symbolic `inputs` to `outputs`
    (Keras 3's `keras.Function`): not a model (no training or saving), but an
    operation that runs on arrays and can itself be called on symbolic tensors.

    >>> import numpy as np, kerax
    >>> x = kerax.Input((3,))
    >>> fn = kerax.Function(x, kerax.ops.relu(x) * 2.0)
    >>> fn(np.array([[-1.0, 0.5, 2.0]], "float32")).tolist()
    [[0.0, 1.0, 4.0]]
    >>> [type(op).__name__ for op in fn.operations]
    ['InputLayer', 'Relu', 'Multiply']
    """

    def __init__(self, inputs, outputs, name=None):
        super().__init__(name=name)
        self._function_graph = build_graph(inputs, outputs, model_name=self.name)

    @property
    def inputs(self):
        """The symbolic inputs, in the structure given."""
        return self._function_graph.inputs

    @property
    def outputs(self):
        """The symbolic outputs, in the structure given."""
        return self._function_graph.outputs

    @property
    def operations(self):
        """The graph's operations and layers (input layers included), in
        Keras' order."""
        return list(self._function_graph.operations)

    def call(self, inputs):
        """Run the graph on arrays given in the structure of `inputs`."""
        return self._function_graph.run(inputs)

    def compute_output_spec(self, inputs):
        """The outputs' KerasTensors for KerasTensor `inputs`, propagated
        through the graph."""
        return self._function_graph.output_spec(inputs)
