"""OpenAPI fuzzing of every service with Schemathesis: config, custom checks, runner."""
