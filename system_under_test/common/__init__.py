"""Shared kernel of the booking suite: what every service would otherwise repeat."""
