-- The consent ledger: one immutable row per decision. No IP, no user agent: the consent id
-- is random, minted by the server. A decision is acknowledged only after its insert, and
-- an insert retried after an ambiguous failure writes the same row again, so the table is
-- a ReplacingMergeTree keyed by decision id: read it with FINAL (or GROUP BY decision_id)
-- to see every decision exactly once. Ordered by consent id so one subject's history
-- and erasure touch few granules. decided_ms (Unix milliseconds) orders decisions made
-- within one second; 18.16 has no DateTime64. Daily partitions: the statistics feed
-- reads only the recent ones, and retention drops a day at a time.
CREATE TABLE IF NOT EXISTS consents
(
    decision_id    String,
    consent_id     String,
    site           String,
    policy_version String,
    granted        Array(String),
    denied         Array(String),
    method         Enum8('accept_all' = 1, 'reject_all' = 2, 'custom' = 3, 'withdraw' = 4),
    signal         Enum8('none' = 0, 'dnt' = 1, 'gpc' = 2, 'dnt_gpc' = 3),
    override       UInt8,
    banner_version String,
    lang           String,
    decided_at     DateTime,
    decided_ms     UInt64,
    expires_at     DateTime
)
ENGINE = ReplacingMergeTree
PARTITION BY (site, toYYYYMMDD(decided_at))
ORDER BY (site, consent_id, decision_id);
