"""Provider side: each provider served for real and verified against its consumers' pacts."""
