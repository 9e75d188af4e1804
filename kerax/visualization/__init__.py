"""Drawing and plotting of images with their boxes and masks (Keras 3's
`keras.visualization`). `draw_bounding_boxes` needs OpenCV (`cv2`, as in
Keras) and the `plot_*` functions need matplotlib: both are optional and
imported only when these functions are called."""
from kerax.visualization.draw import draw_bounding_boxes, draw_segmentation_masks  # noqa: F401
from kerax.visualization.plot import (plot_bounding_box_gallery,  # noqa: F401
                                      plot_image_gallery, plot_segmentation_mask_gallery)

__all__ = ["draw_bounding_boxes", "draw_segmentation_masks", "plot_bounding_box_gallery",
           "plot_image_gallery", "plot_segmentation_mask_gallery"]
