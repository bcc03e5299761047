"""EmotionCNN(consistency=...): a Jensen-Shannon consistency loss between two augmented views."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tiny_cnn

torch = pytest.importorskip("torch")

from skfer import Augmenter  # noqa: E402
from skfer.models._torch import jensen_shannon  # noqa: E402


def test_jensen_shannon_matches_its_definition():
    a = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    b = torch.tensor([[0.0, 1.0, 0.0], [5.0, -5.0, 0.0]])
    p, q = a.softmax(1).numpy(), b.softmax(1).numpy()
    m = (p + q) / 2
    kl = lambda u, v: (u * np.log(u / v)).sum(1)  # noqa: E731
    want = (0.5 * (kl(p, m) + kl(q, m))).mean()
    assert float(jensen_shannon(a, b)) == pytest.approx(want, rel=1e-5)
    assert float(jensen_shannon(b, a)) == pytest.approx(want, rel=1e-5)  # symmetric
    assert float(jensen_shannon(a, a)) == pytest.approx(0.0, abs=1e-6)
    far = torch.tensor([[50.0, -50.0]]), torch.tensor([[-50.0, 50.0]])
    assert float(jensen_shannon(*far)) == pytest.approx(np.log(2), rel=1e-4)  # its bound


def forward_sizes():
    """A skorch callback recording the batch size of every training forward pass."""
    from skorch.callbacks import Callback

    class ForwardSizes(Callback):
        def __init__(self):
            self.sizes = []

        def on_train_begin(self, net, **kwargs):
            def hook(module, args, out):
                if module.training:
                    self.sizes.append(len(args[0]))

            net.module_.register_forward_hook(hook)

    return ForwardSizes()


def test_consistency_runs_two_views_per_batch_and_trains(tiny_faces):
    X, y = tiny_faces
    sizes = forward_sizes()
    model = tiny_cnn(consistency=1.0, callbacks=[("sizes", sizes)], augment=Augmenter())
    model.fit(X, y)
    assert sizes.sizes[0] == 2 * model.batch_size  # both views in one forward pass
    assert sum(sizes.sizes) == 2 * len(X)
    loss = model.history_[-1, "train_loss"]
    assert np.isfinite(loss) and loss > 0
    plain = forward_sizes()
    tiny_cnn(callbacks=[("sizes", plain)]).fit(X, y)
    assert sum(plain.sizes) == len(X)


def test_consistency_loss_is_added_to_the_mean_of_the_two_views(tiny_faces):
    """Same seed, same draws: the weight only adds the divergence term, which is >= 0."""
    X, y = tiny_faces
    losses = {}
    for weight in (0.0, 1e-9, 50.0):
        model = tiny_cnn(consistency=weight, augment=Augmenter(), lr=1e-6).fit(X, y)
        losses[weight] = model.history_[-1, "train_loss"]
    assert losses[50.0] > losses[1e-9]
    assert np.isfinite(losses[0.0])


def test_consistency_without_augmentation_is_refused(tiny_faces):
    with pytest.raises(ValueError, match="augment=None makes them identical"):
        tiny_cnn(consistency=0.5, augment=None).fit(*tiny_faces)
    with pytest.raises(ValueError, match="consistency"):
        tiny_cnn(consistency=-1.0).fit(*tiny_faces)


def test_a_model_pickled_before_the_parameter_existed_still_clones(tiny_faces):
    """An EmotionCNN pickled by a version without ``consistency`` loads with its default
    (0, the behaviour it was fitted with): get_params, clone and refit keep working."""
    import pickle

    from sklearn.base import clone

    model = tiny_cnn().fit(*tiny_faces)
    old = pickle.loads(pickle.dumps(model))
    del old.__dict__["consistency"]  # as a pickle from before the parameter
    restored = pickle.loads(pickle.dumps(old))
    assert restored.get_params()["consistency"] == 0.0
    np.testing.assert_allclose(
        restored.predict_proba(tiny_faces[0]), model.predict_proba(tiny_faces[0])
    )
    assert clone(restored).get_params() == model.get_params()
