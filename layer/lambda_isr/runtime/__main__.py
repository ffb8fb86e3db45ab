"""``python -m lambda_isr.runtime``: the entry point the exec wrapper starts."""

from lambda_isr.runtime.loop import main

if __name__ == "__main__":
    main()
