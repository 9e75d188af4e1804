"""kerax.models: Model, Sequential, functional models."""
from kerax.models.model import Functional, Model  # noqa: F401
from kerax.models.sequential import Sequential  # noqa: F401
from kerax.models import functional_config as _functional_config  # noqa: F401,E402
from kerax.saving.saving_api import load_model, save_model  # noqa: F401,E402
from kerax.models.cloning import clone_model, model_from_json  # noqa: F401,E402
