"""Channel delivery (C7) and timing and pressure (C9): one send path, one durable queue,
one adapter per channel. See docs/channels.md; ``adapter`` is the protocol."""
