"""Consumer side: each test drives a consumer's real code against a Pact mock provider."""
