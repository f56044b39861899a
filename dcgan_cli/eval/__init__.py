"""Evaluation: sample-quality metrics, the MNIST classifier they use, and the linear probe of D."""
