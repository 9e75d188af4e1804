"""kerax.ops.image against keras.ops.image (JAX backend) on small random inputs."""
import inspect

import jax
import numpy as np
import pytest

import kerax
from kerax import ops

_r = np.random.default_rng(0)
IMG = _r.random((2, 7, 9, 3)).astype("float32")
IMG_CF = np.moveaxis(IMG, -1, 1).copy()
VOL = _r.random((2, 6, 5, 7, 2)).astype("float32")
INT_IMG = _r.integers(0, 255, (2, 6, 6, 3)).astype("int32")
AFFINE = np.array([[1.1, 0.2, -1.3, -0.1, 0.9, 0.7, 0, 0],
                   [0.8, -0.3, 2.0, 0.25, 1.2, -0.5, 0, 0]], "float32")
START = np.array([[0, 0], [8, 0], [0, 6], [8, 6]], "float32")
END = np.array([[[1, 0.5], [7, 0], [0, 5], [8, 6.5]],
                [[0, 1], [8.5, 0], [0.5, 6], [7, 5]]], "float32")
COORDS = _r.uniform(-2, 9, (3, 4, 5)).astype("float32")

# name -> (args, kwargs, tolerance): compared with keras.ops.image.<name>.
CASES = {
    "extract_patches": ((IMG, (2, 3)), {}, 0),
    "extract_patches[int]": ((IMG, 2), {}, 0),
    "extract_patches[unbatched]": ((IMG[0], (3, 3), (1, 2)), {}, 0),
    "extract_patches[same]": ((IMG, (3, 2), (2, 2)), {"padding": "same"}, 0),
    "extract_patches[dilation]": ((IMG, (2, 2), 1), {"dilation_rate": 2}, 0),
    "extract_patches[channels_first]": ((IMG_CF, (2, 3)), {"data_format": "channels_first"}, 0),
    "extract_patches[int_dtype]": ((INT_IMG, 3), {}, 0),
    "extract_patches[3d]": ((VOL, (2, 2, 3)), {}, 0),
    "extract_patches_3d": ((VOL, 2), {}, 0),
    "extract_patches_3d[unbatched_same]": ((VOL[0], (3, 2, 2), 2), {"padding": "same"}, 0),
    "extract_patches_3d[channels_first]": ((np.moveaxis(VOL, -1, 1).copy(), (2, 2, 3)),
                                           {"data_format": "channels_first"}, 0),
    "rgb_to_hsv": ((IMG,), {}, 1e-6),
    "rgb_to_hsv[gray_and_zero]": ((np.array([[[0.5, 0.5, 0.5], [0, 0, 0], [0.2, 0.9, 0.9],
                                              [0.3, 0.1, 0.3]]], "float32"),), {}, 1e-6),
    "rgb_to_hsv[channels_first]": ((IMG_CF,), {"data_format": "channels_first"}, 1e-6),
    "hsv_to_rgb": ((IMG,), {}, 1e-6),
    "hsv_to_rgb[channels_first]": ((IMG_CF[0],), {"data_format": "channels_first"}, 1e-6),
    "map_coordinates": ((IMG[0], COORDS, 1), {}, 1e-5),
    "map_coordinates[nearest_wrap]": ((IMG[0], COORDS, 0), {"fill_mode": "wrap"}, 1e-5),
    "map_coordinates[mirror]": ((IMG[0], COORDS, 1), {"fill_mode": "mirror"}, 1e-5),
    "map_coordinates[reflect_fill]": ((IMG[0], COORDS, 1),
                                      {"fill_mode": "reflect", "fill_value": 2.0}, 1e-5),
    "map_coordinates[constant_fill]": ((IMG[0], COORDS, 1), {"fill_value": -1.0}, 1e-5),
    "affine_transform": ((IMG, AFFINE), {}, 1e-5),
    "affine_transform[nearest_reflect]": ((IMG, AFFINE), {"interpolation": "nearest",
                                                          "fill_mode": "reflect"}, 1e-5),
    "affine_transform[wrap_unbatched]": ((IMG[0], AFFINE[0]), {"fill_mode": "wrap"}, 1e-5),
    "affine_transform[fill]": ((IMG, AFFINE), {"fill_value": 0.5}, 1e-5),
    "affine_transform[nearest_mode]": ((IMG, AFFINE), {"fill_mode": "nearest"}, 1e-5),
    "affine_transform[mirror]": ((IMG, AFFINE), {"fill_mode": "mirror"}, 1e-5),
    "affine_transform[channels_first]": ((IMG_CF, AFFINE), {"data_format": "channels_first"},
                                         1e-5),
    "perspective_transform": ((IMG[:1], START, END[0]), {}, 1e-4),
    "perspective_transform[batch]": ((IMG, np.stack([START, START]), END),
                                     {"fill_value": 0.3}, 1e-4),
    "perspective_transform[nearest_unbatched]": ((IMG[0], START, END[1]),
                                                 {"interpolation": "nearest"}, 1e-4),
    "perspective_transform[channels_first]": ((IMG_CF[:1], START, END[0]),
                                              {"data_format": "channels_first"}, 1e-4),
    "gaussian_blur": ((IMG,), {"data_format": "channels_last"}, 1e-6),
    "gaussian_blur[asymmetric]": ((IMG, (5, 3), (1.5, 0.7)), {"data_format": "channels_last"},
                                  1e-6),
    "gaussian_blur[unbatched_even]": ((IMG[0], (4, 2), (0.8, 2.0)),
                                      {"data_format": "channels_last"}, 1e-6),
    "gaussian_blur[channels_first]": ((IMG_CF, (3, 5), (1.0, 0.5)),
                                      {"data_format": "channels_first"}, 1e-6),
    "sobel_edges": ((IMG,), {}, 1e-5),
    "sobel_edges[channels_first]": ((IMG_CF,), {"data_format": "channels_first"}, 1e-5),
    "scale_and_translate": ((IMG, (2, 12, 5, 3), (1.5, 0.6), (0.5, -0.2), (1, 2), "linear"),
                            {}, 1e-5),
    "scale_and_translate[cubic_noaa]": ((IMG[0, ..., 0], (4, 13), (0.5, 1.4), (0.0, 1.0),
                                         (0, 1), "bicubic"), {"antialias": False}, 1e-5),
    "scale_and_translate[lanczos3]": ((IMG, (2, 5, 5, 3), (0.7, 0.5), (0.2, 0.1), (1, 2),
                                       "lanczos3"), {}, 1e-5),
    "ssim": ((IMG, np.clip(IMG + 0.1 * _r.standard_normal(IMG.shape), 0, 1)
              .astype("float32")), {"filter_size": 5}, 1e-5),
    "ssim[unbatched_options]": ((IMG[0] * 255, IMG[1] * 255),
                                {"max_val": 255.0, "filter_size": 3, "filter_sigma": 0.8,
                                 "k1": 0.02, "k2": 0.05}, 1e-5),
    "ssim[channels_first]": ((IMG_CF, IMG_CF[::-1]),
                             {"filter_size": 3, "data_format": "channels_first"}, 1e-5),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_keras(case, keras):
    name = case.split("[")[0]
    args, kwargs, tol = CASES[case]
    expected = np.asarray(getattr(keras.ops.image, name)(*args, **kwargs))
    got = np.asarray(getattr(ops.image, name)(*args, **kwargs))
    assert got.shape == expected.shape, (case, got.shape, expected.shape)
    assert got.dtype == expected.dtype, (case, got.dtype, expected.dtype)
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol, err_msg=case)


def test_new_names_and_signatures_match_keras(keras):
    public = {n for n in dir(keras.ops.image) if not n.startswith("_")}
    assert public <= set(ops.image.__all__)
    for name in ops.image.__all__:
        ks = inspect.signature(getattr(keras.ops.image, name)).parameters.values()
        ms = inspect.signature(getattr(ops.image, name)).parameters.values()
        assert [(p.name, p.default) for p in ks] == [(p.name, p.default) for p in ms], name


def test_default_data_format_follows_config(keras):
    # Keras' JAX gaussian_blur reads data_format=None as channels_first; kerax
    # follows image_data_format() as Keras documents.
    np.testing.assert_allclose(ops.image.gaussian_blur(IMG),
                               keras.ops.image.gaussian_blur(IMG, data_format="channels_last"),
                               atol=1e-6)


def test_hsv_round_trip_and_closed_form():
    np.testing.assert_allclose(ops.image.hsv_to_rgb(ops.image.rgb_to_hsv(IMG)), IMG, atol=1e-5)
    hsv = ops.image.rgb_to_hsv(np.array([[[0.0, 1.0, 0.0], [0.0, 0.0, 0.5]]], "float32"))
    np.testing.assert_allclose(hsv, [[[1 / 3, 1.0, 1.0], [2 / 3, 1.0, 0.5]]], atol=1e-6)
    with pytest.raises(ValueError, match="float"):
        ops.image.rgb_to_hsv(INT_IMG)


def test_patches_closed_form():
    x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    p = ops.image.extract_patches(x, 2)
    np.testing.assert_array_equal(p[0, 0, 0], [0, 1, 4, 5])
    np.testing.assert_array_equal(p[0, 1, 1], [10, 11, 14, 15])
    with pytest.raises(ValueError, match="2 or 3"):
        ops.image.extract_patches(x, (2, 2, 2, 2))
    with pytest.raises(ValueError, match="padding"):
        ops.image.extract_patches(x, 2, padding="full")


def test_affine_honours_projective_terms():
    # c0, c1 divide the sampled coordinates (Keras' documented formula).
    x = IMG[:1]
    t = np.array([[1.0, 0, 0, 0, 1.0, 0, 0.05, 0.02]], "float32")
    ys, xs = np.mgrid[0:7, 0:9].astype("float32")
    k = 0.05 * xs + 0.02 * ys + 1
    expected = np.stack([jax.scipy.ndimage.map_coordinates(x[0, ..., c], [ys / k, xs / k], 1)
                         for c in range(3)], -1)
    np.testing.assert_allclose(ops.image.affine_transform(x, t)[0], expected, atol=1e-5)


def test_perspective_identity():
    np.testing.assert_allclose(ops.image.perspective_transform(IMG, START, START), IMG,
                               atol=1e-4)


def test_elastic_transform_seeds_and_shapes():
    x = IMG
    a = ops.image.elastic_transform(x, seed=3)
    np.testing.assert_array_equal(a, ops.image.elastic_transform(x, seed=3))
    assert a.shape == x.shape and a.dtype == x.dtype
    assert not np.allclose(a, ops.image.elastic_transform(x, seed=4))
    gen = kerax.random.SeedGenerator(1)
    assert not np.allclose(ops.image.elastic_transform(x, seed=gen),
                           ops.image.elastic_transform(x, seed=gen))
    # alpha=0: no displacement, the image comes back.
    np.testing.assert_allclose(ops.image.elastic_transform(x, alpha=0.0, seed=1), x, atol=1e-6)
    cf = ops.image.elastic_transform(IMG_CF, sigma=2.0, seed=5, data_format="channels_first",
                                     interpolation="nearest", fill_mode="constant")
    cl = ops.image.elastic_transform(IMG, sigma=2.0, seed=5, interpolation="nearest",
                                     fill_mode="constant")
    np.testing.assert_allclose(cf, np.moveaxis(np.asarray(cl), -1, 1), atol=1e-6)
    # The result is a bilinear resampling of the input: values stay in its range.
    assert float(np.min(a)) >= float(x.min()) - 1e-6 and float(np.max(a)) <= x.max() + 1e-6


def test_elastic_transform_matches_its_displacement_field():
    x, alpha, sigma = IMG[:1], 3.0, 1.0
    out = ops.image.elastic_transform(x, alpha=alpha, sigma=sigma, seed=7)
    kr, kc = jax.random.split(kerax.random.draw_seed(7))
    dr, dc = (alpha * ops.image.gaussian_blur(
        jax.random.normal(k, (1, 7, 9, 1)) * sigma, (7, 7), (sigma, sigma),
        "channels_last")[0, ..., 0] for k in (kr, kc))
    ys, xs = np.mgrid[0:7, 0:9]
    expected = np.stack([ops.image.map_coordinates(x[0, ..., c], np.stack([ys + dr, xs + dc]),
                                                   1, "reflect") for c in range(3)], -1)
    np.testing.assert_allclose(out[0], expected, atol=1e-5)


def test_ssim_identical_images_is_one():
    np.testing.assert_allclose(ops.image.ssim(IMG, IMG, filter_size=5), [1.0, 1.0], atol=1e-5)


@pytest.mark.parametrize("wrap", ["jit", "kerax_function"])
def test_under_jit(wrap):
    def f(x, t, s, e):
        return (ops.image.extract_patches(x, 3, 1), ops.image.affine_transform(x, t),
                ops.image.perspective_transform(x, s, e), ops.image.gaussian_blur(x),
                ops.image.sobel_edges(x), ops.image.ssim(x, x[::-1], filter_size=3),
                ops.image.hsv_to_rgb(ops.image.rgb_to_hsv(x)),
                ops.image.map_coordinates(x[0], COORDS, 1),
                ops.image.elastic_transform(x, seed=2))
    g = jax.jit(f) if wrap == "jit" else kerax.function(f)
    for a, b in zip(g(IMG, AFFINE, START, END[0]), f(IMG, AFFINE, START, END[0])):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_symbolic_inputs_go_through_lambda():
    # Like every kerax op, image ops run on real arrays: on kerax.Input they are
    # wrapped in a Lambda layer.
    inp = kerax.Input((7, 9, 3))
    out = kerax.layers.Lambda(lambda t: ops.image.extract_patches(t, (7, 3)))(inp)
    model = kerax.Model(inp, out)
    assert tuple(model.output_shape) == (None, 1, 3, 63)
    np.testing.assert_array_equal(model.predict(IMG, verbose=0),
                                  ops.image.extract_patches(IMG, (7, 3)))


def test_docstring_examples_run():
    import doctest
    result = doctest.testmod(ops.image, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 12 and result.failed == 0


def test_elastic_transform_global_seed_in_kerax_function():
    f = kerax.function(lambda x: ops.image.elastic_transform(x))
    a, b = f(IMG), f(IMG)
    assert a.shape == IMG.shape and not np.allclose(a, b)
