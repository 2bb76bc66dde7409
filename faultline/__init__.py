"""faultline's entry points: the `faultline` command line and the pytest plugin.

They sit on top of every layer (harness core; chaos, contracts, load; scenarios) and may
import any of them; nothing below imports this package (tests/test_layering.py).
"""
