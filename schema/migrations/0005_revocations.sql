-- Receipts revoked by a withdrawal or an erasure: every receipt of the consent id issued
-- at or before revoked_at stores nothing from then on. digest is the hex of the first 16
-- bytes of SHA-256(consent_id), so an erased subject's id is not kept here. Ordered by
-- time: each replica re-reads only the last minutes every few seconds.
CREATE TABLE IF NOT EXISTS revocations
(
    revoked_at DateTime,
    digest     String,
    site       String,
    reason     Enum8('withdraw' = 1, 'erase' = 2)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(revoked_at)
ORDER BY (revoked_at, digest);

-- Anonymous count of erasures per site and day: all that is kept of an erased subject.
CREATE TABLE IF NOT EXISTS erasures
(
    day   Date,
    site  String,
    count UInt64
)
ENGINE = SummingMergeTree(count)
PARTITION BY toYYYYMM(day)
ORDER BY (site, day);
