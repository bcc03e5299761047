"""Unsupervised adaptation to one target domain (a film) from its unlabelled faces.

``"batchnorm"`` (AdaBN; Li, Wang, Shi, Liu & Hou, "Revisiting batch normalization for
practical domain adaptation", ICLR workshop 2017): the batch-norm layers' running mean
and variance are re-estimated on the target faces, so features are normalised with
the film's statistics rather than FER2013's. It addresses covariate shift (darker,
lower-contrast, colour-graded faces), the film failure skfer measured: on the film
development set, adapting to each film's faces brought the share of faces read as *sad*
from 1.5 to 1.0 times its true share for the shipped ``fer2013`` (from 2.2 to 1.2 times
for the model before its film stage; ``benchmarks/results/film_adaptation.md``).

Label-shift adaptation (EM re-estimation of the class priors, Saerens, Latinne &
Decaestecker 2002) was measured too and is not offered: on film it *amplifies* the
sad bias, because the shift is in the faces, not in the labels (same file).

Adaptation needs no labels but makes a prediction depend on the other faces of the
same call (transductive), which is why it is off by default in ``EmotionCNN``.
"""

from __future__ import annotations

import copy

__all__ = ["ADAPT_MODES", "MIN_ADAPT_FACES", "adapt_batchnorm"]

#: values of ``EmotionCNN(adapt=...)`` besides None
ADAPT_MODES = ("batchnorm",)

#: fewer target faces than this are predicted unadapted (too noisy statistics; see
#: ``benchmarks/results/film_adabn_size.md``)
MIN_ADAPT_FACES = 16


def adapt_batchnorm(module, batches, *, min_faces: int = MIN_ADAPT_FACES):
    """A copy of ``module`` whose batch-norm statistics are those of ``batches``.

    Parameters
    ----------
    module : torch.nn.Module
        A trained network (left untouched).
    batches : iterable of torch.Tensor
        Preprocessed target inputs, as the network sees them.
    min_faces : int, default=16
        Fewer target faces than this give too noisy statistics: ``module`` itself is
        returned.

    Returns
    -------
    torch.nn.Module
        In eval mode. ``module`` when it has no batch norm or too few faces.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)).eval()
    >>> adapted = adapt_batchnorm(net, [torch.full((20, 1, 5, 5), 3.0)])
    >>> adapted[1].running_mean.shape, bool(net[1].running_mean.abs().sum() == 0)
    (torch.Size([2]), True)
    """
    import torch
    from torch import nn

    batches = list(batches)
    n = sum(len(b) for b in batches)
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms or n < min_faces:
        return module
    adapted = copy.deepcopy(module).eval()
    layers = [m for m in adapted.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for bn in layers:
        bn.reset_running_stats()
        bn.momentum = None  # a cumulative average over all target batches
        bn.train()
    with torch.no_grad():
        for batch in batches:
            if len(batch) > 1:  # batch norm in train mode needs two samples
                adapted(batch)
    for bn in layers:
        bn.eval()
    return adapted
