"""Supervised contrastive loss over Gaussian token embeddings (Francis and Moens, 2022).

Each token's encoder state ``h`` becomes a diagonal Gaussian (Eq. 1)::

    mu = f_mu(h)        Sigma = ELU(f_Sigma(h)) + 1 + eps

with ``f_mu`` and ``f_Sigma`` a ReLU followed by one linear layer. Two tokens are as far
apart as the symmetric KL divergence of their Gaussians (Eqs. 2-3), and each token is
pulled towards the tokens of its own label and pushed from all others (Eqs. 4-6)::

    l(a) = -log( mean_{b in X_a} exp(-d(a, b)) / sum_{b != a} exp(-d(a, b)) )

``Sigma`` holds the variances (the diagonal of the covariance), as in CONTaiNER (Das et
al., 2022), whose embeddings the paper follows.

All pairwise divergences of a batch come from matrix products (``O(N^2 l)`` time and
``O(N^2)`` memory), never from an ``N x N x l`` tensor: a batch of 32 tweets has about
800 tokens, and the difference tensor at ``l = 128`` would take 300 MB before gradients.
"""

from __future__ import annotations

import math

import torch
from torch import nn

#: The paper's e ~ e^-14, added to the variances for numerical stability.
SIGMA_EPS = 1e-14


class GaussianProjection(nn.Module):
    """The projection heads ``f_mu`` and ``f_Sigma`` (ReLU, then a linear layer)."""

    def __init__(self, in_features: int, dim: int = 128, eps: float = SIGMA_EPS):
        super().__init__()
        self.mu = nn.Sequential(nn.ReLU(), nn.Linear(in_features, dim))
        self.sigma = nn.Sequential(nn.ReLU(), nn.Linear(in_features, dim))
        self.eps = eps

    def forward(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(means, variances), both ``(..., dim)``; variances are positive."""
        variance = nn.functional.elu(self.sigma(hidden)) + 1.0 + self.eps
        return self.mu(hidden), variance


def kl_divergence(
    mu_p: torch.Tensor, var_p: torch.Tensor, mu_q: torch.Tensor, var_q: torch.Tensor
) -> torch.Tensor:
    """``D_KL[N(mu_p, var_p) || N(mu_q, var_q)]`` of diagonal Gaussians (Eq. 2, with
    ``b = p``, ``a = q``), over the last dimension; arguments broadcast."""
    dim = mu_p.shape[-1]
    trace = (var_p / var_q).sum(-1)
    mahalanobis = ((mu_q - mu_p) ** 2 / var_q).sum(-1)
    log_det = torch.log(var_q).sum(-1) - torch.log(var_p).sum(-1)
    return 0.5 * (trace + mahalanobis - dim + log_det)


def pairwise_distance(mu: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    """``d(a, b)`` of Eq. 3 for all pairs of ``N`` Gaussians: ``(N, N)``, symmetric.

    With ``M[a, b] = sum_k var_b/var_a + (mu_a - mu_b)^2 / var_a`` (the trace and
    Mahalanobis terms of ``D_KL[N_b || N_a]``), ``d(a, b) = (M[a, b] + M[b, a] - 2l) / 4``:
    the log-determinants of the two directions cancel. Each sum over ``k`` expands into
    matrix products; cancellation can leave tiny negative values, clamped to 0.
    """
    dim = mu.shape[-1]
    precision = 1.0 / var
    trace = precision @ var.T  # [a, b] = sum_k var_b / var_a
    mu_sq = mu * mu
    mahalanobis = (
        (mu_sq * precision).sum(-1, keepdim=True)  # sum_k mu_a^2 / var_a
        - 2.0 * (mu * precision) @ mu.T  # sum_k mu_a mu_b / var_a
        + precision @ mu_sq.T  # sum_k mu_b^2 / var_a
    )
    m = trace + mahalanobis
    return ((m + m.T - 2.0 * dim) / 4.0).clamp(min=0.0)


def contrastive_loss(mu: torch.Tensor, var: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Eqs. 4-6 over ``N`` tokens (``mu``, ``var``: ``(N, l)``; ``labels``: ``(N,)``).

    Tokens without another token of their label in the batch have no positives and no
    term (the mean of an empty set is undefined); a batch where no token has one gives
    a zero loss that still depends on the parameters, so a training step stays valid.
    """
    n = labels.shape[0]
    logits = -pairwise_distance(mu, var)
    self_pair = torch.eye(n, dtype=torch.bool, device=labels.device)
    positives = (labels[:, None] == labels[None, :]) & ~self_pair
    counts = positives.sum(1)
    anchors = counts > 0
    if not bool(anchors.any()):
        return logits.sum() * 0.0
    others = logits.masked_fill(self_pair, -math.inf)
    denominator = torch.logsumexp(others, dim=1)
    numerator = torch.logsumexp(logits.masked_fill(~positives, -math.inf), dim=1)
    numerator = numerator - torch.log(counts.clamp(min=1).to(logits.dtype))
    return (denominator - numerator)[anchors].mean()
