"""Customer clusters and personas on RFM and behaviour, saved as segments (C14)."""
