"""Bounding-box utilities (Keras 3's `keras.utils.bounding_boxes`): format
conversion, clipping, affine moves, crop/pad, anchor deltas, IoU and CIoU.
They live in `kerax.layers.bounding_boxes`, next to the augmentation layers
that use them; see there for the box formats."""
from kerax.layers.bounding_boxes import (affine_transform, clip_to_image_size,  # noqa: F401
                                         compute_ciou, compute_iou, convert_format, crop,
                                         decode_deltas_to_boxes, encode_box_to_deltas, pad)

__all__ = ["affine_transform", "clip_to_image_size", "compute_ciou", "compute_iou",
           "convert_format", "crop", "decode_deltas_to_boxes", "encode_box_to_deltas", "pad"]
