-- Daily decision counts per site, category, method and signal, kept up to date by a
-- materialized view on consents. decisions holds uniqExact states of decision ids, so a
-- decision whose insert was retried still counts once: read it with
-- uniqExactMerge(decisions). Each decision adds one row per category of its site, with
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

CREATE MATERIALIZED VIEW IF NOT EXISTS consent_daily_mv TO consent_daily AS
SELECT
    toDate(decided_at) AS day,
    site,
    category,
    method,
    signal,
    toUInt8(has(granted, category)) AS is_granted,
    uniqExactState(decision_id) AS decisions
FROM consents
ARRAY JOIN arrayConcat(granted, denied) AS category
GROUP BY day, site, category, method, signal, is_granted;
