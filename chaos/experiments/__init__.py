"""Chaos experiments: each injects faults, measures the suite from outside and returns a
`Result` saying which resilience property held and which broke, in words a person reads."""
