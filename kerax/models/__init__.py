"""kerax.models: Model, Sequential, functional models."""
from kerax.models.model import Functional, Model  # noqa: F401
from kerax.models.sequential import Sequential  # noqa: F401
