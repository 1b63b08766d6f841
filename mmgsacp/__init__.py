"""mmgsacp: GSACP for MMSegmentation 1.x.

Importing the package registers every component in MMSeg's registries (configs load it with
``custom_imports = dict(imports=['mmgsacp'])``) and makes MMEngine read local checkpoints with
the weights-only unpickler (:mod:`mmgsacp.utils.checkpoint`).
"""
__version__ = '0.1.0'

from . import datasets, engine, evaluation, models, utils  # noqa: E402,F401  (registration)
