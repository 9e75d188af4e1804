"""Quantization configs (Keras 3's `keras.quantizers.*Config`): what
`model.quantize(mode, config=...)` and the layers' `quantization_config` take.

GPTQ and AWQ: the config classes exist with Keras' arguments, validation and
config round trip (so `.keras` files that name them load their configs), but
kerax does not run their calibration (a Hessian- / activation-statistics-driven
search over a calibration dataset, layer block by layer block): quantizing
with them raises NotImplementedError. Use "int8" or "int4" instead.
"""
from kerax.dtype_policies import QUANTIZATION_MODES
from kerax.quantizers.quantizers import AbsMaxQuantizer
from kerax.registry import (deserialize_keras_object, register_builtin,
                            serialize_keras_object)

__all__ = ["QuantizationConfig", "Int8QuantizationConfig", "Int4QuantizationConfig",
           "Float8QuantizationConfig", "GPTQConfig", "AWQConfig",
           "validate_and_resolve_config", "block_size_of"]


def _deserialize(config):
    return deserialize_keras_object(config, module="keras.quantizers")


@register_builtin("keras.quantizers")
class QuantizationConfig:
    """Base class of quantization configs: a weight quantizer, an activation
    quantizer and the `mode` property subclasses define."""

    def __init__(self, weight_quantizer=None, activation_quantizer=None):
        self.weight_quantizer = weight_quantizer
        self.activation_quantizer = activation_quantizer

    @property
    def mode(self):
        raise NotImplementedError(
            "Subclasses must implement this property. Do not instantiate "
            "QuantizationConfig directly.")

    def get_config(self):
        return {"weight_quantizer": serialize_keras_object(self.weight_quantizer),
                "activation_quantizer": serialize_keras_object(self.activation_quantizer)}

    @classmethod
    def from_config(cls, config):
        return cls(weight_quantizer=_deserialize(config.get("weight_quantizer")),
                   activation_quantizer=_deserialize(config.get("activation_quantizer")))

    @staticmethod
    def weight_quantizer_or_default(config, default):
        if config is not None and config.weight_quantizer is not None:
            return config.weight_quantizer
        return default

    @staticmethod
    def activation_quantizer_or_default(config, default):
        if config is not None:
            return config.activation_quantizer
        return default


@register_builtin("keras.quantizers")
class Int8QuantizationConfig(QuantizationConfig):
    """int8 weights (per output channel) and, by default ("default"), int8
    activations quantized per sample with `AbsMaxQuantizer` (pass
    `activation_quantizer=None` for weight-only int8).

    >>> Int8QuantizationConfig().mode
    'int8'
    """

    def __init__(self, weight_quantizer=None, activation_quantizer="default"):
        if isinstance(activation_quantizer, str) and activation_quantizer == "default":
            activation_quantizer = AbsMaxQuantizer()
        super().__init__(weight_quantizer, activation_quantizer)
        if self.weight_quantizer is not None and self.weight_quantizer.output_dtype != "int8":
            raise ValueError(
                "Int8QuantizationConfig requires a weight_quantizer with "
                f"output_dtype='int8'. Received: output_dtype={self.weight_quantizer.output_dtype}")

    @property
    def mode(self):
        return "int8"


@register_builtin("keras.quantizers")
class Int4QuantizationConfig(QuantizationConfig):
    """int4 weights, weight-only by default. `block_size=128` quantizes groups of
    128 input rows with a scale and zero point each (sub-channel); None or -1
    quantizes symmetrically per output channel.

    >>> Int4QuantizationConfig(block_size=None).get_config()["block_size"] is None
    True
    """

    def __init__(self, weight_quantizer=None, activation_quantizer="default", block_size=128):
        if isinstance(activation_quantizer, str) and activation_quantizer == "default":
            activation_quantizer = None
        super().__init__(weight_quantizer, activation_quantizer)
        if block_size is not None and (isinstance(block_size, bool) or not isinstance(
                block_size, int) or (block_size != -1 and block_size <= 0)):
            raise ValueError(
                "block_size must be None, -1, or a positive integer. "
                f"Received: block_size={block_size}")
        self.block_size = block_size
        sub_channel = block_size is not None and block_size > 0
        if sub_channel and (self.weight_quantizer is not None
                            or self.activation_quantizer is not None):
            raise ValueError(
                "Int4 sub-channel quantization (block_size > 0) does not support custom "
                "quantizers. Either set block_size to None or -1 for per-channel "
                "quantization, or remove the custom quantizer arguments. Received: "
                f"block_size={block_size}")
        if self.weight_quantizer is not None:
            if tuple(self.weight_quantizer.value_range) != (-8, 7):
                raise ValueError(
                    "Int4QuantizationConfig requires a weight_quantizer with "
                    "value_range=(-8, 7). Received: "
                    f"value_range={self.weight_quantizer.value_range}")
            if self.weight_quantizer.output_dtype != "int8":
                raise ValueError(
                    "Int4QuantizationConfig requires a weight_quantizer with "
                    f"output_dtype='int8'. Received: "
                    f"output_dtype={self.weight_quantizer.output_dtype}")

    @property
    def mode(self):
        return "int4"

    def get_config(self):
        config = super().get_config()
        config["block_size"] = self.block_size
        return config

    @classmethod
    def from_config(cls, config):
        return cls(weight_quantizer=_deserialize(config.get("weight_quantizer")),
                   activation_quantizer=_deserialize(config.get("activation_quantizer")),
                   block_size=config.get("block_size", None))


@register_builtin("keras.quantizers")
class Float8QuantizationConfig(QuantizationConfig):
    """float8 training (e4m3 forward, e5m2 gradients, delayed scaling from an
    amax history); takes no custom quantizers."""

    def __init__(self):
        super().__init__(None, None)

    @property
    def mode(self):
        return "float8"

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls()


@register_builtin("keras.quantizers")
class GPTQConfig(QuantizationConfig):
    """The settings of GPTQ post-training quantization (Keras' arguments and
    config). kerax keeps the config (files naming it load) but does not run
    GPTQ's calibration: `model.quantize("gptq", config=...)` raises
    NotImplementedError.

    >>> GPTQConfig(dataset=None, tokenizer=None).dtype_policy_string()
    'gptq/4/128'
    """

    def __init__(self, dataset, tokenizer, *, weight_bits=4, num_samples=128,
                 per_channel=True, sequence_length=512, hessian_damping=0.01,
                 group_size=128, symmetric=False, activation_order=False,
                 quantization_layer_structure=None):
        super().__init__()
        if weight_bits not in (2, 3, 4, 8):
            raise ValueError(
                f"Unsupported weight_bits {weight_bits}. Supported values are 2, 3, 4, and 8.")
        if num_samples <= 0:
            raise ValueError("num_samples must be a positive integer.")
        if sequence_length <= 0:
            raise ValueError("sequence_length must be a positive integer.")
        if hessian_damping < 0 or hessian_damping > 1:
            raise ValueError("hessian_damping must be between 0 and 1.")
        if group_size < -1 or group_size == 0:
            raise ValueError(
                "Invalid group_size. Supported values are -1 (whole-tensor) or a positive "
                f"integer, but got {group_size}.")
        self.dataset = dataset
        self.tokenizer = tokenizer
        self.num_samples = num_samples
        self.per_channel = per_channel
        self.sequence_length = sequence_length
        self.hessian_damping = hessian_damping
        self.weight_bits = weight_bits
        self.group_size = group_size
        self.symmetric = symmetric
        self.activation_order = activation_order
        self.quantization_layer_structure = quantization_layer_structure

    def get_config(self):
        # the dataset and tokenizer serve the one-time calibration: not saved
        return {"dataset": None, "tokenizer": None, "weight_bits": self.weight_bits,
                "num_samples": self.num_samples, "per_channel": self.per_channel,
                "sequence_length": self.sequence_length,
                "hessian_damping": self.hessian_damping, "group_size": self.group_size,
                "symmetric": self.symmetric, "activation_order": self.activation_order,
                "quantization_layer_structure": self.quantization_layer_structure}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    @property
    def mode(self):
        return "gptq"

    def dtype_policy_string(self):
        return f"gptq/{self.weight_bits}/{self.group_size}"


@register_builtin("keras.quantizers")
class AWQConfig(QuantizationConfig):
    """The settings of AWQ (activation-aware weight quantization; Keras'
    arguments and config). kerax keeps the config but does not run AWQ's
    calibration: `model.quantize("awq", config=...)` raises NotImplementedError.

    >>> AWQConfig(dataset=None, tokenizer=None, group_size=-1).dtype_policy_string()
    'awq/4/-1'
    """

    def __init__(self, dataset, tokenizer, *, weight_bits=4, num_samples=128,
                 sequence_length=512, group_size=128, num_grid_points=20,
                 quantization_layer_structure=None):
        super().__init__()
        if weight_bits != 4:
            raise ValueError(
                f"AWQ only supports 4-bit quantization. Received weight_bits={weight_bits}.")
        if num_samples <= 0:
            raise ValueError("num_samples must be a positive integer.")
        if sequence_length <= 0:
            raise ValueError("sequence_length must be a positive integer.")
        if group_size < -1 or group_size == 0:
            raise ValueError(
                "Invalid group_size. Supported values are -1 (per-channel) or a positive "
                f"integer, but got {group_size}.")
        if num_grid_points <= 0:
            raise ValueError("num_grid_points must be a positive integer.")
        self.dataset = dataset
        self.tokenizer = tokenizer
        self.weight_bits = weight_bits
        self.num_samples = num_samples
        self.sequence_length = sequence_length
        self.group_size = group_size
        self.num_grid_points = num_grid_points
        self.quantization_layer_structure = quantization_layer_structure

    @property
    def mode(self):
        return "awq"

    def dtype_policy_string(self):
        return f"awq/{self.weight_bits}/{self.group_size}"

    def get_config(self):
        return {"dataset": None, "tokenizer": None, "weight_bits": self.weight_bits,
                "num_samples": self.num_samples, "sequence_length": self.sequence_length,
                "group_size": self.group_size, "num_grid_points": self.num_grid_points,
                "quantization_layer_structure": self.quantization_layer_structure}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _check_mode(mode):
    if mode is not None and mode not in QUANTIZATION_MODES:
        raise ValueError(
            f"Invalid quantization mode. Expected one of {QUANTIZATION_MODES}. "
            f"Received: mode={mode}")


def validate_and_resolve_config(mode, config):
    """The config `quantize(mode, config)` runs with: the mode's default config
    when only `mode` is given (a string `config` is read as the mode); a
    contradiction between the two, or an unknown mode, is a ValueError."""
    if isinstance(config, str):
        mode, config = config, None
    _check_mode(mode)
    if config is None:
        defaults = {"int8": Int8QuantizationConfig, "int4": Int4QuantizationConfig,
                    "float8": Float8QuantizationConfig}
        if mode in defaults:
            return defaults[mode]()
        if mode == "gptq":
            raise ValueError(
                "For GPTQ, you must pass a `GPTQConfig` object in the `config` argument.")
        if mode == "awq":
            raise ValueError(
                "For AWQ, you must pass an `AWQConfig` object in the `config` argument.")
        raise ValueError("You must provide either `mode` or `config` to `quantize`.")
    if not isinstance(config, QuantizationConfig):
        raise ValueError(
            "Argument `config` must be an instance of `QuantizationConfig`. "
            f"Received: config={config} (of type {type(config)})")
    if mode is not None and config.mode != mode:
        raise ValueError(
            f"Contradictory arguments: mode='{mode}' but config.mode='{config.mode}'")
    _check_mode(config.mode)
    return config


def block_size_of(config, policy):
    """The int4 block size a layer uses: the config's, else its policy's
    (`Int4DTypePolicy`, -1 read as None), else None (per channel)."""
    if isinstance(config, Int4QuantizationConfig):
        return config.block_size
    block_size = getattr(policy, "block_size", None)
    return None if block_size == -1 else block_size
