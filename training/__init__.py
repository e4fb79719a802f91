"""Python model tooling for Loupe: builds the tiny random test bundle and its golden values."""
