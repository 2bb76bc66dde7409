"""notifications: turns user and booking events into messages and records each one sent."""
