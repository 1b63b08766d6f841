"""mmgsacp: GSACP for MMSegmentation 1.x.

Importing the package registers every component in MMSeg's registries (configs load it with
``custom_imports = dict(imports=['mmgsacp'])``) and allow-lists, for ``torch.load`` with
``weights_only=True``, the non-tensor objects that MMEngine checkpoints hold.
"""
from .utils.checkpoint import register_checkpoint_safe_globals

__version__ = '0.1.0'

register_checkpoint_safe_globals()

from . import datasets, engine, evaluation, models  # noqa: E402,F401  (registration)
