"""Training: the loop, the train step, losses, optimizers, precision and tf.distribute."""
