-- What each site's policy version covered, recorded by every replica at start: the
-- categories in order, each with its technologies ("analytics=beacon+cookie", "!" after
-- a required one). Receipts carry granted categories as bits in this order, so one
-- policy version must never cover other categories; serve refuses to start if it would.
-- Analysts can read which categories a consents row's policy_version had.
CREATE TABLE IF NOT EXISTS site_policies
(
    site           String,
    policy_version String,
    categories     Array(String),
    first_seen     DateTime
)
ENGINE = MergeTree
ORDER BY (site, policy_version);
