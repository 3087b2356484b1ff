-- Anonymous per-site, per-day counts of DNT, GPC and bot requests. Rows with the same key
-- are summed when parts merge; analysts use sum(count). Daily partitions, like events, so
-- retention drops each day exactly when the site's retention_days have passed.
CREATE TABLE IF NOT EXISTS signals
(
    day    Date,
    site   String,
    signal String,
    count  UInt64
)
ENGINE = SummingMergeTree(count)
PARTITION BY (site, toYYYYMMDD(day))
ORDER BY (site, day, signal);
