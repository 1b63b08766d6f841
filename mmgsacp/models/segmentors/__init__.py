from .ir_encoder_decoder import IREncoderDecoder
from .label_evolution_segmentor import LabelEvolutionSegmentor
from .point_segmentor import PointSupervisedSegmentor
from .stored_label_segmentor import StoredLabelSegmentor

__all__ = [
    'IREncoderDecoder',
    'PointSupervisedSegmentor',
    'LabelEvolutionSegmentor',
    'StoredLabelSegmentor',
]
