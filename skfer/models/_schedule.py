"""Learning-rate schedules of :class:`~skfer.EmotionCNN` as skorch callbacks."""

from __future__ import annotations

import math

from skorch.callbacks import Callback

__all__ = ["WarmupCosine"]


class WarmupCosine(Callback):
    """Per-batch learning rate: a linear warm-up, then a cosine decay to zero.

    The rate rises linearly over the first ``warmup_epochs`` epochs to the
    optimizer's initial rate (``EmotionCNN(lr=...)``) and falls along a half cosine
    to zero at the last batch of ``max_epochs`` (a "one-cycle" schedule). It is
    recomputed from the number of batches already trained, so a run resumed from a
    checkpoint continues on the same curve. ``EmotionCNN(lr_schedule="warmup-cosine")``
    installs it; it can also be passed in ``callbacks`` of any skorch net.

    Parameters
    ----------
    warmup_epochs : float, default=1.0
        Length of the linear warm-up, in epochs (0 for none).

    Examples
    --------
    >>> from skfer import WarmupCosine
    >>> schedule = WarmupCosine(warmup_epochs=1)
    >>> [round(schedule.factor(step, total=10, warmup=2), 3) for step in (0, 1, 2, 6, 9)]
    [0.5, 1.0, 1.0, 0.5, 0.038]
    """

    def __init__(self, warmup_epochs: float = 1.0):
        self.warmup_epochs = warmup_epochs

    @staticmethod
    def factor(step: int, *, total: int, warmup: int) -> float:
        """Fraction of the peak rate at batch ``step`` (0-based) of ``total``."""
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        if self.warmup_epochs < 0:
            raise ValueError(f"warmup_epochs must be >= 0, got {self.warmup_epochs!r}.")
        dataset = net.get_dataset(X, y)
        self.steps_per_epoch_ = max(1, len(net.get_iterator(dataset, training=True)))
        epochs = len(net.history) + net.max_epochs  # a resumed run keeps its total
        self.total_steps_ = epochs * self.steps_per_epoch_
        self.warmup_steps_ = round(self.warmup_epochs * self.steps_per_epoch_)
        done = sum(row.get("train_batch_count", len(row["batches"])) for row in net.history)
        self.step_ = int(done)
        groups = net.optimizer_.param_groups
        self.peak_lrs_ = [group.get("initial_lr", group["lr"]) for group in groups]
        for group, peak in zip(net.optimizer_.param_groups, self.peak_lrs_):
            group["initial_lr"] = peak

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        scale = self.factor(self.step_, total=self.total_steps_, warmup=self.warmup_steps_)
        for group, peak in zip(net.optimizer_.param_groups, self.peak_lrs_):
            group["lr"] = peak * scale
        net.history.record_batch("lr", peak * scale if self.peak_lrs_ else 0.0)
        self.step_ += 1
