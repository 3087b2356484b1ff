-- Daily decision counts per site, category, method and signal. decisions holds uniqExact
-- states of decision ids: read it with uniqExactMerge(decisions); a decision counts once
-- however often it arrives. Each decision adds one row per category of its site, with
-- is_granted saying whether that category was granted.
CREATE TABLE IF NOT EXISTS consent_daily
(
    day        Date,
    site       String,
    category   String,
    method     Enum8('accept_all' = 1, 'reject_all' = 2, 'custom' = 3, 'withdraw' = 4),
    signal     Enum8('none' = 0, 'dnt' = 1, 'gpc' = 2, 'dnt_gpc' = 3),
    is_granted UInt8,
    decisions  AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY (site, toYYYYMM(day))
ORDER BY (site, day, category, method, signal, is_granted);

-- The view is fed, not attached to consents: every replica copies the last minutes of
-- consents into consent_feed every few seconds (INSERT ... SELECT, idempotent thanks to
-- uniqExact), so a decision's durable insert writes one part, not two, and the counts
-- trail the ledger by seconds. consent_feed stores nothing (Null engine).
CREATE TABLE IF NOT EXISTS consent_feed
(
    decision_id String,
    site        String,
    granted     Array(String),
    denied      Array(String),
    method      Enum8('accept_all' = 1, 'reject_all' = 2, 'custom' = 3, 'withdraw' = 4),
    signal      Enum8('none' = 0, 'dnt' = 1, 'gpc' = 2, 'dnt_gpc' = 3),
    decided_at  DateTime
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS consent_daily_mv TO consent_daily AS
SELECT
    toDate(decided_at) AS day,
    site,
    category,
    method,
    signal,
    toUInt8(has(granted, category)) AS is_granted,
    uniqExactState(decision_id) AS decisions
FROM consent_feed
ARRAY JOIN arrayConcat(granted, denied) AS category
GROUP BY day, site, category, method, signal, is_granted;
