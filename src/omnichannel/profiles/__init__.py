"""Customer profiles: assembly, traits, tags and customer lifetime value (CLV)."""
