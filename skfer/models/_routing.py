"""skorch-style routed parameters (``module__drop_rate``, ``optimizer__momentum``...) as
first-class scikit-learn parameters: ``get_params``/``set_params``, cloning, grid search."""

from __future__ import annotations

__all__ = ["NESTED_PREFIXES", "RoutedParamsMixin"]

#: parameters routed to skorch (``optimizer__momentum``, ``callbacks__print_log__sink``)
#: or, for ``module__*``, to ``timm.create_model``
NESTED_PREFIXES = ("module", "optimizer", "criterion", "callbacks")


class RoutedParamsMixin:
    """Keeps ``<prefix>__<name>`` keyword arguments as parameters of the estimator.

    The estimator's ``__init__`` stores them with ``vars(self).update(kwargs)``.
    """

    def _nested_params(self) -> dict:
        return {k: v for k, v in vars(self).items() if "__" in k and not k.endswith("_")}

    def get_params(self, deep=True):
        """Get parameters, including routed ``module__``/``optimizer__``/... ones.

        Examples
        --------
        >>> from skfer import EmotionCNN
        >>> EmotionCNN(optimizer__momentum=0.5).get_params()["optimizer__momentum"]
        0.5
        """
        params = super().get_params(deep=deep)
        params.update(self._nested_params())
        return params

    def set_params(self, **params):
        """Set parameters; ``module__*``, ``optimizer__*``, ``criterion__*`` and
        ``callbacks__*`` are stored for ``fit`` (skorch's routing), others as usual.

        Examples
        --------
        >>> from skfer import EmotionCNN
        >>> EmotionCNN().set_params(module__drop_rate=0.2, lr=0.01).module__drop_rate
        0.2
        """
        routed = {
            k: v
            for k, v in params.items()
            if k.partition("__")[0] in NESTED_PREFIXES and k.partition("__")[2]
        }
        for key, value in routed.items():
            setattr(self, key, value)
        rest = {k: v for k, v in params.items() if k not in routed}
        if rest:
            super().set_params(**rest)
        return self

    def _check_nested(self) -> dict[str, dict]:
        extra = self._nested_params()
        by_prefix: dict[str, dict] = {p: {} for p in NESTED_PREFIXES}
        for key, value in extra.items():
            prefix, _, rest = key.partition("__")
            if prefix not in by_prefix or not rest:
                raise ValueError(
                    f"{type(self).__name__} got an unexpected parameter {key!r}: extra "
                    f"parameters must start with {', '.join(p + '__' for p in NESTED_PREFIXES)}."
                )
            by_prefix[prefix][rest] = value
        return by_prefix
