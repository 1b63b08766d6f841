from .atomic_checkpoint_hook import AtomicCheckpointHook, find_resume_checkpoint
from .deferred_runtime_info_hook import DeferredRuntimeInfoHook
from .drift_monitor_hook import DriftMonitorHook, drift_grid, drift_statistics
from .ema_teacher_hook import EMATeacherHook
from .invalid_loss_hook import InvalidLossGuardHook
from .label_evolution_hook import LabelEvolutionHook
from .pal_hook import PALHook
from .prediction_writer_hook import PredictionWriterHook
from .safe_checkpoint_hook import SafeCheckpointHook
from .strict_load_hook import StrictLoadHook

__all__ = [
    'AtomicCheckpointHook',
    'find_resume_checkpoint',
    'DeferredRuntimeInfoHook',
    'DriftMonitorHook',
    'drift_grid',
    'drift_statistics',
    'EMATeacherHook',
    'InvalidLossGuardHook',
    'LabelEvolutionHook',
    'PALHook',
    'PredictionWriterHook',
    'SafeCheckpointHook',
    'StrictLoadHook',
]
