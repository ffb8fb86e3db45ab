"""The blocking-ISR algorithm: keys, policy, in-process body cache, leases, the engine.

Nothing here parses events or builds Function URL dicts, and nothing imports boto3: storage is
reached only through :class:`~lambda_isr.store.contract.Store`, time through an injected clock.
"""

from lambda_isr.isr.config import ContentionPolicy, IsrConfig, KeyConfig, TrailingSlash
from lambda_isr.isr.states import CacheState

__all__ = ["CacheState", "ContentionPolicy", "IsrConfig", "KeyConfig", "TrailingSlash"]
