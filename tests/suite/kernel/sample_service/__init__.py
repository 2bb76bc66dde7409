"""A minimal service used to exercise the kernel: one table plus outbox and inbox."""
