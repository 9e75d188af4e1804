"""Bounding-box arithmetic (Keras 3's `keras.utils.bounding_boxes`), on jax.numpy.

The image augmentation layers use these to move boxes with the pixels;
`kerax.utils.bounding_boxes` is the public facade. Boxes are arrays whose last
axis has 4 numbers in one of the formats of `SUPPORTED_FORMATS`:

- "xyxy" (x1, y1, x2, y2), "yxyx" (y1, x1, y2, x2), "xywh" (x1, y1, w, h),
  "center_xywh" (cx, cy, w, h), "center_yxhw" (cy, cx, h, w), all in pixels;
- "rel_xyxy", "rel_yxyx", "rel_xywh", "rel_center_xywh": the same divided by the
  image width (x, w) and height (y, h).

A set of boxes with their classes is a dict {"boxes": (..., N, 4),
"labels": (..., N)}; label -1 marks an empty slot.
"""
import math

import jax.numpy as jnp
import numpy as np

from kerax import config

__all__ = ["SUPPORTED_FORMATS", "convert_format", "clip_to_image_size", "affine_transform",
           "crop", "pad", "encode_box_to_deltas", "decode_deltas_to_boxes", "compute_iou",
           "compute_ciou"]

SUPPORTED_FORMATS = ("xyxy", "yxyx", "xywh", "center_xywh", "center_yxhw", "rel_xyxy",
                     "rel_yxyx", "rel_xywh", "rel_center_xywh")


def _split(boxes):
    return [boxes[..., i:i + 1] for i in range(4)]


def _cat(parts):
    return jnp.concatenate(parts, axis=-1)


# Each format to and from xyxy; `h`, `w` are the image size (used by rel_*).
def _to_xyxy(fmt, boxes, h, w):
    a, b, c, d = _split(boxes)
    if fmt == "xyxy":
        return boxes
    if fmt == "yxyx":
        return _cat([b, a, d, c])
    if fmt == "xywh":
        return _cat([a, b, a + c, b + d])
    if fmt == "center_xywh":
        return _cat([a - c / 2.0, b - d / 2.0, a + c / 2.0, b + d / 2.0])
    if fmt == "center_yxhw":
        return _cat([b - d / 2.0, a - c / 2.0, b + d / 2.0, a + c / 2.0])
    if fmt == "rel_xyxy":
        return _cat([a * w, b * h, c * w, d * h])
    if fmt == "rel_yxyx":
        return _cat([b * w, a * h, d * w, c * h])
    if fmt == "rel_xywh":
        return _cat([a * w, b * h, (a + c) * w, (b + d) * h])
    # rel_center_xywh
    return _cat([(a - c / 2.0) * w, (b - d / 2.0) * h, (a + c / 2.0) * w,
                 (b + d / 2.0) * h])


def _from_xyxy(fmt, boxes, h, w):
    x1, y1, x2, y2 = _split(boxes)
    if fmt == "xyxy":
        return boxes
    if fmt == "yxyx":
        return _cat([y1, x1, y2, x2])
    if fmt == "xywh":
        return _cat([x1, y1, x2 - x1, y2 - y1])
    if fmt == "center_xywh":
        return _cat([x1 + (x2 - x1) / 2.0, y1 + (y2 - y1) / 2.0, x2 - x1, y2 - y1])
    if fmt == "center_yxhw":
        return _cat([y1 + (y2 - y1) / 2.0, x1 + (x2 - x1) / 2.0, y2 - y1, x2 - x1])
    if fmt == "rel_xyxy":
        return _cat([x1 / w, y1 / h, x2 / w, y2 / h])
    if fmt == "rel_yxyx":
        return _cat([y1 / h, x1 / w, y2 / h, x2 / w])
    if fmt == "rel_xywh":
        return _cat([x1 / w, y1 / h, (x2 - x1) / w, (y2 - y1) / h])
    return _cat([(x1 + (x2 - x1) / 2.0) / w, (y1 + (y2 - y1) / 2.0) / h, (x2 - x1) / w,
                 (y2 - y1) / h])


def _check_format(fmt, arg, where):
    if not isinstance(fmt, str) or fmt.lower() not in SUPPORTED_FORMATS:
        raise ValueError(f"{where}: `{arg}` must be one of {SUPPORTED_FORMATS}, got {fmt!r}.")
    return fmt.lower()


def convert_format(boxes, source, target, height=None, width=None, dtype="float32"):
    """Convert boxes from format `source` to format `target` (see
    `SUPPORTED_FORMATS`); the relative formats need the image `height` and
    `width`. `boxes` is an array (..., 4) or a dict with a "boxes" entry (a new
    dict is returned).

    >>> convert_format(np.array([[1.0, 2.0, 4.0, 6.0]]), "xyxy", "xywh").tolist()
    [[1.0, 2.0, 3.0, 4.0]]
    """
    if isinstance(boxes, dict):
        out = dict(boxes)
        out["boxes"] = convert_format(boxes["boxes"], source, target, height, width, dtype)
        return out
    source = _check_format(source, "source", "convert_format")
    target = _check_format(target, "target", "convert_format")
    boxes = jnp.asarray(boxes)
    if boxes.ndim == 0 or boxes.shape[-1] != 4:
        raise ValueError("convert_format: `boxes` must have a last dimension of 4, got "
                         f"shape {tuple(boxes.shape)}.")
    if (source.startswith("rel_") or target.startswith("rel_")) and (
            height is None or width is None):
        raise ValueError(
            f"convert_format: converting between {source!r} and {target!r} needs the "
            f"image `height` and `width`, got height={height} and width={width}.")
    boxes = boxes.astype(dtype)
    if source == target:
        return boxes
    if source.startswith("rel_") and target.startswith("rel_"):
        source, target = source[4:], target[4:]
    h = None if height is None else jnp.asarray(height, dtype)
    w = None if width is None else jnp.asarray(width, dtype)
    return _from_xyxy(target, _to_xyxy(source, boxes, h, w), h, w)


def _area(boxes):
    x1, y1, x2, y2 = _split(boxes)
    return ((x2 - x1) * (y2 - y1))[..., 0]


def clip_to_image_size(bounding_boxes, height=None, width=None, bounding_box_format="xyxy"):
    """Clip the boxes of a {"boxes", "labels"} dict to the image ("xyxy": to
    [0, width] x [0, height]; "rel_xyxy": to [0, 1]); a box left with no area
    gets label -1. Returns a new dict.

    >>> out = clip_to_image_size({"boxes": np.array([[-2.0, 1, 5, 9]]),
    ...                           "labels": np.array([3])}, height=8, width=4)
    >>> out["boxes"].tolist(), out["labels"].tolist()
    ([[0.0, 1.0, 4.0, 8.0]], [3])
    """
    if bounding_box_format not in ("xyxy", "rel_xyxy"):
        raise NotImplementedError(
            "clip_to_image_size supports bounding_box_format 'xyxy' and 'rel_xyxy' (as "
            f"Keras), got {bounding_box_format!r}: convert_format the boxes first.")
    if bounding_box_format == "xyxy" and (height is None or width is None):
        raise ValueError("clip_to_image_size: `height` and `width` must be set for "
                         "bounding_box_format='xyxy'.")
    boxes = jnp.asarray(bounding_boxes["boxes"])
    if bounding_box_format == "xyxy":
        hi_x, hi_y = jnp.asarray(width, boxes.dtype), jnp.asarray(height, boxes.dtype)
    else:
        hi_x = hi_y = jnp.asarray(1.0, boxes.dtype)
    x1, y1, x2, y2 = _split(boxes)
    boxes = _cat([jnp.clip(x1, 0, hi_x), jnp.clip(y1, 0, hi_y), jnp.clip(x2, 0, hi_x),
                  jnp.clip(y2, 0, hi_y)])
    result = dict(bounding_boxes)
    result["boxes"] = boxes
    labels = bounding_boxes.get("labels")
    if labels is not None:
        result["labels"] = jnp.where(_area(boxes) > 0, jnp.asarray(labels), -1)
    return result


def _inverse_affine_matrix(center_x, center_y, angle, translate_x, translate_y, scale,
                           shear_x, shear_y, height, width):
    """(B, 3, 3) matrices taking input pixel coordinates to output coordinates of
    the affine image transform with these parameters (degrees; translations
    as fractions of the image size; about the point (center_x, center_y) in
    fractions of (width - 1, height - 1))."""
    rad = math.pi / 180.0
    cx, cy = center_x * (width - 1), center_y * (height - 1)
    rot = -angle * rad
    tx, ty = -translate_x * (width - 1), -translate_y * (height - 1)
    sx, sy = -shear_x * rad, -shear_y * rad
    a = jnp.cos(rot - sy) / jnp.cos(sy)
    b = a * jnp.tan(sx) + jnp.sin(rot)
    c = -jnp.sin(rot - sy) / jnp.cos(sy)
    d = jnp.cos(rot) - c * jnp.tan(sx)
    a0, a1, b0, b1 = d * scale, -b * scale, -c * scale, a * scale
    a2 = cx - a0 * (cx + tx) - a1 * (cy + ty)
    b2 = cy - b0 * (cx + tx) - b1 * (cy + ty)
    zero = jnp.zeros_like(a0)
    rows = [a0, a1, a2, b0, b1, b2, zero, zero, jnp.ones_like(a0)]
    return jnp.stack(rows, axis=-1).reshape(-1, 3, 3)


def affine_transform(boxes, angle, translate_x, translate_y, scale, shear_x, shear_y, height,
                     width, center_x=None, center_y=None, bounding_box_format="xyxy"):
    """Move batched "xyxy" boxes (B, N, 4) with the affine image transform of
    per-image `angle`, `shear_x`, `shear_y` (degrees), `translate_x/_y`
    (fractions of the image size) and `scale`, about (`center_x`, `center_y`)
    (fractions, default 0.5): each box becomes the axis-aligned hull of its
    moved corners.

    >>> b = np.array([[[2.0, 2.0, 4.0, 4.0]]]); z = np.zeros(1)
    >>> affine_transform(b, z, z + 0.5, z, np.ones(1), z, z, 9, 9).tolist()
    [[[6.0, 2.0, 8.0, 4.0]]]
    """
    if bounding_box_format != "xyxy":
        raise NotImplementedError(
            "affine_transform supports bounding_box_format='xyxy' only (as Keras), got "
            f"{bounding_box_format!r}: convert_format the boxes first.")
    angle = jnp.asarray(angle)
    if not jnp.issubdtype(angle.dtype, jnp.floating):
        angle = angle.astype(config.floatx())
    center_x = 0.5 if center_x is None else center_x
    center_y = 0.5 if center_y is None else center_y
    matrix = _inverse_affine_matrix(center_x, center_y, angle, translate_x, translate_y,
                                    scale, shear_x, shear_y, height, width)
    boxes = jnp.asarray(boxes).astype(matrix.dtype)
    x1, y1, x2, y2 = (boxes[..., i] for i in range(4))
    corners = jnp.stack([jnp.stack(p, axis=-1) for p in
                         ((x1, y1), (x2, y1), (x2, y2), (x1, y2))], axis=2)  # B, N, 4, 2
    corners = jnp.concatenate([corners, jnp.ones(corners.shape[:-1] + (1,), corners.dtype)],
                              axis=-1)
    moved = jnp.einsum("bnkj,bij->bnki", corners, matrix[:, :2, :])
    return jnp.concatenate([moved.min(axis=2), moved.max(axis=2)], axis=-1)


def crop(boxes, top, left, height, width, bounding_box_format="xyxy"):
    """Boxes in the window of size (`height`, `width`) at (`top`, `left`):
    shifted by the window's corner and clipped to it.

    >>> crop(np.array([[1.0, 1.0, 6.0, 6.0]]), 2, 3, 3, 2).tolist()
    [[0.0, 0.0, 2.0, 3.0]]
    """
    if bounding_box_format != "xyxy":
        raise NotImplementedError(
            "crop supports bounding_box_format='xyxy' only (as Keras), got "
            f"{bounding_box_format!r}: convert_format the boxes first.")
    x1, y1, x2, y2 = _split(jnp.asarray(boxes))
    return _cat([jnp.clip(x1 - left, 0, width), jnp.clip(y1 - top, 0, height),
                 jnp.clip(x2 - left, 0, width), jnp.clip(y2 - top, 0, height)])


def pad(boxes, top, left, height=None, width=None, bounding_box_format="xyxy"):
    """Boxes of an image padded by `top` rows and `left` columns (shifted).
    `height` and `width` are accepted for Keras' signature and not needed.

    >>> pad(np.array([[1.0, 1.0, 6.0, 6.0]]), 2, 3).tolist()
    [[4.0, 3.0, 9.0, 8.0]]
    """
    if bounding_box_format != "xyxy":
        raise NotImplementedError(
            "pad supports bounding_box_format='xyxy' only (as Keras), got "
            f"{bounding_box_format!r}: convert_format the boxes first.")
    x1, y1, x2, y2 = _split(jnp.asarray(boxes))
    return _cat([x1 + left, y1 + top, x2 + left, y2 + top])


def _variance(variance):
    if variance is None:
        return None
    variance = jnp.asarray(variance, "float32")
    if variance.ndim == 0 or variance.shape[-1] != 4:
        raise ValueError(f"`variance` must have length 4, got {variance}.")
    return variance


def _image_hw(image_shape):
    if image_shape is None:
        return None, None
    height, width, _ = image_shape
    return height, width


def encode_box_to_deltas(anchors, boxes, anchor_format, box_format,
                         encoding_format="center_yxhw", variance=None, image_shape=None):
    """Regression targets of `boxes` against `anchors`: in `encoding_format`
    ("center_yxhw" or "center_xywh"), the centre offsets over the anchor size
    and the log size ratios, divided by `variance` if given. `image_shape`
    (height, width, channels) is needed for relative formats.

    >>> encode_box_to_deltas(np.array([[0.0, 0, 4, 4]]), np.array([[1.0, 1, 5, 5]]),
    ...                      "xyxy", "xyxy").tolist()
    [[0.25, 0.25, 0.0, 0.0]]
    """
    variance = _variance(variance)
    if encoding_format not in ("center_xywh", "center_yxhw"):
        raise ValueError("encode_box_to_deltas: `encoding_format` must be 'center_xywh' or "
                         f"'center_yxhw', got {encoding_format!r}.")
    height, width = _image_hw(image_shape)
    anchors = convert_format(anchors, anchor_format, encoding_format, height, width)
    boxes = convert_format(boxes, box_format, encoding_format, height, width)
    eps = config.epsilon()
    anchor_size = jnp.maximum(anchors[..., 2:], eps)
    box_size = jnp.maximum(boxes[..., 2:], eps)
    deltas = jnp.concatenate([(boxes[..., :2] - anchors[..., :2]) / anchor_size,
                              jnp.log(box_size / anchor_size)], axis=-1)
    return deltas if variance is None else deltas / variance


def decode_deltas_to_boxes(anchors, boxes_delta, anchor_format, box_format,
                           encoded_format="center_yxhw", variance=None, image_shape=None):
    """The inverse of `encode_box_to_deltas`: boxes in `box_format` from the
    deltas against `anchors`. `anchors` and `boxes_delta` may both be dicts
    (one entry per feature level), giving a dict.

    >>> decode_deltas_to_boxes(np.array([[0.0, 0, 4, 4]]), np.array([[0.25, 0.25, 0, 0]]),
    ...                        "xyxy", "xyxy").tolist()
    [[1.0, 1.0, 5.0, 5.0]]
    """
    variance = _variance(variance)
    if encoded_format not in ("center_xywh", "center_yxhw"):
        raise ValueError("decode_deltas_to_boxes: `encoded_format` must be 'center_xywh' or "
                         f"'center_yxhw', got {encoded_format!r}.")
    height, width = _image_hw(image_shape)

    def decode(anchor, delta):
        anchor = convert_format(anchor, anchor_format, encoded_format, height, width)
        delta = jnp.asarray(delta)
        if variance is not None:
            delta = delta * variance
        box = jnp.concatenate([delta[..., :2] * anchor[..., 2:] + anchor[..., :2],
                               jnp.exp(delta[..., 2:]) * anchor[..., 2:]], axis=-1)
        return convert_format(box, encoded_format, box_format, height, width)

    if isinstance(anchors, dict) and isinstance(boxes_delta, dict):
        return {level: decode(anchor, boxes_delta[level]) for level, anchor in anchors.items()}
    return decode(anchors, boxes_delta)


def _check_rank(boxes, arg, where):
    if boxes.ndim not in (2, 3):
        raise ValueError(f"{where}: `{arg}` must have rank 2 (N, 4) or 3 (batch, N, 4), got "
                         f"shape {tuple(boxes.shape)}.")


def compute_iou(boxes1, boxes2, bounding_box_format, use_masking=False, mask_val=-1,
                image_shape=None):
    """Pairwise intersection over union: (N, M) for boxes (N, 4) and (M, 4),
    (B, N, M) when batched. With `use_masking`, pairs where a box has only
    negative coordinates (padding) get `mask_val`.

    >>> iou = compute_iou(np.array([[0.0, 0, 2, 2]]), np.array([[1.0, 0, 3, 2]]), "xyxy")
    >>> round(float(iou[0, 0]), 4)
    0.3333
    """
    boxes1, boxes2 = jnp.asarray(boxes1), jnp.asarray(boxes2)
    _check_rank(boxes1, "boxes1", "compute_iou")
    _check_rank(boxes2, "boxes2", "compute_iou")
    if "rel" in bounding_box_format and image_shape is None:
        raise ValueError("compute_iou: relative bounding box formats (e.g. 'rel_yxyx') need "
                         "the `image_shape` argument.")
    height, width = _image_hw(image_shape)
    b1 = convert_format(boxes1, bounding_box_format, "xyxy", height, width)
    b2 = convert_format(boxes2, bounding_box_format, "xyxy", height, width)
    # b1 (..., N, 1) against b2 (..., 1, M), coordinate by coordinate
    lo = [b2[..., None, :, i] for i in range(4)]
    x1, y1, x2, y2 = (b1[..., i, None] for i in range(4))
    inter_w = jnp.maximum(0.0, jnp.minimum(x2, lo[2]) - jnp.maximum(x1, lo[0]))
    inter_h = jnp.maximum(0.0, jnp.minimum(y2, lo[3]) - jnp.maximum(y1, lo[1]))
    inter = inter_w * inter_h
    area1 = _area(b1)[..., :, None]
    area2 = (lo[2] - lo[0]) * (lo[3] - lo[1])
    iou = inter / (area1 + area2 - inter + config.epsilon())
    if not use_masking:
        return iou
    # Keras tests "background" boxes after its conversion to yxyx: a box whose
    # largest coordinate is negative.
    mask1 = jnp.max(b1, axis=-1)[..., :, None] < 0
    mask2 = jnp.max(b2, axis=-1)[..., None, :] < 0
    return jnp.where(mask1 | mask2, jnp.asarray(mask_val, iou.dtype), iou)


def compute_ciou(boxes1, boxes2, bounding_box_format, image_shape=None):
    """Complete IoU of matching boxes (element-wise, shapes (..., 4)): IoU less
    the squared centre distance over the enclosing box's squared diagonal and
    an aspect-ratio term (Zheng et al. 2020).

    >>> b = np.array([[0.0, 0, 2, 2]])
    >>> compute_ciou(b, b, "xyxy").round(4).tolist()
    [1.0]
    """
    if "rel" in bounding_box_format:
        raise ValueError("compute_ciou: relative bounding box formats (e.g. 'rel_yxyx') are "
                         "not supported (as in Keras): convert_format the boxes first.")
    height, width = _image_hw(image_shape)
    b1 = convert_format(boxes1, bounding_box_format, "xyxy", height, width)
    b2 = convert_format(boxes2, bounding_box_format, "xyxy", height, width)
    eps = config.epsilon()
    x1a, y1a, x2a, y2a = _split(b1)
    x1b, y1b, x2b, y2b = _split(b2)
    w1, h1 = x2a - x1a, y2a - y1a + eps
    w2, h2 = x2b - x1b, y2b - y1b + eps
    inter = (jnp.maximum(jnp.minimum(x2a, x2b) - jnp.maximum(x1a, x1b), 0)
             * jnp.maximum(jnp.minimum(y2a, y2b) - jnp.maximum(y1a, y1b), 0))
    union = w1 * h1 + w2 * h2 - inter + eps
    iou = (inter / (union + eps))[..., 0]
    cw = jnp.maximum(x2a, x2b) - jnp.minimum(x1a, x1b)
    ch = jnp.maximum(y2a, y2b) - jnp.minimum(y1a, y1b)
    diag2 = (cw ** 2 + ch ** 2 + eps)[..., 0]
    dist2 = (((x1a + x2a) / 2 - (x1b + x2b) / 2) ** 2
             + ((y1a + y2a) / 2 - (y1b + y2b) / 2) ** 2)[..., 0]
    v = ((4 / math.pi ** 2) * (jnp.arctan(w2 / h2) - jnp.arctan(w1 / h1)) ** 2)[..., 0]
    alpha = v / (v - iou + (1 + eps))
    return iou - (dist2 / diag2 + v * alpha)


# ---- dict inputs of the augmentation layers ----------------------------------------------
def densify_bounding_boxes(bounding_boxes, is_batched=False, boxes_default_value=0,
                           labels_default_value=-1):
    """A {"boxes", "labels"} dict as dense arrays: Python lists of per-image
    lists of boxes are padded to the longest with `boxes_default_value` and
    label `labels_default_value` (-1). Checks the keys and ranks."""
    where = "bounding_boxes"
    if not isinstance(bounding_boxes, dict) or "boxes" not in bounding_boxes \
            or "labels" not in bounding_boxes:
        raise ValueError(f"Expected `{where}` to be a dict with keys 'boxes' and 'labels', got "
                         f"{bounding_boxes!r}.")
    boxes, labels = bounding_boxes["boxes"], bounding_boxes["labels"]
    out = dict(bounding_boxes)
    if isinstance(boxes, list) and is_batched and boxes and isinstance(boxes[0], list):
        if not isinstance(labels, list) or len(labels) != len(boxes):
            raise ValueError(f"`{where}['boxes']` is a list of {len(boxes)} images: "
                             f"`{where}['labels']` must be a list of the same length.")
        longest = max((len(b) for b in boxes), default=0)
        boxes = [list(b) + [[boxes_default_value] * 4] * (longest - len(b)) for b in boxes]
        labels = [list(lb) + [labels_default_value] * (longest - len(lb)) for lb in labels]
        out["boxes"] = jnp.asarray(np.asarray(boxes, "float32").reshape(len(boxes), longest, 4))
        out["labels"] = jnp.asarray(np.asarray(labels, "int32").reshape(len(boxes), longest))
        return out
    boxes = jnp.asarray(boxes)
    labels = jnp.asarray(labels)
    want = 3 if is_batched else 2
    if boxes.ndim != want or boxes.shape[-1] != 4:
        layout = "(batch, num_boxes, 4)" if is_batched else "(num_boxes, 4)"
        raise ValueError(f"Expected `{where}['boxes']` of shape {layout} for these images, got "
                         f"shape {tuple(boxes.shape)}.")
    if labels.ndim not in (want - 1, want):
        raise ValueError(f"`{where}['boxes']` has shape {tuple(boxes.shape)}: expected "
                         f"`{where}['labels']` of rank {want - 1} or {want}, got shape "
                         f"{tuple(labels.shape)}.")
    out["boxes"] = boxes if jnp.issubdtype(boxes.dtype, jnp.floating) else \
        boxes.astype("float32")
    out["labels"] = labels
    return out
