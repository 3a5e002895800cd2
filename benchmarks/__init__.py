"""Client-overhead benchmark: the gateway against plain httpx, the openai SDK and the anchors.

Run ``python -m benchmarks.run`` (``--quick`` for a short run); ``benchmarks/README.md`` says what is measured.
"""
