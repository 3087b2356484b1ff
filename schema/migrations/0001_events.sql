-- One row per stored analytics event. Partitioned by site and day so retention drops
-- whole partitions (18.16 has no TTL).
CREATE TABLE IF NOT EXISTS events
(
    ts              DateTime,
    site            String,
    type            Enum8('pageview' = 1, 'event' = 2),
    name            String,
    host            String,
    path            String,
    query           String,
    referrer_host   String,
    utm_source      String,
    utm_medium      String,
    utm_campaign    String,
    utm_term        String,
    utm_content     String,
    visitor         UInt64,
    browser         String,
    browser_version String,
    os              String,
    device          String,
    prop_keys       Array(String),
    prop_values     Array(String)
)
ENGINE = MergeTree
PARTITION BY (site, toYYYYMMDD(ts))
ORDER BY (site, ts);
