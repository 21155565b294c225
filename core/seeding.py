"""Seed the framework-free random generators a run touches.

What this sets, and no more: Python's ``random`` and NumPy's global generator. PyTorch is
seeded by the neural systems themselves from their config's ``seed`` when they start
fitting (``torch.manual_seed`` seeds the CPU and every CUDA device), so the core stays
free of torch. Nothing asks PyTorch for deterministic kernels: two runs with one seed
give identical results on the same machine and threads for the CPU kernels the systems
use, but CUDA kernels (atomics in some backward passes) may differ in the last bits.
"""

from __future__ import annotations

import random

import numpy as np


def seed_everything(seed: int) -> None:
    """Seed Python's ``random`` and NumPy's global generator with ``seed``."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
