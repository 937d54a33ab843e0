CREATE DATABASE IF NOT EXISTS `vakt`;

CREATE TABLE IF NOT EXISTS `vakt`.`requests`
(
    `ts` DateTime64(3, 'UTC') COMMENT 'request time, UTC' CODEC(Delta(8), ZSTD(1)),
    `site` LowCardinality(String) COMMENT 'site the request was logged for',
    `client_id` UInt64 COMMENT 'keyed PRF of the client IP under the epoch salt',
    `network_id` UInt64 COMMENT 'keyed PRF of the /24 or /48 prefix under the epoch salt',
    `ip_version` UInt8 COMMENT '4 or 6',
    `epoch` UInt32 COMMENT 'salt epoch client_id and network_id belong to',
    `country` LowCardinality(String) COMMENT 'ISO 3166 code, empty when unknown',
    `asn` UInt32,
    `as_org` LowCardinality(String),
    `method` LowCardinality(String),
    `path` String CODEC(ZSTD(1)),
    `query` String COMMENT 'query string, scrubbed by policy' CODEC(ZSTD(1)),
    `protocol` LowCardinality(String),
    `status` UInt16,
    `bytes` UInt64 COMMENT 'response bytes',
    `referrer` String COMMENT 'scrubbed by policy' CODEC(ZSTD(1)),
    `user_agent` String CODEC(ZSTD(1)),
    `host` LowCardinality(String),
    `request_time` Nullable(Float32) COMMENT 'seconds; NULL when not logged',
    `upstream_time` Nullable(Float32) COMMENT 'seconds; NULL when not logged',
    `flags` UInt32 COMMENT 'threat signal bits (event.Flags)'
)
ENGINE = MergeTree
PARTITION BY toDate(ts)
ORDER BY (site, toStartOfHour(ts), client_id, ts)
TTL toDateTime(ts) + INTERVAL 30 DAY
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000;

ALTER TABLE `vakt`.`requests` MODIFY TTL toDateTime(ts) + INTERVAL 7 DAY;
