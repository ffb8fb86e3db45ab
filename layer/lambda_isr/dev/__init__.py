"""``lambda-isr dev``: a local Function URL emulator that really streams."""
