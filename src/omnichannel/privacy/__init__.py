"""Privacy: what a role may see of a person (masking); consent and erasure live beside it."""
