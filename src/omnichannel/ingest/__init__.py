"""Getting data in: the Segment-compatible collector, file connectors, validation, dead letters."""
