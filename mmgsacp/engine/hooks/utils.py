"""What mmgsacp's hooks share."""

from mmengine.model import is_model_wrapper


def unwrap_model(runner):
    """The runner's model without its DDP / FSDP wrapper (hooks call the model's own methods)."""
    model = runner.model
    return model.module if is_model_wrapper(model) else model
