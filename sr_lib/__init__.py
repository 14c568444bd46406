"""sr_lib: super-resolution building blocks for the tutorial notebooks.

Modules (each small, one job; import what you need):

- ``sr_lib.images``    the image core: accepted dtypes and ranges, 8-bit rounding, BT.601 YCbCr
- ``sr_lib.data``      dataset registry, MATLAB-compatible ``imresize``, degradations, tf.data pipelines
- ``sr_lib.metrics``   PSNR / SSIM with the standard SR evaluation protocol
- ``sr_lib.layers``    ``PixelShuffle``, ``SubPixelConv2D`` and the ICNR initializer
- ``sr_lib.models``    every model, one family per module, exported by its real name:
    ``subpixel`` (ESPCN, upsampling heads), ``autoencoders``, ``unets`` (U-Net, PatchGAN critic),
    ``srresnets`` (SRResNet, SRGAN discriminator, the ``SRGAN`` trainer), ``edsrs`` (EDSR-baseline),
    ``vaes`` (VAE, conditional VAE), ``gans`` (DCGAN, CycleGAN, sample grids, diversity measures),
    ``adversarial`` (GAN losses)
- ``sr_lib.losses``    MSE, MAE, PSNR, SSIM, HFEN and combined losses for ``compile``
- ``sr_lib.perceptual`` the VGG feature (perceptual) loss and the converted VGG-16 / LPIPS weights
- ``sr_lib.training``  step-counted ``fit`` with resume, learning-rate steps
- ``sr_lib.sharpness`` ``edge_energy``: how much edge an image has, relative to its HR original
- ``sr_lib.inference`` the ``Upscaler`` type; whole images through a model (Y channel + bicubic chroma)
- ``sr_lib.tiling``    tiled inference with cropped overlaps: any image size in bounded memory
- ``sr_lib.adaptive``  coarse/fine adaptive SR: cheap model everywhere, expensive one on the hardest patches
- ``sr_lib.adaptive_eval`` PSNR-Y against FLOPs and CPU time of an adaptive-SR router over a benchmark
- ``sr_lib.cli``       ``python -m sr_lib upscale|evaluate|models`` (your own images, any dataset)
- ``sr_lib.flops``     multiply-accumulates per layer, FLOPs per output pixel
- ``sr_lib.pretrained`` the weights this project trained and ships (``load("espcn_x3")``)
- ``sr_lib.evaluation`` run an upscaler over a benchmark and tabulate PSNR / SSIM
- ``sr_lib.viz``       the course's figures (comparisons with zoomed insets, training curves)
- ``sr_lib.notebook``  small helpers shared by the notebooks (mode switch, seeds, recorded results)

Value convention everywhere: images are float32 in [0, 1], shape (H, W, C) or (N, H, W, C).
"""

__version__ = "0.1.0"
