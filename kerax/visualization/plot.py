"""Image galleries with matplotlib (imported only when a function is called)."""
import functools
import math

import numpy as np

from kerax import config
from kerax.visualization.draw import _batched, draw_bounding_boxes, draw_segmentation_masks


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError("The kerax.visualization plot functions need matplotlib: "
                          "`pip install matplotlib`.") from e
    return plt


def plot_image_gallery(images, y_true=None, y_pred=None, label_map=None, rows=None, cols=None,
                       value_range=(0, 255), scale=2, path=None, show=None, transparent=True,
                       dpi=60, legend_handles=None, data_format=None):
    """Show (or save to `path`) a rows x cols grid of the first images, titled
    with `label_map[y_true[i]]` / `label_map[y_pred[i]]` when given. Pixel
    values are mapped from `value_range` to [0, 255]. Without `path` and
    with `show=False` the figure is left open (matplotlib's current figure).

    >>> plot_image_gallery(np.zeros((4, 8, 8, 3)), show=False)  # doctest: +SKIP
    """
    plt = _pyplot()
    if path is not None and show:
        raise ValueError("plot_image_gallery: set either `path` or `show=True`, not both.")
    if (y_true is not None or y_pred is not None) and label_map is None:
        raise ValueError("plot_image_gallery: `y_true`/`y_pred` need a `label_map`.")
    show = show if show is not None else path is None
    data_format = data_format or config.image_data_format()
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError("plot_image_gallery: `images` must be a batch of images (rank 4), "
                         f"got shape {images.shape}.")
    batch = images.shape[0]
    rows = rows or int(math.ceil(math.sqrt(batch)))
    cols = cols or int(math.ceil(batch // rows))
    images = images[:min(rows * cols, batch)]
    if data_format == "channels_first":
        images = images.transpose(0, 2, 3, 1)
    fig, axes = plt.subplots(nrows=rows, ncols=cols, figsize=(cols * scale, rows * scale),
                             frameon=False, layout="tight", squeeze=True, sharex="row",
                             sharey="col")
    fig.subplots_adjust(wspace=0, hspace=0)
    axes = np.asarray(axes).reshape(rows, cols)
    if legend_handles is not None:
        fig.legend(handles=legend_handles, loc="lower center")
    low, high = value_range
    if (low, high) != (0, 255):
        images = (images.astype("float32") - low) / (high - low) * 255.0
    y_true = None if y_true is None else np.asarray(y_true)
    y_pred = None if y_pred is None else np.asarray(y_pred)
    for index in range(rows * cols):
        ax = axes[index // cols, index % cols]
        ax.margins(x=0, y=0)
        ax.axis("off")
        if index >= len(images):
            continue
        ax.imshow(images[index].astype("uint8"))
        title = []
        if y_true is not None and index < len(y_true):
            title.append(f"Label: {label_map.get(y_true[index].item(), 'Unknown')}")
        if y_pred is not None and index < len(y_pred):
            title.append(f"Pred: {label_map.get(y_pred[index].item(), 'Unknown')}")
        if title:
            ax.set_title("  ".join(title), fontsize=8)
    if path is not None:
        plt.savefig(fname=path, pad_inches=0, bbox_inches="tight", transparent=transparent,
                    dpi=dpi)
        plt.close()
    elif show:
        plt.show()
        plt.close()


def plot_bounding_box_gallery(images, bounding_box_format, y_true=None, y_pred=None,
                              value_range=(0, 255), true_color=(0, 188, 212),
                              pred_color=(255, 235, 59), line_thickness=2, font_scale=1.0,
                              text_thickness=None, class_mapping=None,
                              ground_truth_mapping=None, prediction_mapping=None,
                              legend=False, legend_handles=None, rows=None, cols=None,
                              data_format=None, **kwargs):
    """`plot_image_gallery` of the images with their true (`y_true`) and
    predicted (`y_pred`) boxes drawn ({"boxes", "labels"} dicts); `legend`
    adds "Ground Truth"/"Prediction" patches. Other keyword arguments go to
    `plot_image_gallery`. Needs matplotlib and OpenCV.

    >>> plot_bounding_box_gallery(np.zeros((2, 8, 8, 3)), "xyxy", show=False)  # doctest: +SKIP
    """
    _pyplot()
    from matplotlib import patches
    prediction_mapping = prediction_mapping or class_mapping
    ground_truth_mapping = ground_truth_mapping or class_mapping
    data_format = data_format or config.image_data_format()
    images = _batched(images, "plot_bounding_box_gallery")
    if data_format == "channels_first":
        images = images.transpose(0, 2, 3, 1)
    draw = functools.partial(draw_bounding_boxes, bounding_box_format=bounding_box_format,
                             line_thickness=line_thickness, text_thickness=text_thickness,
                             font_scale=font_scale, data_format="channels_last")
    if y_true is not None:
        images = draw(images, y_true, color=true_color, class_mapping=ground_truth_mapping)
    if y_pred is not None:
        images = draw(images, y_pred, color=pred_color, class_mapping=prediction_mapping)
    if legend:
        if legend_handles:
            raise ValueError("plot_bounding_box_gallery: pass `legend` or `legend_handles`, "
                             "not both.")
        legend_handles = [
            patches.Patch(color=np.array(true_color) / 255.0, label="Ground Truth"),
            patches.Patch(color=np.array(pred_color) / 255.0, label="Prediction")]
    return plot_image_gallery(images, value_range=value_range, legend_handles=legend_handles,
                              rows=rows, cols=cols, data_format="channels_last", **kwargs)


def plot_segmentation_mask_gallery(images, num_classes, value_range=(0, 255), y_true=None,
                                   y_pred=None, color_mapping=None, blend=True, alpha=0.8,
                                   ignore_index=-1, data_format=None, **kwargs):
    """One row per image: the image, then its true and predicted masks drawn
    over it (`draw_segmentation_masks`). Other keyword arguments go to
    `plot_image_gallery`. Needs matplotlib.

    >>> plot_segmentation_mask_gallery(np.zeros((2, 8, 8, 3)), 2, show=False)  # doctest: +SKIP
    """
    _pyplot()
    data_format = data_format or config.image_data_format()
    images = _batched(images, "plot_segmentation_mask_gallery")
    if data_format == "channels_first":
        images = images.transpose(0, 2, 3, 1)
    draw = functools.partial(draw_segmentation_masks, num_classes=num_classes,
                             color_mapping=color_mapping, alpha=alpha, ignore_index=ignore_index,
                             blend=blend, data_format="channels_last")
    columns = [images]
    for masks in (y_true, y_pred):
        if masks is not None:
            masks = np.asarray(masks)
            if data_format == "channels_first":
                masks = masks.transpose(0, 2, 3, 1)
            columns.append(np.asarray(draw(images, masks.astype("int32")), images.dtype))
    gallery = np.stack(columns, axis=1).reshape((-1,) + images.shape[1:])
    return plot_image_gallery(gallery, value_range=value_range, rows=images.shape[0],
                              cols=len(columns), data_format="channels_last", **kwargs)
