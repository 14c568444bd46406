"""faceswap_lib: face detection, alignment and the shared-encoder face-swap autoencoder.

Modules, in the order a face swap uses them (import them directly; this package imports none of
them, so ``import faceswap_lib`` stays cheap and needs neither dlib nor OpenCV):

- ``landmarks``  dlib's HOG face detector and 68-point shape predictor: ``detect(image)``, and
                 ``detect_faces(frame)`` (a small copy first, full size if no face: extract, convert, score)
- ``umeyama``    the least-squares similarity transform between point sets (Umeyama 1991)
- ``align``      the mean face, ``align_matrix`` / ``aligned_crop`` / ``invert`` / ``transform_points``
- ``video``      reading clips frame by frame (``read_frames``), 8-bit BGR frames for OpenCV (``to_bgr8``);
                 PNGs go through ``sr_lib.data.io.write_image``, the library's one writer
- ``alignments`` the ``alignments.json`` format (``read_alignments``) and the aligned-face record ``AlignedFace``
- ``masks``      landmark-hull masks, the forehead extension, erosion and feathering, eyes-and-mouth masks
- ``recipe``     the shared defaults of extract, train, the command line and notebook 09 (``RECIPE``)
- ``extract``    a clip -> aligned PNG crops + ``alignments.json`` (``extract``)
- ``augment``    training pairs: random affine + warp -> (warped input, target)
- ``models``     the shared-encoder autoencoder: ``faceswap_autoencoder`` / ``FaceSwapAutoencoder``
- ``model_folder`` a model folder's settings, held-out faces and checks, without TensorFlow
- ``training``   faces of an extract folder, warped-pair datasets, previews, resumable ``train``, save/load
- ``convert``    colour correction, blending, the synthetic label, ``swap_face``, ``convert_video``
- ``identity``   dlib face-recognition embeddings and the identity score of a swap
- ``expression`` mouth and eye opening from the 68 landmarks (score, expression-balanced sampling)
- ``score``      the swap score: identity, expression, sharpness, the swap success rate, a blur control
- ``synthetic``  a stand-in moving clip from one photo, for runs without the face clips
- ``__main__``   the command line: ``python -m faceswap_lib {extract,train,convert,score}``

This package is installed with ``sr_lib`` so that its decoders can reuse
``sr_lib.layers.PixelShuffle``; ``sr_lib`` never imports it.

Consent first: use only the provided clips or your own footage, and label every swapped output
as synthetic.
"""

__version__ = "0.1.0"
