"""gateway: the public API (auth, rate limit, validation, composition); owns no data."""
