from .active_subset_sampler import ActiveSubsetSampler

__all__ = ['ActiveSubsetSampler']
