"""Property tests over everything that reads outside input: SSE, decoders, tool arguments, config, URLs."""
