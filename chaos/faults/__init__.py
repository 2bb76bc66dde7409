"""The fault API: toxics on any topology edge, process faults on any service, outages.

    with Faults(stack, seed=7) as faults:
        with faults.toxic("bookings->payments", toxics.latency(2000)):
            ...
        with faults.broker_outage():
            ...

Every fault is undone when its block ends, and `heal()` undoes whatever is still active. With
`Faults(stack, journal=FaultJournal(path))` each fault's undo step is on disk before the fault
is applied, so `FaultJournal(path).recover(...)` heals from another process after a crash.
Faults as data (a scenario file, a Chaos Toolkit action) are in `chaos.faults.spec`.
"""

from chaos.faults import toxics
from chaos.faults.injector import FaultError, Faults
from chaos.faults.journal import FaultJournal
from chaos.faults.toxics import Toxic
from chaos.faults.undo import UndoStep

__all__ = ["FaultError", "FaultJournal", "Faults", "Toxic", "UndoStep", "toxics"]
