"""faultline as a Chaos Toolkit extension: a Python provider for `chaos run experiment.json`.

    {"type": "action", "name": "payments-down",
     "provider": {"type": "python", "module": "faultline.chaostoolkit.actions", "func": "inject",
                  "arguments": {"fault": {"kind": "down", "edges": ["bookings->payments"]}}}}

- `faultline.chaostoolkit.actions`: `inject` any fault of the fault API by topology name (a
  toxic, an HTTP fault, edges down, a database or broker outage, a process killed, paused or
  restarted) and `heal` every fault still in force.
- `faultline.chaostoolkit.probes`: the audit, breaker states, k6-style load thresholds judged
  over a short burst of real traffic.

Every activity attaches to the stack `faultline up` recorded (or the state file named by the
experiment's `faultline_state_file` configuration). Each fault's undo is journaled on disk
before the fault is applied, so `heal` works from another activity, another `chaos run`, or
after a crash; `faultline.chaostoolkit.target` says where that journal lives.
"""
