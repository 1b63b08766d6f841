from .label_evolution_segmentor import LabelEvolutionSegmentor
from .point_segmentor import PointSupervisedSegmentor

__all__ = ['PointSupervisedSegmentor', 'LabelEvolutionSegmentor']
