"""Intent tiers: Home Assistant sentence templates first, then a small language model."""
