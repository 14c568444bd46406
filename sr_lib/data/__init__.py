"""Data for the SR notebooks: where it comes from, how LR images are made, how batches are built.

- ``registry``  named datasets (Set5, Set14, T91, face clips, ...) resolved mirror -> cache -> download
- ``datasets``  (LR, HR) pairs from the benchmarks, T91 and built-in scikit-image photos
- ``imresize``  MATLAB-compatible bicubic resize (the protocol's LR generator)
- ``degrade``   modcrop, bicubic downscaling and "crapify" degradations (blur, noise, JPEG)
- ``io``        reading/writing images with documented conversions and clear errors
- ``pipeline``  paired crops/flips/rotations and ``make_dataset`` (tf.data); imported lazily (TensorFlow)
"""

from sr_lib.data.datasets import (
    BENCHMARKS,
    BUILTIN_IMAGES,
    ImagePair,
    evaluation_pairs,
    load_benchmark,
    load_builtin,
    load_hr_images,
    luma_pairs,
    make_pairs,
)
from sr_lib.data.degrade import bicubic_downscale, crapify, modcrop
from sr_lib.data.imresize import imresize
from sr_lib.data.io import ImageReadError, read_image, write_image
from sr_lib.data.registry import (
    DATASETS,
    DatasetUnavailableError,
    fetch,
    is_available,
    load_celeba_faces,
    load_div2k,
)


def __getattr__(name):
    # make_dataset pulls in TensorFlow; import it only when asked for.
    if name == "make_dataset":
        from sr_lib.data.pipeline import make_dataset

        return make_dataset
    raise AttributeError(f"module 'sr_lib.data' has no attribute {name!r}")
