"""The DynamoDB store's purges and purge-index writes (a part of
:class:`~lambda_isr.store.dynamodb.DynamoDbMetaStore`; item shapes in :mod:`._ddb_index`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from lambda_isr.clock import Clock
from lambda_isr.store import _aws, _ddb_index, _ddb_item
from lambda_isr.store.contract import CacheRecord
from lambda_isr.store.keys import META_SK

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef

CONDITION_FAILED = "ConditionalCheckFailedException"


class DdbPurges:
    """Soft purges (one key, every variant of a path, every entry of a tag) and the index
    writes a commit adds."""

    _table: str
    _client: DynamoDBClient
    _clock: Clock
    _tenant: str | None
    _retention: int
    _indexed: _ddb_index.IndexMemo

    def _key(self, cache_key: str, sk: str) -> dict[str, AttributeValueTypeDef]:
        raise NotImplementedError

    def index_writes(
        self, record: CacheRecord, meta_pk: str
    ) -> tuple[list[TransactWriteItemTypeDef], Callable[[], None]]:
        """The purge-index ``Put``s a commit adds to its transaction (after its own items; none
        when nothing changed), and what to call once that transaction succeeded."""
        puts, dropped, indexed = _ddb_index.index_puts(
            self._table,
            record,
            meta_pk,
            known=self._indexed.get(record.cache_key),
            tenant=self._tenant,
            retention=self._retention,
        )

        def committed() -> None:
            self._indexed.put(record.cache_key, indexed)
            if dropped:
                _ddb_index.delete_tags(
                    self._client, self._table, record.cache_key, dropped, self._tenant
                )

        return puts, committed

    def invalidate(self, cache_key: str) -> bool:
        return self._purge(self._key(cache_key, META_SK)["pk"]["S"])

    def invalidate_path(
        self, path: str, *, host: str | None = None, tenant: str | None = None
    ) -> list[str]:
        pk = _ddb_index.entry_pk("PATH", path, self._tenant)
        return _ddb_index.purge(
            self._client, self._table, pk, self._purge, host=host, tenant=tenant
        )

    def invalidate_tag(self, tag: str) -> list[str]:
        pk = _ddb_index.entry_pk("TAG", tag, self._tenant)
        return _ddb_index.purge(
            self._client, self._table, pk, lambda target: self._purge(target, tag)
        )

    def _purge(self, pk: str, tag: str | None = None) -> bool:
        now = self._clock.now()
        # Canonical readers see revalidate_seconds = 0 (stale); the policy is kept aside.
        # invalidated_at only moves forward: it is the latest purge, which fences commits of
        # renders that started before it.
        try:
            with _aws.boundary("invalidate", passthrough=frozenset({CONDITION_FAILED})):
                self._client.update_item(
                    TableName=self._table,
                    Key={"pk": {"S": pk}, "sk": {"S": META_SK}},
                    UpdateExpression=(
                        "SET #pol = if_not_exists(#pol, #rs), #inv = :now, #rs = :zero"
                    ),
                    **_ddb_item.purge_condition(now, tag),
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except ClientError as exc:
            # No record, a tag entry the page no longer carries, or already purged later.
            old = cast("dict[str, Any]", exc.response).get("Item") or {}
            return bool(old) and (tag is None or tag in old.get("tags", {}).get("SS", ()))
        return True
