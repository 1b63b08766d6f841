"""What mmgsacp's hooks share."""

from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper


def unwrap_model(runner):
    """The runner's model without its DDP / FSDP wrapper (hooks call the model's own methods)."""
    model = runner.model
    return model.module if is_model_wrapper(model) else model


class LabelStoreHook(Hook):
    """Base of the hooks that own a training label store (``self.store``, with
    ``state_dict`` / ``load_state_dict``) and keep it in checkpoints under ``checkpoint_key``.

    A checkpoint is loaded before ``before_train`` builds the store, so its labels wait in
    ``_pending_state`` until the subclass calls :meth:`_restore_pending` on its new store.
    Labels that do not fit the store (another training set) are not used, with a warning.
    """

    #: Checkpoint entry that holds the store.
    checkpoint_key = ''
    #: What training starts from when checkpoint labels are not used (for the warning).
    initial_labels = 'the initial labels'

    def __init__(self) -> None:
        self.store = None
        self._pending_state: Optional[dict] = None

    def _restored_message(self) -> str:
        """What a successful restore logs (after the hook's name)."""
        return 'restored labels from the checkpoint'

    def _restore_pending(self, runner) -> None:
        if self._pending_state is None or self.store is None:
            return
        state, self._pending_state = self._pending_state, None
        name = type(self).__name__
        try:
            self.store.load_state_dict(state)
        except ValueError as err:
            runner.logger.warning(
                f'{name}: checkpoint labels not used ({err}); starting again from '
                f'{self.initial_labels}'
            )
            return
        runner.logger.info(f'{name}: {self._restored_message()}')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.store is not None:
            checkpoint[self.checkpoint_key] = self.store.state_dict()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get(self.checkpoint_key)
        if state is None:
            return
        self._pending_state = state
        self._restore_pending(runner)
