"""RandAugment and AugMix (Keras 3 names, arguments, configs): random chains
of the geometric and colour augmentation layers.

Both draw the parameters of every candidate transform first (each
sub-layer's own `kerax.random.SeedGenerator`, outside any branch), then run
only the chosen transform with `jax.lax.switch` on a drawn index. So they
work eagerly and inside one compiled `fit` step (no retrace per batch: the
choice is data, not Python), and with `seed` they are reproducible. As in
Keras, the choice of operations is one per batch, their strengths one per
image; both return the images unchanged (as floats) when not training.

Keras' AugMix picks its chains with Python's `random` when it traces, so a
compiled Keras step repeats one choice; kerax draws it per call.
"""
import jax
import jax.numpy as jnp
import numpy as np

from kerax import random as _random
from kerax.layers.augmentation_color import (
    AutoContrast, Equalization, ImageAugmentation, RandomBrightness, RandomColorDegeneration,
    RandomPosterization, RandomSharpness, Solarization, factor_range, value_range_arg)
from kerax.layers.augmentation_geometric import BaseImagePreprocessingLayer, RandomShear
from kerax.layers.image_preprocessing import (
    RandomContrast, RandomRotation, RandomTranslation, _AffineLayer, affine_transform)
from kerax.registry import register_builtin

__all__ = ["RandAugment", "AugMix"]


class _Stage:
    """One sub-layer as (sample, apply, apply_to_masks), whatever protocol it has."""

    def __init__(self, layer):
        self.layer = layer

    def sample(self, x):
        layer = self.layer
        if isinstance(layer, _AffineLayer):
            ha, wa = layer._hw_axes(x.ndim)
            return layer._transform(x.shape[0], x.shape[ha], x.shape[wa])
        if isinstance(layer, BaseImagePreprocessingLayer):  # Keras' protocol (RandomShear)
            return layer.get_random_transformation(x, training=True)
        return layer._sample(x) if getattr(layer, "_random", True) else None

    def apply(self, x, params):
        layer = self.layer
        if isinstance(layer, _AffineLayer):
            return affine_transform(x, params, layer.interpolation, layer.fill_mode,
                                    layer.fill_value, layer.data_format)
        if isinstance(layer, BaseImagePreprocessingLayer):
            return layer.transform_images(x, params).astype(x.dtype)
        return layer._apply(x, params).astype(x.dtype)

    def apply_to_masks(self, masks, params):
        """Geometric stages move masks (nearest neighbour); colour stages keep them."""
        layer = self.layer
        if isinstance(layer, _AffineLayer):
            return affine_transform(masks, params, "nearest", layer.fill_mode,
                                    layer.fill_value, layer.data_format)
        if isinstance(layer, BaseImagePreprocessingLayer):
            return layer.transform_segmentation_masks(masks, params).astype(masks.dtype)
        return masks


class _Chains(ImageAugmentation):
    """Shared: the sub-layers (Keras' attribute names and arguments)."""

    def _make_layers(self, names):
        where, df = self._where(), self.data_format
        if self.interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"{where}: `interpolation` must be 'nearest' or 'bilinear', got "
                             f"{self.interpolation!r}.")
        f, vr, seed, interp = self.factor, self.value_range, self.seed, self.interpolation
        makers = {
            "random_shear": lambda: RandomShear(x_factor=f, y_factor=f, interpolation=interp,
                                                seed=seed, data_format=df),
            "random_translation": lambda: RandomTranslation(
                height_factor=f, width_factor=f, interpolation=interp, seed=seed,
                data_format=df),
            "random_rotation": lambda: RandomRotation(factor=f, interpolation=interp, seed=seed,
                                                      data_format=df),
            "random_brightness": lambda: RandomBrightness(factor=f, value_range=vr, seed=seed,
                                                          data_format=df),
            "random_color_degeneration": lambda: RandomColorDegeneration(
                factor=f, value_range=vr, seed=seed, data_format=df),
            "random_contrast": lambda: RandomContrast(factor=f, value_range=vr, seed=seed,
                                                      data_format=df),
            "random_sharpness": lambda: RandomSharpness(factor=f, value_range=vr, seed=seed,
                                                        data_format=df),
            "random_posterization": lambda: RandomPosterization(
                factor=max(1, int(8 * f[1])), value_range=vr, seed=seed, data_format=df),
            "solarization": lambda: Solarization(addition_factor=f, threshold_factor=f,
                                                 value_range=vr, seed=seed, data_format=df),
            "auto_contrast": lambda: AutoContrast(value_range=vr, data_format=df),
            "equalization": lambda: Equalization(value_range=vr, data_format=df),
        }
        for name in names:
            setattr(self, name, makers[name]())
        object.__setattr__(self, "_stages", [_Stage(getattr(self, name)) for name in names])

    def build(self, input_shape):
        super().build(input_shape)
        for stage in self._stages:
            stage.layer.built = True

    def _boxes(self, boxes, active):
        if active and self._moves_boxes:
            raise NotImplementedError(
                f"{self._where()}: bounding boxes are not moved by kerax's RandomRotation and "
                "RandomTranslation yet, so this layer cannot augment them; pass inputs without "
                "a 'bounding_boxes' entry.")
        return super()._boxes(boxes, active)

    def _branches(self, masks=False):
        """One `fn(images, params_of_all_stages)` per stage, for lax.switch."""
        def branch(stage):
            fn = stage.apply_to_masks if masks else stage.apply
            k = self._stages.index(stage)
            return lambda v, params: fn(v, params[k])
        return [branch(s) for s in self._stages]


@register_builtin("keras.layers")
class RandAugment(_Chains):
    """RandAugment: `num_ops` operations in a row, each chosen uniformly
    (once per batch) from shear, translation, rotation, brightness, colour
    degeneration, contrast, sharpness, posterization, solarization,
    auto-contrast and equalization, their strength set by `factor` (in
    [0, 1]; f means (0, f)).

    >>> layer = RandAugment(value_range=(0, 1), num_ops=2, factor=0.3, seed=0)
    >>> layer(np.random.uniform(size=(2, 8, 8, 3)).astype("float32")).shape
    (2, 8, 8, 3)
    """

    _AUGMENT_LAYERS = ["random_shear", "random_translation", "random_rotation",
                       "random_brightness", "random_color_degeneration", "random_contrast",
                       "random_sharpness", "random_posterization", "solarization",
                       "auto_contrast", "equalization"]
    _moves_boxes = True

    def __init__(self, value_range=(0, 255), num_ops=2, factor=0.5, interpolation="bilinear",
                 seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        where = self._where()
        if not isinstance(num_ops, (int, np.integer)) or isinstance(num_ops, bool) or \
                num_ops < 0:
            raise ValueError(f"{where}: `num_ops` must be a non-negative integer, got "
                             f"{num_ops!r}.")
        self.value_range = value_range_arg(value_range, where, sort=False)
        self.num_ops = int(num_ops)
        self.factor = factor_range(factor, (0, 1), where)
        self.interpolation = interpolation
        self._make_layers(self._AUGMENT_LAYERS)

    def _sample(self, x):
        index = _random.randint((self.num_ops,), 0, len(self._stages), dtype="int32",
                                seed=self.seed_generator)
        return index, [s.sample(x) for s in self._stages]

    def _run(self, x, params, masks):
        index, stage_params = params
        branches = self._branches(masks)

        def step(v, i):  # one switch, compiled once for all `num_ops` steps
            return jax.lax.switch(i, branches, v, stage_params), None

        return jax.lax.scan(step, x, index)[0] if self.num_ops else x

    def _apply(self, x, params):
        return self._run(x, params, masks=False)

    def _apply_masks(self, masks, params):
        dtype = masks.dtype
        return self._run(masks.astype(self.compute_dtype), params, masks=True).astype(dtype)

    def get_config(self):
        config = super().get_config()
        config.update({"value_range": list(self.value_range), "num_ops": self.num_ops,
                       "factor": self.factor, "interpolation": self.interpolation,
                       "seed": self.seed})
        return config


@register_builtin("keras.layers")
class AugMix(_Chains):
    """AugMix: `num_chains` chains of up to `chain_depth` random operations
    (each step picks one of the operations or none), mixed with
    Dirichlet(`alpha`) weights, then blended with the original image by a
    Beta(`alpha`, `alpha`) weight and clipped to `value_range`. `all_ops`
    adds brightness, colour degeneration, contrast and sharpness to shear,
    translation, rotation, posterization, solarization, auto-contrast and
    equalization. As Keras, bounding boxes pass unchanged and segmentation
    masks are mixed like the images.

    >>> layer = AugMix(value_range=(0, 1), num_chains=2, chain_depth=2, seed=0)
    >>> layer(np.random.uniform(size=(2, 8, 8, 3)).astype("float32")).shape
    (2, 8, 8, 3)
    """

    _AUGMENT_LAYERS_ALL = ["random_shear", "random_translation", "random_rotation",
                           "random_posterization", "solarization", "auto_contrast",
                           "equalization", "random_brightness", "random_color_degeneration",
                           "random_contrast", "random_sharpness"]
    _AUGMENT_LAYERS = _AUGMENT_LAYERS_ALL[:7]
    _moves_boxes = False

    def __init__(self, value_range=(0, 255), num_chains=3, chain_depth=3, factor=0.3,
                 alpha=1.0, all_ops=True, interpolation="bilinear", seed=None,
                 data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        where = self._where()
        for arg, v in (("num_chains", num_chains), ("chain_depth", chain_depth)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{where}: `{arg}` must be a positive integer, got {v!r}.")
        if not isinstance(alpha, (int, float, np.number)) or isinstance(alpha, bool) or \
                alpha <= 0:
            raise ValueError(f"{where}: `alpha` must be a positive number, got {alpha!r}.")
        self.value_range = value_range_arg(value_range, where, sort=False)
        self.num_chains, self.chain_depth = int(num_chains), int(chain_depth)
        self.factor = factor_range(factor, (0, 1), where)
        self.alpha = alpha
        self.all_ops = bool(all_ops)
        self.interpolation = interpolation
        self._make_layers(self._AUGMENT_LAYERS_ALL if self.all_ops else self._AUGMENT_LAYERS)

    def _sample(self, x):
        gen = self.seed_generator
        g = _random.gamma((self.num_chains,), self.alpha, dtype="float32", seed=gen)
        chain_weights = g / jnp.sum(g, axis=-1, keepdims=True)
        original_weight = _random.beta((), self.alpha, self.alpha, dtype="float32", seed=gen)
        # len(stages) means "no operation at this step", as Keras' `None` choice.
        choice = _random.randint((self.num_chains, self.chain_depth), 0,
                                 len(self._stages) + 1, dtype="int32", seed=gen)
        # Every step of every chain draws each stage's parameters; stacked as
        # (num_chains, chain_depth, ...) they feed one switch inside two scans.
        draws = [[s.sample(x) for s in self._stages]
                 for _ in range(self.num_chains * self.chain_depth)]
        stage_params = jax.tree_util.tree_map(
            lambda *leaves: jnp.stack(leaves).reshape(
                (self.num_chains, self.chain_depth) + jnp.shape(leaves[0])), *draws)
        return chain_weights, original_weight, choice, stage_params

    def _mix(self, x, params, masks):
        chain_weights, original_weight, choice, stage_params = params
        branches = self._branches(masks) + [lambda v, p: v]

        def depth_step(v, step):
            i, p = step
            return jax.lax.switch(i, branches, v, p), None

        def chain_step(mixed, chain):
            i, p, w = chain
            y = jax.lax.scan(depth_step, x, (i, p))[0]
            return mixed + y * w.astype(x.dtype), None

        mixed = jax.lax.scan(chain_step, jnp.zeros_like(x),
                             (choice, stage_params, chain_weights))[0]
        w = original_weight.astype(x.dtype)
        return w * x + (1 - w) * mixed

    def _apply(self, x, params):
        return jnp.clip(self._mix(x, params, masks=False), self.value_range[0],
                        self.value_range[1])

    def _apply_masks(self, masks, params):
        return self._mix(masks.astype(self.compute_dtype), params, masks=True)

    def get_config(self):
        config = super().get_config()
        config.update({"value_range": list(self.value_range), "num_chains": self.num_chains,
                       "chain_depth": self.chain_depth, "factor": self.factor,
                       "alpha": self.alpha, "all_ops": self.all_ops,
                       "interpolation": self.interpolation, "seed": self.seed})
        return config
