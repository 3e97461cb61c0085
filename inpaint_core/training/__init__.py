"""Training components: losses, data, the trainer. Never imported by inference code."""
