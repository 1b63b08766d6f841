from .drift_monitor_hook import DriftMonitorHook, drift_grid, drift_statistics
from .ema_teacher_hook import EMATeacherHook
from .invalid_loss_hook import InvalidLossGuardHook
from .label_evolution_hook import LabelEvolutionHook
from .prediction_writer_hook import PredictionWriterHook
from .safe_checkpoint_hook import SafeCheckpointHook

__all__ = [
    'DriftMonitorHook', 'drift_grid', 'drift_statistics', 'EMATeacherHook',
    'InvalidLossGuardHook', 'LabelEvolutionHook', 'PredictionWriterHook', 'SafeCheckpointHook'
]
