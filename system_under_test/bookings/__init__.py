"""Bookings: the saga orchestrator of the booking suite."""
