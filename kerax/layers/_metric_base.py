"""Duck-typed check for metrics, so layers track them without importing kerax.metrics."""


def is_metric(obj):
    from kerax.layers.layer import Layer
    return (not isinstance(obj, (Layer, type)) and hasattr(obj, "update_state")
            and hasattr(obj, "result") and hasattr(obj, "reset_state")
            and hasattr(obj, "variables"))
