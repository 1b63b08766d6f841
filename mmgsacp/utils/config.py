"""Config overrides that several tools apply."""

#: ``--cfg-options`` that train without validation (the caller evaluates with tools/test.py
#: afterwards), so training needs only the train split. Put them after any user option: a
#: later ``val_dataloader.xxx=...`` would bring the loader back half-built.
NO_VALIDATION_OPTIONS = ('val_cfg=None', 'val_dataloader=None', 'val_evaluator=None',
                         'default_hooks.checkpoint.save_best=None')
