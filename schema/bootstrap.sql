-- Records applied migrations; created before any migration runs. Racing migrators may
-- record a version twice: ReplacingMergeTree collapses the rows, readers GROUP BY version.
CREATE TABLE IF NOT EXISTS schema_migrations
(
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime
)
ENGINE = ReplacingMergeTree
ORDER BY version;
