-- Anonymous per-site, per-day counts of DNT, GPC and bot requests. Rows with the same key
-- are summed when parts merge; analysts use sum(count).
CREATE TABLE IF NOT EXISTS signals
(
    day    Date,
    site   String,
    signal String,
    count  UInt64
)
ENGINE = SummingMergeTree(count)
PARTITION BY (site, toYYYYMM(day))
ORDER BY (site, day, signal);
