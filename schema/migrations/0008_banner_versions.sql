-- Every banner a site was offered in, by version (a hash of its code, styles and config),
-- recorded by every replica at start the first time it is seen. A consents row's
-- banner_version names one: the texts, categories and vendors the visitor was shown, the
-- config as JSON and the script byte for byte as served (without a privacy signal), with
-- its SRI hash. It holds no personal data and is never dropped: decisions refer to it.
CREATE TABLE IF NOT EXISTS banner_versions
(
    site           String,
    banner_version String,
    lang           String,
    policy_version String,
    config         String,
    script         String,
    integrity      String,
    first_seen     DateTime
)
ENGINE = MergeTree
ORDER BY (site, banner_version);
