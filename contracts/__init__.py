"""Consumer-driven contracts (Pact) between the suite's services, and OpenAPI fuzzing
(Schemathesis) of every service. See docs/contracts.md."""
