"""gancourse: the plumbing of the GAN course (data, runtime, plots, training loop, metrics, grading)."""
from gancourse.runtime import budget, device, is_fast_mode, seed_everything

__all__ = ["budget", "device", "is_fast_mode", "seed_everything"]
__version__ = "0.1.0"
