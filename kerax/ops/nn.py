"""Neural-network ops: Keras 3's `keras.ops.nn` names over jax.nn / jax.lax.

Activations, the Keras ops forms of the cross-entropies (per-sample values,
no reduction), normalization helpers, convolutions and pooling. Convolution
kernels use Keras' layout: (*spatial, in_channels // groups, out_channels);
`data_format=None` means `kerax.config.image_data_format()`.
"""
import builtins
import functools

import jax
import jax.numpy as jnp
import numpy as np

from kerax import config
from kerax.ops.core import convert_to_tensor as _t
from kerax.ops.core import float_tensor as _f


# ---------------------------------------------------------------------------
# Activations.

def _relu(x):
    """`max(x, 0)` with a zero gradient at 0 (as `jax.nn.relu`), as a plain
    `where`: `jax.nn.relu` is a jitted custom-JVP function, whose nested call
    traces ~1.7x slower under `grad` (a 100-layer MLP's value and gradient:
    0.16 s against 0.09 s)."""
    return jnp.where(x <= 0, jnp.zeros((), x.dtype), x)


def relu(x):
    return _relu(_f(x))


def relu6(x):
    return jax.nn.relu6(_f(x))


def sigmoid(x):
    return jax.nn.sigmoid(_f(x))


def sparse_sigmoid(x):
    x = _f(x)
    return jnp.where(x <= -1, 0.0, jnp.where(x >= 1, 1.0, 0.5 * (x + 1))).astype(x.dtype)


def softplus(x):
    return jax.nn.softplus(_f(x))


def softsign(x):
    return jax.nn.soft_sign(_f(x))


def silu(x):
    return jax.nn.silu(_f(x))


def swish(x):
    return jax.nn.silu(_f(x))


def log_sigmoid(x):
    return jax.nn.log_sigmoid(_f(x))


def leaky_relu(x, negative_slope=0.2):
    return jax.nn.leaky_relu(_f(x), negative_slope=negative_slope)


def hard_sigmoid(x):
    x = _f(x)
    return jax.nn.relu6(x + 3.0) / 6.0


def hard_silu(x):
    x = _f(x)
    return x * (jax.nn.relu6(x + 3.0) / 6.0)


def hard_swish(x):
    return hard_silu(x)


def hard_tanh(x):
    return jnp.clip(_f(x), -1.0, 1.0)


def hard_shrink(x, threshold=0.5):
    x = _f(x)
    return jnp.where(jnp.abs(x) > threshold, x, jnp.zeros_like(x))


def soft_shrink(x, threshold=0.5):
    x = _f(x)
    return jnp.where(x > threshold, x - threshold,
                     jnp.where(x < -threshold, x + threshold, jnp.zeros_like(x)))


def tanh_shrink(x):
    x = _f(x)
    return x - jnp.tanh(x)


def threshold(x, threshold, default_value):
    x = _t(x)
    return jnp.where(x > threshold, x, jnp.asarray(default_value, x.dtype))


def elu(x, alpha=1.0):
    return jax.nn.elu(_f(x), alpha=alpha)


def celu(x, alpha=1.0):
    return jax.nn.celu(_f(x), alpha=alpha)


def selu(x):
    return jax.nn.selu(_f(x))


def gelu(x, approximate=True):
    return jax.nn.gelu(_f(x), approximate=approximate)


def glu(x, axis=-1):
    x = _f(x)
    if x.shape[axis] % 2:
        raise ValueError(f"glu: the size of axis {axis} must be even, got shape {x.shape}.")
    a, b = jnp.split(x, 2, axis=axis)
    return a * jax.nn.sigmoid(b)


def sparse_plus(x):
    x = _f(x)
    return jnp.where(x <= -1, jnp.zeros_like(x), jnp.where(x >= 1, x, 0.25 * (x + 1) ** 2))


def squareplus(x, b=4):
    x = _f(x)
    return (x + jnp.sqrt(jnp.square(x) + b)) / 2


def softmax(x, axis=-1):
    return jax.nn.softmax(_f(x), axis=_ax(axis))


def log_softmax(x, axis=-1):
    return jax.nn.log_softmax(_f(x), axis=_ax(axis))


def sparsemax(x, axis=-1):
    x = _f(x)
    x = jnp.moveaxis(x, axis, -1)
    z = jnp.sort(x, axis=-1)[..., ::-1]
    k = jnp.arange(1, x.shape[-1] + 1, dtype=x.dtype)
    cs = jnp.cumsum(z, axis=-1)
    support = (1 + k * z) > cs
    k_z = jnp.sum(support, axis=-1, keepdims=True).astype(x.dtype)
    tau = (jnp.take_along_axis(cs, k_z.astype("int32") - 1, axis=-1) - 1) / k_z
    return jnp.moveaxis(jnp.maximum(x - tau, 0), -1, axis)


def _ax(axis):
    return tuple(axis) if isinstance(axis, list) else axis


# ---------------------------------------------------------------------------
# Encodings and losses (Keras ops forms: one value per sample, no reduction).

def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    if sparse:
        raise ValueError("one_hot: sparse=True is not supported by kerax.")
    x = _t(x)
    return jax.nn.one_hot(x, int(num_classes), axis=axis,
                          dtype=dtype or config.floatx())


def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs):
    if num_classes is None:
        num_classes = kwargs.pop("num_tokens", None)
    if num_classes is None:
        raise ValueError("multi_hot: num_classes is required.")
    if sparse:
        raise ValueError("multi_hot: sparse=True is not supported by kerax.")
    x = _t(inputs)
    squeeze = x.ndim == 1
    if squeeze:
        x = x[None]
    out = jnp.max(jax.nn.one_hot(x, int(num_classes), axis=axis,
                                 dtype=dtype or config.floatx()),
                  axis=-2 if axis == -1 else 1)
    return out[0] if squeeze else out


def binary_crossentropy(target, output, from_logits=False):
    target, output = _f(target), _f(output)
    if target.shape != output.shape:
        raise ValueError("binary_crossentropy: target and output must have the same shape, "
                         f"got {target.shape} and {output.shape}.")
    if from_logits:
        return -(target * jax.nn.log_sigmoid(output) + (1 - target) * jax.nn.log_sigmoid(-output))
    eps = config.epsilon()
    output = jnp.clip(output, eps, 1.0 - eps)
    return -(target * jnp.log(output) + (1.0 - target) * jnp.log(1.0 - output))


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    target, output = _f(target), _f(output)
    if target.shape != output.shape:
        raise ValueError("categorical_crossentropy: target and output must have the same "
                         f"shape, got {target.shape} and {output.shape}.")
    if from_logits:
        return -jnp.sum(target * jax.nn.log_softmax(output, axis=axis), axis=axis)
    output = output / jnp.sum(output, axis=axis, keepdims=True)
    eps = config.epsilon()
    output = jnp.clip(output, eps, 1.0 - eps)
    return -jnp.sum(target * jnp.log(output), axis=axis)


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    target, output = _t(target), _f(output)
    if target.ndim == output.ndim and target.shape[-1] == 1:
        target = jnp.squeeze(target, axis=-1)
    if target.ndim != output.ndim - 1:
        raise ValueError("sparse_categorical_crossentropy: target must have one dimension "
                         f"less than output, got {target.shape} and {output.shape}.")
    onehot = jax.nn.one_hot(target.astype("int32"), output.shape[axis], axis=axis,
                            dtype=output.dtype)
    return categorical_crossentropy(onehot, output, from_logits=from_logits, axis=axis)


def moments(x, axes, keepdims=False, synchronized=False):
    """Mean and variance of `x` over `axes` (computed in float32 for half floats)."""
    x = _f(x)
    orig = x.dtype
    if orig in (jnp.float16, jnp.bfloat16):
        x = x.astype("float32")
    axes = tuple(axes) if isinstance(axes, (list, tuple)) else (axes,)
    mean = jnp.mean(x, axis=axes, keepdims=True)
    variance = jnp.mean(jnp.square(x - jax.lax.stop_gradient(mean)), axis=axes, keepdims=True)
    if not keepdims:
        mean = jnp.squeeze(mean, axes)
        variance = jnp.squeeze(variance, axes)
    return mean.astype(orig), variance.astype(orig)


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    x = _f(x)
    axis = axis % x.ndim
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]

    def b(v):
        return jnp.reshape(_t(v), shape)

    inv = jax.lax.rsqrt(b(variance) + epsilon)
    if scale is not None:
        inv = inv * b(scale)
    res = -b(mean) * inv
    if offset is not None:
        res = res + b(offset)
    return x * inv + res


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    x = _f(x)
    epsilon = config.epsilon() if epsilon is None else epsilon
    axes = tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)
    mean = jnp.mean(x, axis=axes, keepdims=True)
    var = jnp.var(x, axis=axes, keepdims=True)
    out = (x - mean) * jax.lax.rsqrt(var + epsilon)
    if gamma is not None:
        out = out * _t(gamma)
    if beta is not None:
        out = out + _t(beta)
    return out


def rms_normalization(x, scale=None, axis=-1, epsilon=None):
    x = _f(x)
    epsilon = config.epsilon() if epsilon is None else epsilon
    out = x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=axis, keepdims=True) + epsilon)
    if scale is not None:
        out = out * _t(scale)
    return out


def normalize(x, axis=-1, order=2, epsilon=None):
    x = _f(x)
    epsilon = config.epsilon() if epsilon is None else epsilon
    norm = jnp.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    return x / jnp.maximum(norm, epsilon)


def psnr(x1, x2, max_val):
    x1, x2 = _f(x1), _f(x2)
    if x1.shape != x2.shape:
        raise ValueError(f"psnr: x1 and x2 must have the same shape, got {x1.shape} and {x2.shape}.")
    mse = jnp.mean(jnp.square(x1 - x2))
    return 20 * jnp.log10(max_val) - 10 * jnp.log10(mse)


def polar(abs_, angle):
    abs_, angle = _f(abs_), _f(angle)
    return abs_ * (jnp.cos(angle) + 1j * jnp.sin(angle))


def dot_product_attention(query, key, value, bias=None, mask=None, scale=None,
                          is_causal=False, flash_attention=None, attn_logits_soft_cap=None):
    """Scaled dot-product attention over (batch, seq, heads, dim) inputs."""
    q, k, v = _f(query), _f(key), _f(value)
    if attn_logits_soft_cap is not None:
        scale_ = 1.0 / np.sqrt(q.shape[-1]) if scale is None else scale
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) * scale_
        logits = attn_logits_soft_cap * jnp.tanh(logits / attn_logits_soft_cap)
        if bias is not None:
            logits = logits + _t(bias)
        big_neg = jnp.finfo(logits.dtype).min
        if mask is not None:
            logits = jnp.where(_t(mask), logits, big_neg)
        if is_causal:
            causal = jnp.tril(jnp.ones((q.shape[1], k.shape[1]), bool))
            logits = jnp.where(causal, logits, big_neg)
        probs = jax.nn.softmax(logits, axis=-1)
        return jnp.einsum("bhqk,bkhd->bqhd", probs, v)
    return jax.nn.dot_product_attention(
        q, k, v, bias=None if bias is None else _t(bias),
        mask=None if mask is None else _t(mask), scale=scale, is_causal=is_causal)


# ---------------------------------------------------------------------------
# Convolution and pooling.

def _data_format(data_format):
    data_format = config.image_data_format() if data_format is None else data_format
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError("data_format must be 'channels_last' or 'channels_first', "
                         f"got {data_format!r}.")
    return data_format


def _tuple(v, n, name):
    if isinstance(v, (int, np.integer)):
        return (int(v),) * n
    v = tuple(int(i) for i in v)
    if len(v) == 1 and n > 1:
        v = v * n
    if len(v) != n:
        raise ValueError(f"{name}: expected an int or {n} ints, got {v}.")
    return v


def _padding(padding):
    p = str(padding).lower()
    if p not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}.")
    return p.upper()


def _to_last(x, data_format):
    if data_format == "channels_first":
        return jnp.moveaxis(x, 1, -1)
    return x


def _from_last(x, data_format):
    if data_format == "channels_first":
        return jnp.moveaxis(x, -1, 1)
    return x


def _dn(nd):
    sp = "DHW"[3 - nd:] if nd <= 3 else None
    if sp is None:
        raise ValueError(f"only 1D, 2D and 3D convolutions are supported, got {nd}D.")
    return ("N" + sp + "C", sp + "IO", "N" + sp + "C")


def _conv_last(x, kernel, strides, padding, dilation_rate, groups):
    nd = x.ndim - 2
    return jax.lax.conv_general_dilated(
        x, kernel, window_strides=_tuple(strides, nd, "strides"), padding=padding,
        rhs_dilation=_tuple(dilation_rate, nd, "dilation_rate"),
        dimension_numbers=_dn(nd), feature_group_count=groups)


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """N-D convolution (1D, 2D, 3D). `kernel` has shape
    (*spatial, in_channels // groups, out_channels)."""
    data_format = _data_format(data_format)
    x, kernel = _f(inputs), _t(kernel)
    if kernel.ndim != x.ndim:
        raise ValueError(f"conv: kernel rank {kernel.ndim} does not match inputs rank {x.ndim}.")
    x = _to_last(x, data_format)
    in_ch, k_in = x.shape[-1], kernel.shape[-2]
    if in_ch % k_in:
        raise ValueError(f"conv: input channels ({in_ch}) must be a multiple of the kernel's "
                         f"input channels ({k_in}).")
    out = _conv_last(x, kernel.astype(x.dtype), strides, _padding(padding), dilation_rate,
                     in_ch // k_in)
    return _from_last(out, data_format)


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None,
                   dilation_rate=1):
    """Depthwise convolution; `kernel` has shape (*spatial, in_channels, multiplier)."""
    data_format = _data_format(data_format)
    x, kernel = _f(inputs), _t(kernel)
    x = _to_last(x, data_format)
    in_ch = x.shape[-1]
    if kernel.shape[-2] != in_ch:
        raise ValueError(f"depthwise_conv: kernel's input channels ({kernel.shape[-2]}) must "
                         f"equal the inputs' channels ({in_ch}).")
    k = jnp.reshape(kernel, kernel.shape[:-2] + (1, in_ch * kernel.shape[-1]))
    out = _conv_last(x, k.astype(x.dtype), strides, _padding(padding), dilation_rate, in_ch)
    return _from_last(out, data_format)


def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid",
                   data_format=None, dilation_rate=1):
    data_format = _data_format(data_format)
    out = depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format, dilation_rate)
    return conv(out, pointwise_kernel, 1, "valid", data_format, 1)


def _transpose_out_len(n, k, s, padding, output_padding, d):
    k = (k - 1) * d + 1
    if output_padding is None:
        if padding == "VALID":
            return n * s + builtins.max(k - s, 0)
        return n * s
    pad = k // 2 if padding == "SAME" else 0
    return (n - 1) * s + k - 2 * pad + output_padding


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None,
                   data_format=None, dilation_rate=1):
    """Transposed convolution (the gradient of `conv`); `kernel` has shape
    (*spatial, out_channels, in_channels)."""
    data_format = _data_format(data_format)
    x, kernel = _f(inputs), _t(kernel)
    x = _to_last(x, data_format)
    nd = x.ndim - 2
    strides = _tuple(strides, nd, "strides")
    dil = _tuple(dilation_rate, nd, "dilation_rate")
    opad = None if output_padding is None else _tuple(output_padding, nd, "output_padding")
    padding = _padding(padding)
    pads = []
    for i in range(nd):
        n, k, s, d = x.shape[1 + i], kernel.shape[i], strides[i], dil[i]
        ke = (k - 1) * d + 1
        length = _transpose_out_len(n, k, s, padding, None if opad is None else opad[i], d)
        total = length - (n - 1) * s - 1 + ke - 1
        # 'valid' keeps every full overlap on the left; 'same' centres the
        # window, favouring the left, as Keras does.
        lo = ke - 1 if padding == "VALID" else builtins.min(total - total // 2, ke - 1)
        pads.append((lo, total - lo))
    # Flip the kernel spatially and swap its channel axes: a conv with
    # lhs dilation by the strides is the transpose of the strided conv.
    k = jnp.flip(kernel, axis=tuple(range(nd)))
    k = jnp.swapaxes(k, -1, -2).astype(x.dtype)
    out = jax.lax.conv_general_dilated(
        x, k, window_strides=(1,) * nd, padding=pads, lhs_dilation=strides,
        rhs_dilation=dil, dimension_numbers=_dn(nd))
    return _from_last(out, data_format)


def _pool(inputs, pool_size, strides, padding, data_format, init, op):
    data_format = _data_format(data_format)
    x = _to_last(_f(inputs), data_format)
    nd = x.ndim - 2
    pool_size = _tuple(pool_size, nd, "pool_size")
    strides = pool_size if strides is None else _tuple(strides, nd, "strides")
    padding = _padding(padding)
    window = (1,) + pool_size + (1,)
    st = (1,) + strides + (1,)
    out = jax.lax.reduce_window(x, jnp.asarray(init, x.dtype), op, window, st, padding)
    return x, out, window, st, padding, data_format


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    x, out, *_, data_format = _pool(inputs, pool_size, strides, padding, data_format,
                                    -jnp.inf, jax.lax.max)
    return _from_last(out, data_format)


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Average pooling; with padding='same' the edges average only the real
    (unpadded) values, as Keras/TensorFlow do."""
    x, out, window, st, pad, data_format = _pool(inputs, pool_size, strides, padding,
                                                 data_format, 0.0, jax.lax.add)
    if pad == "VALID":
        out = out / np.prod(window)
    else:
        ones = jnp.ones((1,) + x.shape[1:-1] + (1,), x.dtype)
        counts = jax.lax.reduce_window(ones, jnp.asarray(0.0, x.dtype), jax.lax.add,
                                       window, st, pad)
        out = out / counts
    return _from_last(out, data_format)


def adaptive_average_pool(inputs, output_size, data_format=None):
    return _adaptive(inputs, output_size, data_format, jnp.mean)


def adaptive_max_pool(inputs, output_size, data_format=None):
    return _adaptive(inputs, output_size, data_format, jnp.max)


def _adaptive(inputs, output_size, data_format, reduce):
    data_format = _data_format(data_format)
    x = _to_last(_f(inputs), data_format)
    nd = x.ndim - 2
    output_size = _tuple(output_size, nd, "output_size")
    for i, o in enumerate(output_size):
        n = x.shape[1 + i]
        pieces = []
        for j in range(o):
            start = (j * n) // o
            end = -((-(j + 1) * n) // o)
            sl = jax.lax.slice_in_dim(x, start, end, axis=1 + i)
            pieces.append(reduce(sl, axis=1 + i, keepdims=True))
        x = jnp.concatenate(pieces, axis=1 + i)
    return _from_last(x, data_format)


def depth_to_space(x, block_size, data_format="channels_last"):
    x = _t(x)
    data_format = _data_format(data_format)
    x = _to_last(x, data_format)
    b, h, w, c = x.shape
    s = int(block_size)
    x = x.reshape(b, h, w, s, s, c // (s * s)).transpose(0, 1, 3, 2, 4, 5)
    x = x.reshape(b, h * s, w * s, c // (s * s))
    return _from_last(x, data_format)


def space_to_depth(x, block_size, data_format="channels_last"):
    x = _t(x)
    data_format = _data_format(data_format)
    x = _to_last(x, data_format)
    b, h, w, c = x.shape
    s = int(block_size)
    x = x.reshape(b, h // s, s, w // s, s, c).transpose(0, 1, 3, 2, 4, 5)
    x = x.reshape(b, h // s, w // s, s * s * c)
    return _from_last(x, data_format)


def ctc_loss(target, output, target_length, output_length, mask_index=0):
    """CTC loss per sample; `output` holds logits (batch, time, classes)."""
    import optax

    target, output = _t(target).astype("int32"), _f(output)
    target_length, output_length = _t(target_length), _t(output_length)
    t_steps, max_label = output.shape[1], target.shape[1]
    logit_pad = (jnp.arange(t_steps)[None, :] >= output_length[:, None]).astype(output.dtype)
    label_pad = (jnp.arange(max_label)[None, :] >= target_length[:, None]).astype(output.dtype)
    return optax.ctc_loss(output, logit_pad, target, label_pad, blank_id=mask_index)


# ---------------------------------------------------------------------------
# Sliding blocks (im2col / col2im), channels-first as PyTorch's Unfold / Fold.

def _block_geometry(who, kernel_size, dilation, padding, stride):
    return tuple(_tuple(v, 2, f"{who}: `{name}`") for name, v in (
        ("kernel_size", kernel_size), ("dilation", dilation), ("padding", padding),
        ("stride", stride)))


def _unfold_padded(x, kernel, dilation, stride):
    n, c = x.shape[:2]
    patches = jax.lax.conv_general_dilated_patches(
        x, filter_shape=kernel, window_strides=stride, padding="VALID",
        rhs_dilation=dilation, dimension_numbers=("NCHW", "OIHW", "NCHW"),
        precision=jax.lax.Precision.HIGHEST)
    return patches.reshape(n, c * kernel[0] * kernel[1], -1)


def unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding blocks of a channels-first image batch `(N, C, H, W)` as
    columns: `(N, C * kH * kW, L)`, `L` the number of block positions (the
    column of each block lists its values channel by channel, row by row).
    `padding` zero-pads both sides of H and W first.

    >>> import numpy as np
    >>> unfold(np.ones((1, 2, 4, 4), "float32"), kernel_size=2, stride=2).shape
    (1, 8, 4)
    """
    x = _f(x)
    if x.ndim != 4:
        raise ValueError(f"unfold: `x` must be a 4D tensor (N, C, H, W), got shape {x.shape}.")
    kernel, dilation, padding, stride = _block_geometry(
        "unfold", kernel_size, dilation, padding, stride)
    x = jnp.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    return _unfold_padded(x, kernel, dilation, stride)


def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Inverse arrangement of `unfold`: columns `(N, C * kH * kW, L)` summed back
    into an image `(N, C, oH, oW)` (overlapping values add up; `padding` is
    cut off again). `fold(unfold(x))` is `x` times how many blocks cover each
    pixel.

    >>> import numpy as np
    >>> cols = unfold(np.ones((1, 2, 4, 4), "float32"), kernel_size=2, stride=2)
    >>> fold(cols, output_size=(4, 4), kernel_size=2, stride=2).shape
    (1, 2, 4, 4)
    """
    x = _f(x)
    if x.ndim != 3:
        raise ValueError(f"fold: `x` must be a 3D tensor (N, C * kH * kW, L), got shape "
                         f"{x.shape}.")
    out_h, out_w = _tuple(output_size, 2, "fold: `output_size`")
    kernel, dilation, padding, stride = _block_geometry(
        "fold", kernel_size, dilation, padding, stride)
    n, ckk, length = x.shape
    if ckk % (kernel[0] * kernel[1]):
        raise ValueError(f"fold: the second axis of `x` ({ckk}) must be a multiple of "
                         f"kH * kW = {kernel[0] * kernel[1]} (kernel_size={kernel}).")
    padded = (out_h + 2 * padding[0], out_w + 2 * padding[1])
    blocks = [(p - d * (k - 1) - 1) // s + 1
              for p, d, k, s in zip(padded, dilation, kernel, stride)]
    if blocks[0] * blocks[1] != length:
        raise ValueError(
            f"fold: `x` has {length} blocks on its last axis, but output_size="
            f"{(out_h, out_w)} with kernel_size={kernel}, dilation={dilation}, padding="
            f"{padding}, stride={stride} gives {blocks[0]} x {blocks[1]} = "
            f"{blocks[0] * blocks[1]}.")
    return _fold(x, (out_h, out_w), kernel, dilation, padding, stride)


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4, 5))
def _fold(x, size, kernel, dilation, padding, stride):
    n, ckk, _ = x.shape
    padded = (size[0] + 2 * padding[0], size[1] + 2 * padding[1])
    image = jax.ShapeDtypeStruct((n, ckk // (kernel[0] * kernel[1])) + padded, x.dtype)
    # fold is the adjoint of unfold: transpose the (linear) unfold of the padded image
    (out,) = jax.linear_transpose(
        lambda v: _unfold_padded(v, kernel, dilation, stride), image)(x)
    return out[:, :, padding[0]:padding[0] + size[0], padding[1]:padding[1] + size[1]]


# ---------------------------------------------------------------------------
# CTC decoding.

def _ctc_greedy(logits, lengths, merge_repeated, blank):
    batch, steps, _ = logits.shape
    best = jnp.argmax(logits, axis=-1).astype("int32")
    score = jnp.max(logits, axis=-1)
    padded = jnp.arange(steps)[None, :] >= lengths[:, None]
    best = jnp.where(padded, blank, best)
    score = jnp.where(padded, 0.0, score)
    if merge_repeated:
        repeat = jnp.pad(best[:, 1:] == best[:, :-1], ((0, 0), (1, 0)))
        best = jnp.where(repeat, blank, best)
    keep = best != blank
    # the kept labels first, in order (a stable sort on "dropped"), then -1s
    order = jnp.argsort(~keep, axis=-1, stable=True)
    labels = jnp.where(jnp.take_along_axis(keep, order, axis=-1),
                       jnp.take_along_axis(best, order, axis=-1), -1)
    return labels[None], -jnp.sum(score, axis=1, keepdims=True)


def _ctc_beam_one(log_probs, length, beam_width, top_paths, blank):
    """CTC prefix beam search of one sequence (steps, classes) of log-probabilities.

    Each beam is a label prefix with the log-probability of all alignments
    that give it and end in a blank (`p_blank`) or in its last label
    (`p_label`). A step keeps each prefix (a blank, or its last label again)
    and extends it by every label; extensions that reach a prefix already in
    the beam are added to it; the `beam_width` most likely prefixes remain."""
    steps, classes = log_probs.shape
    neg = jnp.asarray(-jnp.inf, log_probs.dtype)
    paths = jnp.full((beam_width, steps), -1, "int32")
    sizes = jnp.zeros((beam_width,), "int32")
    p_blank = jnp.full((beam_width,), neg).at[0].set(0.0)
    p_label = jnp.full((beam_width,), neg)
    rows = jnp.arange(beam_width)
    labels = jnp.arange(classes)

    def step(state, inputs):
        paths, sizes, p_blank, p_label = state
        lp, active = inputs
        total = jnp.logaddexp(p_blank, p_label)
        valid = total > neg
        last = jnp.where(sizes > 0, paths[rows, jnp.maximum(sizes - 1, 0)], -1)
        # the same prefix: a blank after anything, or its last label repeated
        same_blank = total + lp[blank]
        same_label = p_label + jnp.where(sizes > 0, lp[jnp.maximum(last, 0)], neg)
        # prefix i extended by label c (after a blank when c repeats the last label)
        ext = jnp.where((labels[None, :] == last[:, None]), p_blank[:, None],
                        total[:, None]) + lp[None, :]
        ext = jnp.where((labels[None, :] == blank) | ~valid[:, None], neg, ext)
        # is beam j prefix i + [c]? (then the extension's mass joins beam j)
        j_last = jnp.where(sizes > 0, paths[rows, jnp.maximum(sizes - 1, 0)], -1)
        j_parent = paths.at[rows, jnp.maximum(sizes - 1, 0)].set(
            jnp.where(sizes > 0, -1, paths[rows, 0]))
        child = ((sizes[None, :] == sizes[:, None] + 1) & valid[None, :]
                 & jnp.all(j_parent[None, :, :] == paths[:, None, :], axis=-1))  # [i, j]
        hits = child[:, :, None] & (j_last[None, :, None] == labels[None, None, :])  # [i, j, c]
        into = jnp.where(hits, ext[:, None, :], neg)
        same_label = jnp.logaddexp(same_label, jax.scipy.special.logsumexp(into, axis=(0, 2)))
        ext = jnp.where(jnp.any(hits, axis=1), neg, ext)
        # candidates: the beam_width kept prefixes, then beam_width * classes extensions
        cand_blank = jnp.concatenate([same_blank, jnp.full((beam_width * classes,), neg)])
        cand_label = jnp.concatenate([same_label, ext.reshape(-1)])
        cand_total = jnp.logaddexp(cand_blank, cand_label)
        _, top = jax.lax.top_k(cand_total, beam_width)
        parent = jnp.where(top < beam_width, top, (top - beam_width) // classes)
        added = jnp.where(top < beam_width, -1, (top - beam_width) % classes)
        new_paths = paths[parent]
        new_sizes = sizes[parent]
        grow = added >= 0
        new_paths = new_paths.at[rows, jnp.minimum(new_sizes, steps - 1)].set(
            jnp.where(grow, added, new_paths[rows, jnp.minimum(new_sizes, steps - 1)]))
        new_sizes = new_sizes + grow
        new = (new_paths, new_sizes, cand_blank[top], cand_label[top])
        return jax.tree_util.tree_map(lambda a, b: jnp.where(active, a, b), new, state), None

    active = jnp.arange(steps) < length
    (paths, sizes, p_blank, p_label), _ = jax.lax.scan(
        step, (paths, sizes, p_blank, p_label), (log_probs, active))
    scores, best = jax.lax.top_k(jnp.logaddexp(p_blank, p_label), top_paths)
    return paths[best], scores


def ctc_decode(inputs, sequence_lengths, strategy="greedy", beam_width=100, top_paths=1,
               merge_repeated=True, mask_index=0):
    """Decode CTC outputs `inputs` (batch, steps, classes), each sequence read up
    to its `sequence_lengths`, with `mask_index` the blank class.

    Returns `(paths, scores)` as Keras 3: `paths` is int32 (top_paths, batch,
    steps), each decoded label sequence left-aligned and padded with -1;
    `scores` is (batch, top_paths). `strategy="greedy"` takes the best class per
    step, merges repeats (`merge_repeated`) and drops blanks; its score is
    minus the sum of the chosen `inputs`. `strategy="beam_search"` runs a CTC
    prefix beam search of `beam_width` over `log_softmax(inputs)` (repeats are
    always merged) and returns the `top_paths` best label sequences with their
    log-probabilities.

    >>> import numpy as np
    >>> logits = np.log(np.array([[[.1, .8, .1], [.1, .8, .1], [.8, .1, .1],
    ...                            [.1, .1, .8]]], "float32"))
    >>> paths, scores = ctc_decode(logits, [4])
    >>> paths[0, 0].tolist()
    [1, 2, -1, -1]
    """
    inputs = _t(inputs)
    if not jnp.issubdtype(inputs.dtype, jnp.floating):
        inputs = inputs.astype("float32")
    if inputs.ndim != 3:
        raise ValueError(f"ctc_decode: `inputs` must be (batch, steps, classes), got shape "
                         f"{inputs.shape}.")
    lengths = _t(sequence_lengths).astype("int32")
    classes = inputs.shape[-1]
    blank = classes - 1 if mask_index is None else int(mask_index)
    if not 0 <= blank < classes:
        raise ValueError(f"ctc_decode: `mask_index` must be a class index in [0, {classes}), "
                         f"got {mask_index}.")
    if strategy == "greedy":
        return _ctc_greedy(inputs, lengths, merge_repeated, blank)
    if strategy != "beam_search":
        raise ValueError(f"ctc_decode: `strategy` must be 'greedy' or 'beam_search', got "
                         f"{strategy!r}.")
    beam_width, top_paths = int(beam_width), int(top_paths)
    if not 1 <= top_paths <= beam_width:
        raise ValueError(f"ctc_decode: `top_paths` must be in [1, beam_width={beam_width}], "
                         f"got {top_paths}.")
    return _ctc_beam_search(inputs, lengths, beam_width, top_paths, blank)


@functools.partial(jax.jit, static_argnums=(2, 3, 4))
def _ctc_beam_search(inputs, lengths, beam_width, top_paths, blank):
    log_probs = jax.nn.log_softmax(inputs, axis=-1)
    paths, scores = jax.vmap(
        lambda lp, n: _ctc_beam_one(lp, n, beam_width, top_paths, blank))(log_probs, lengths)
    return jnp.transpose(paths, (1, 0, 2)), scores


__all__ = sorted(n for n, v in list(globals().items())
                 if callable(v) and not n.startswith("_")
                 and getattr(v, "__module__", None) == __name__)
