"""The layer's Lambda runtime loop, able to stream responses (``python -m lambda_isr.runtime``).

Importing this package imports nothing else: a plain handler cold-starts without boto3, the
store or the ISR code. The pieces:

- :mod:`~lambda_isr.runtime.protocol`: the Runtime API conversation as bytes (no I/O).
- :mod:`~lambda_isr.runtime.client`: the socket loop and the live streaming writer.
- :mod:`~lambda_isr.runtime.invoke`: the handler contract for one invocation.
- :mod:`~lambda_isr.runtime.loop`: init, SnapStart and the forever loop.
- :mod:`~lambda_isr.runtime.stream`: ``@streaming`` and ``StreamingResponse`` for users.
- :mod:`~lambda_isr.runtime.local_api`: an in-process Runtime API for tests and local runs.
"""
