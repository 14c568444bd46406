"""Every model of the course, one family per module, imported here by its real name.

=========================  =================================================================  ========
module                     what                                                               notebook
=========================  =================================================================  ========
:mod:`.subpixel`           :func:`espcn` (Shi et al. 2016, arXiv 1609.05158), the upsampling   01
                           heads it is compared with (:func:`upsampling_head`, :data:`HEADS`;
                           ICNR: Aitken et al. 2017, arXiv 1707.02937), :func:`subpixel_stages`
:mod:`.autoencoders`       :func:`autoencoder`: encoder-decoder with U-Net skips and a VDSR      02
                           global residual, restoring an image at its own size
:mod:`.unets`              :func:`unet` (Ronneberger et al. 2015, arXiv 1505.04597) and the      05
                           PatchGAN :func:`patchgan_critic` (Isola et al. 2017, arXiv 1611.07004)
:mod:`.srresnets`          :func:`srresnet`, :func:`srgan_discriminator` (Ledig et al. 2017,     05, 06
                           arXiv 1609.04802) and the :class:`SRGAN` trainer (any generator vs
                           any critic, also U-Net vs PatchGAN)
:mod:`.edsrs`              :func:`edsr`, EDSR-baseline (Lim et al. 2017, arXiv 1707.02921):     --
                           residual blocks without BatchNorm, sub-pixel tail (``edsr_x4``)
:mod:`.vaes`               :func:`vae`, :func:`conditional_vae`, :class:`VAE`,                  03
                           :class:`ConditionalVAE`, :func:`kl_divergence`, :func:`gaussian_nll`
                           (Kingma & Welling 2014; Sohn et al. 2015)
:mod:`.gans`               :func:`dcgan_generator`, :func:`dcgan_discriminator` (Radford et     04, 10
                           al. 2016), :func:`cyclegan_generator` (Zhu et al. 2017),
                           :class:`DCGAN`, :class:`CycleGAN`, :class:`SampleGrid`, data and
                           diversity helpers
:mod:`.adversarial`        what the GANs share: :func:`discriminator_loss`,
                           :func:`adversarial_loss`, :class:`AdversarialModel`
=========================  =================================================================  ========

Models take and return float32 images in [0, 1] (NHWC); they never read files. This package
exports the models only: the factories (functions; ``sr_lib.pretrained`` builds a registered
model by looking its factory's name up here), the trainers (``keras.Model`` subclasses with their
own ``train_step``) and :data:`HEADS` / :data:`UPSAMPLING`. Everything else — losses, data
helpers, measures — is imported from its module, e.g. ``from sr_lib.models.vaes import
kl_divergence``.

Three bicubics
--------------
The course has three bicubic enlargements. All use Keys' cubic (a = -0.5) at pixel-centre
coordinates, so they agree in the interior of the image; they differ at the borders.

1. ``sr_lib.data.imresize`` — MATLAB's ``imresize``, in NumPy: the protocol's LR images, the bicubic
   baseline of every score table, and the enlarged input of the autoencoder (outside the model).
2. :class:`sr_lib.layers.BicubicUpsampling` — the same numbers as ``imresize`` (symmetric border,
   the edge pixel repeated) as a Keras layer on inputs of any size: the residual of
   :func:`conditional_vae`, which is compared pixel for pixel with the protocol's baseline.
3. ``keras.layers.UpSampling2D(interpolation="bicubic")`` (``tf.image.resize``) — renormalises the
   kernel over the pixels inside the image instead of repeating the edge, so it differs from 1 and 2
   in the outer ~1.5 LR pixels (up to ~0.03 on random images at x4): the global residual of
   :func:`unet` and of :func:`srresnet` (``bicubic_residual=True``), and the upsampled condition
   that :class:`SRGAN` (``conditional=True``) gives the critic. These models were built and their
   shipped weights trained with it, before (2) existed; the network has learned its border, so
   switching it would change the stored scores. It stays, on purpose.
"""

from __future__ import annotations

from sr_lib.models.autoencoders import autoencoder
from sr_lib.models.edsrs import edsr
from sr_lib.models.gans import UPSAMPLING, CycleGAN, DCGAN, cyclegan_generator, dcgan_discriminator, dcgan_generator
from sr_lib.models.srresnets import SRGAN, srgan_discriminator, srresnet
from sr_lib.models.subpixel import HEADS, espcn, upsampling_head
from sr_lib.models.unets import patchgan_critic, unet
from sr_lib.models.vaes import VAE, ConditionalVAE, conditional_vae, vae

__all__ = [
    # factories: functions that build a keras.Model (sr_lib.pretrained looks them up by name)
    "espcn",
    "upsampling_head",
    "autoencoder",
    "unet",
    "patchgan_critic",
    "srresnet",
    "srgan_discriminator",
    "edsr",
    "vae",
    "conditional_vae",
    "dcgan_generator",
    "dcgan_discriminator",
    "cyclegan_generator",
    # trainers: keras.Model subclasses with their own train_step
    "SRGAN",
    "VAE",
    "ConditionalVAE",
    "DCGAN",
    "CycleGAN",
    # the choices of upsampling_head and of the DCGAN generator's upsampling
    "HEADS",
    "UPSAMPLING",
]
