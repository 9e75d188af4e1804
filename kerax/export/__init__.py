"""kerax.export: serialize a model's inference function with `jax.export`
(StableHLO plus the weights) and load it back without the model's code."""
from kerax.export.jax_export import ExportedModel, export_model, load  # noqa: F401
