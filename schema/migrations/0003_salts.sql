-- Daily random salts of the visitor hash, shared by every replica. Partitioned by day so
-- yesterday's salt is deleted by dropping its partition. Analysts need no access here.
CREATE TABLE IF NOT EXISTS salts
(
    day        Date,
    salt       String,
    created_at DateTime
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(day)
ORDER BY (day, salt);
