from .point_segmentor import PointSupervisedSegmentor

__all__ = ['PointSupervisedSegmentor']
