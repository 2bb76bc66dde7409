"""The fault API: toxics on any topology edge, process faults on any service, outages.

    with Faults(stack, seed=7) as faults:
        with faults.toxic("bookings->payments", toxics.latency(2000)):
            ...
        with faults.broker_outage():
            ...

Every fault is undone when its block ends, and `heal()` undoes whatever is still active.
"""

from chaos.faults import toxics
from chaos.faults.injector import FaultError, Faults
from chaos.faults.toxics import Toxic

__all__ = ["FaultError", "Faults", "Toxic", "toxics"]
