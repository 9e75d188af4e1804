"""`get_source_inputs`: the functional-API inputs a symbolic tensor depends on."""
from kerax.layers.core import InputLayer
from kerax.layers.layer import KerasTensor

__all__ = ["get_source_inputs"]


def get_source_inputs(tensor):
    """The list of `Input` tensors needed to compute the symbolic `tensor`
    (each once, in first-use order). A non-symbolic value is returned as is.

    >>> import kerax
    >>> a, b = kerax.Input((2,)), kerax.Input((2,))
    >>> y = kerax.layers.Add()([a, kerax.layers.Dense(2)(b)])
    >>> get_source_inputs(y) == [a, b]
    True
    """
    history = getattr(tensor, "_history", None) if isinstance(tensor, KerasTensor) else None
    if history is None:
        return tensor
    layer, node_index, _ = history
    if isinstance(layer, InputLayer) or not layer._inbound_nodes:
        return [tensor]
    sources = []
    for t in layer._inbound_nodes[node_index].input_tensors:
        for s in get_source_inputs(t):
            if all(s is not seen for seen in sources):
                sources.append(s)
    return sources
