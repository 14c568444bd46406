"""faceswap_lib: face detection, alignment and the shared-encoder face-swap autoencoder.

The modules arrive with the face-swapping notebooks (06, 07). This package is installed with
``sr_lib`` so that its decoders can reuse ``sr_lib.layers.PixelShuffle``.

Consent first: use only the provided clips or your own footage, and label every swapped output
as synthetic.
"""

__version__ = "0.1.0"
