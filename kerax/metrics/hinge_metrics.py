"""Hinge metrics: running means of kerax.losses' hinge functions."""
from kerax.losses.losses import categorical_hinge, hinge, squared_hinge
from kerax.metrics.reduction_metrics import BuiltinMeanMetric


class Hinge(BuiltinMeanMetric):
    """Mean hinge loss."""

    def __init__(self, name="hinge", dtype=None):
        super().__init__(hinge, name, dtype)


class SquaredHinge(BuiltinMeanMetric):
    """Mean squared hinge loss."""

    def __init__(self, name="squared_hinge", dtype=None):
        super().__init__(squared_hinge, name, dtype)


class CategoricalHinge(BuiltinMeanMetric):
    """Mean categorical hinge loss."""

    def __init__(self, name="categorical_hinge", dtype=None):
        super().__init__(categorical_hinge, name, dtype)
