"""kerax.export: serialize a model's inference function with `jax.export`
(StableHLO plus the weights) and load it back without the model's code."""
from kerax.export.jax_export import ExportedModel, export_model, load  # noqa: F401
# `load` reads ExportArchive files and (delegating to jax_export.load) model.export files.
from kerax.export.archive import ExportArchive, LoadedArchive, RestoredVariable, load  # noqa: F401,F811
