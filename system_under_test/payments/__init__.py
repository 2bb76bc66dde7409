"""payments: charges and refunds, idempotent by booking id."""
