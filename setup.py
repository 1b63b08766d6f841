"""mmgsacp: single-point supervised infrared small-target detection for MMSegmentation 1.x.

The OpenMMLab packages are deliberately *not* listed in ``install_requires``: the same import
names (``mmengine``, ``mmseg``, ``mmcv``) are provided either by the official distributions
(mmengine 0.10.x, mmsegmentation 1.2.2, mmcv < 2.2 with ops) or by the maintained forks
(onedl-mmengine, onedl-mmsegmentation, mmcv-lite). Declaring one set would make pip replace the
other on a user's machine. See README.md, "Install".
"""

from setuptools import find_packages, setup

setup(
    name='mmgsacp',
    version='0.1.0',
    description='GSACP: online point-to-mask affinity propagation for single-point '
    'supervised infrared small-target detection (MMSegmentation plugin)',
    packages=find_packages(include=['mmgsacp', 'mmgsacp.*']),
    python_requires='>=3.8',
    install_requires=['numpy', 'opencv-python-headless', 'pillow', 'scipy', 'tqdm'],
    license='Apache-2.0',
)
