"""The stabilisers of Salimans et al. 2016 ("Improved techniques for training GANs") that the train step
applies: feature matching (--g-objective) and historical averaging (--historical-averaging).

The other two live elsewhere: one-sided label smoothing is a form of the objective
(losses.with_label_smoothing), and minibatch discrimination is a layer of D (models/layers.py).

Both terms here are functions of the *whole* batch or of the weights, not per-example values, so
they do not go through the per-example averaging of the other loss terms: each replica computes the
term's full value (feature matching from the global batch's means, through an all-reduce) and adds
`replica_share(value)`, its 1/R part, to its loss; the strategy's sum of the replicas' gradients (and
of their metric values) is then the term's own, on any number of replicas.

The CLI reads G_OBJECTIVES for --g-objective's choices, so this module imports TensorFlow only when a
term is computed.
"""

from __future__ import annotations

ADVERSARIAL, FEATURE_MATCHING, BOTH = "adversarial", "feature_matching", "both"
G_OBJECTIVES = {
    ADVERSARIAL: "the objective's own generator loss (--loss)",
    FEATURE_MATCHING: "match the batch mean of D's last hidden features on real data: ||E f(x) - E f(G(z))||^2 "
                      "(Salimans et al. 2016), instead of the adversarial loss",
    BOTH: "the adversarial loss plus feature matching",
}
FEATURE_MATCHING_TERM = "g_feature_matching"
HISTORICAL_TERMS = {"d": "d_hist_avg", "g": "g_hist_avg"}


def replica_share(value):
    """This replica's part of a term whose full value every replica computes: value / replicas."""
    import tensorflow as tf

    return value / tf.cast(tf.distribute.get_replica_context().num_replicas_in_sync, value.dtype)


def global_mean(features, global_batch: int):
    """The mean over the global batch of features (this replica's rows of it), in float32, on every replica."""
    import tensorflow as tf

    local = tf.reduce_sum(tf.cast(features, tf.float32), axis=0)
    return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, local) / global_batch


def feature_matching(real_mean, fake_features, global_batch: int):
    """||E_x f(x) - E_z f(G(z))||_2^2 (Salimans et al. 2016, section 3.1): the squared L2 distance between
    the batch means of D's features on real images (real_mean, a constant for G) and on G's.

    The paper's sum over the features, not their mean (openai/improved-gan's MNIST code takes the
    mean): larger for a wide layer, which --g-objective both adds to the adversarial loss as it is.
    """
    import tensorflow as tf

    return tf.reduce_sum(tf.square(tf.stop_gradient(real_mean) - global_mean(fake_features, global_batch)))


class HistoricalAverage:
    """The running mean of a player's past weights, and the penalty weight * ||theta - that mean||^2
    (Salimans et al. 2016, section 3.3), summed over the player's trainable variables.

    The mean is of the values before each of the player's updates so far (the initial weights from the
    first one on); before the first update there is no past, and the penalty is 0. It is non-trainable state that `variables()`
    gives the checkpoint, so a resumed run continues it bit for bit. Create it under the strategy's
    scope: the variables are mirrored, and `fold` runs on every replica alike (the weights are the same
    on all), each keeping the first replica's result.
    """

    def __init__(self, variables, weight: float, name: str):
        import tensorflow as tf

        self.weight, self.tracked = weight, list(variables)
        first = tf.VariableAggregation.ONLY_FIRST_REPLICA
        self.means = [tf.Variable(tf.zeros(v.shape, v.dtype), trainable=False, aggregation=first, name=f"{name}_mean_{i}")
                      for i, v in enumerate(self.tracked)]
        self.count = tf.Variable(0.0, trainable=False, aggregation=first, name=f"{name}_count")

    def penalty(self):
        """weight * sum over the variables of ||theta - mean||^2: the same value on every replica."""
        import tensorflow as tf

        distance = tf.add_n([tf.reduce_sum(tf.square(tf.convert_to_tensor(v) - mean))
                             for v, mean in zip(self.tracked, self.means)])
        return self.weight * tf.minimum(self.count, 1.0) * distance

    def fold(self):
        """Add the current weights (before the update they are about to take) to the mean."""
        import tensorflow as tf

        count = self.count + 1.0
        for v, mean in zip(self.tracked, self.means):
            mean.assign_add((tf.convert_to_tensor(v) - mean) / count)
        self.count.assign(count)

    def variables(self) -> dict:
        """The state a checkpoint keeps, by name."""
        return {"count": self.count, **{f"mean_{i}": mean for i, mean in enumerate(self.means)}}
