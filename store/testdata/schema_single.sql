CREATE DATABASE IF NOT EXISTS `vakt`;

CREATE TABLE IF NOT EXISTS `vakt`.`schema_migrations`
(
    `version` UInt32,
    `name` String,
    `applied_at` DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY version;

-- migration 1: requests table

CREATE TABLE IF NOT EXISTS `vakt`.`requests`
(
    `ts` DateTime64(3, 'UTC') COMMENT 'request time, UTC' CODEC(T64, ZSTD(1)),
    `site` LowCardinality(String) COMMENT 'site the request was logged for',
    `client_id` UInt64 COMMENT 'keyed PRF of the client IP under the epoch salt' CODEC(Delta(8), ZSTD(1)),
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
    `status` UInt16 CODEC(ZSTD(1)),
    `bytes` UInt64 COMMENT 'response bytes' CODEC(T64, ZSTD(1)),
    `referrer` String COMMENT 'scrubbed by policy' CODEC(ZSTD(1)),
    `user_agent` String CODEC(ZSTD(1)),
    `host` LowCardinality(String),
    `request_time` Nullable(Float32) COMMENT 'seconds; NULL when not logged' CODEC(ZSTD(1)),
    `upstream_time` Nullable(Float32) COMMENT 'seconds; NULL when not logged' CODEC(ZSTD(1)),
    `flags` UInt32 COMMENT 'threat signal bits (event.Flags)',
    INDEX `client_id_bloom` client_id TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toDate(ts)
PRIMARY KEY (site, toStartOfHour(ts), client_id)
ORDER BY (site, toStartOfHour(ts), client_id, ts)
TTL toDateTime(ts) + INTERVAL 30 DAY
SETTINGS ttl_only_drop_parts = 1, materialize_ttl_recalculate_only = 1, fsync_after_insert = 1, fsync_part_directory = 1, min_age_to_force_merge_seconds = 3600, min_age_to_force_merge_on_partition_only = 1, non_replicated_deduplication_window = 1000;

INSERT INTO `vakt`.`schema_migrations` (version, name, applied_at) VALUES (1, 'requests table', now64(3));

-- migration 2: site health per minute (rollup, no client ids)

CREATE TABLE IF NOT EXISTS `vakt`.`site_health_1m`
(
    `site` LowCardinality(String),
    `minute` DateTime('UTC') COMMENT 'start of the minute',
    `requests` SimpleAggregateFunction(sum, UInt64),
    `status_2xx` SimpleAggregateFunction(sum, UInt64),
    `status_3xx` SimpleAggregateFunction(sum, UInt64),
    `status_4xx` SimpleAggregateFunction(sum, UInt64),
    `status_5xx` SimpleAggregateFunction(sum, UInt64),
    `status_other` SimpleAggregateFunction(sum, UInt64) COMMENT 'status outside 200-599',
    `bytes` SimpleAggregateFunction(sum, UInt64) COMMENT 'response bytes',
    `flagged` SimpleAggregateFunction(sum, UInt64) COMMENT 'requests with a threat signal',
    `latency_known` SimpleAggregateFunction(sum, UInt64) COMMENT 'requests that logged a request time',
    `latency` AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Float32) COMMENT 'request time in seconds; read with quantilesTDigestMerge(levels)(latency)'
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(minute)
ORDER BY (site, minute)
TTL minute + INTERVAL 396 DAY
SETTINGS ttl_only_drop_parts = 1, materialize_ttl_recalculate_only = 1, fsync_after_insert = 1, fsync_part_directory = 1, min_age_to_force_merge_seconds = 3600, min_age_to_force_merge_on_partition_only = 1, non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS `vakt`.`site_health_1m_mv` TO `vakt`.`site_health_1m`
AS SELECT
    site,
    toStartOfMinute(ts) AS minute,
    count() AS requests,
    countIf(status >= 200 AND status < 300) AS status_2xx,
    countIf(status >= 300 AND status < 400) AS status_3xx,
    countIf(status >= 400 AND status < 500) AS status_4xx,
    countIf(status >= 500 AND status < 600) AS status_5xx,
    countIf(status < 200 OR status >= 600) AS status_other,
    sum(bytes) AS bytes,
    countIf(flags != 0) AS flagged,
    count(request_time) AS latency_known,
    quantilesTDigestStateIf(0.5, 0.9, 0.95, 0.99)(assumeNotNull(request_time), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
GROUP BY site, minute;

INSERT INTO `vakt`.`schema_migrations` (version, name, applied_at) VALUES (2, 'site health per minute (rollup, no client ids)', now64(3));

-- migration 3: client activity per hour (rollup)

CREATE TABLE IF NOT EXISTS `vakt`.`client_activity_1h`
(
    `site` LowCardinality(String),
    `hour` DateTime('UTC') COMMENT 'start of the hour',
    `client_id` UInt64 COMMENT 'keyed PRF of the client IP under the epoch salt',
    `epoch` UInt32 COMMENT 'salt epoch client_id belongs to',
    `network_id` UInt64,
    `requests` SimpleAggregateFunction(sum, UInt64),
    `errors` SimpleAggregateFunction(sum, UInt64) COMMENT 'responses with status 400 or more',
    `not_found` SimpleAggregateFunction(sum, UInt64) COMMENT '404 responses',
    `bytes` SimpleAggregateFunction(sum, UInt64) COMMENT 'response bytes',
    `paths` AggregateFunction(uniq, String) COMMENT 'distinct paths; read with uniqMerge(paths)',
    `methods` SimpleAggregateFunction(groupUniqArrayArray, Array(String)),
    `flags` SimpleAggregateFunction(groupBitOr, UInt32) COMMENT 'threat signals seen (event.Flags bits)',
    `flagged` SimpleAggregateFunction(sum, UInt64) COMMENT 'requests with a threat signal',
    `first_seen` SimpleAggregateFunction(min, DateTime('UTC')),
    `last_seen` SimpleAggregateFunction(max, DateTime('UTC')) COMMENT 'the row expires retention.client_rollups after this',
    `country` SimpleAggregateFunction(anyLast, LowCardinality(String)),
    `asn` SimpleAggregateFunction(anyLast, UInt32),
    `minutes` SimpleAggregateFunction(sumMap, Tuple(Array(UInt8), Array(UInt64))) COMMENT 'requests per minute of the hour: (minutes, counts); exact per client-hour when read FINAL'
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(hour)
ORDER BY (site, hour, client_id, epoch, network_id)
TTL last_seen + INTERVAL 30 DAY
SETTINGS ttl_only_drop_parts = 1, materialize_ttl_recalculate_only = 1, fsync_after_insert = 1, fsync_part_directory = 1, min_age_to_force_merge_seconds = 3600, min_age_to_force_merge_on_partition_only = 1, non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS `vakt`.`client_activity_1h_mv` TO `vakt`.`client_activity_1h`
AS SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
GROUP BY site, hour, client_id, epoch, network_id;

INSERT INTO `vakt`.`schema_migrations` (version, name, applied_at) VALUES (3, 'client activity per hour (rollup)', now64(3));

-- migration 4: requests remember their ingest batch (exactly once across restarts)

ALTER TABLE `vakt`.`requests` ADD COLUMN IF NOT EXISTS `batch_key` UInt64 COMMENT 'hash of the ingest batch the row came from (file and byte range), 0 when none; lets a batch published again be recognised as stored' CODEC(ZSTD(1));

INSERT INTO `vakt`.`schema_migrations` (version, name, applied_at) VALUES (4, 'requests remember their ingest batch (exactly once across restarts)', now64(3));

-- migration 5: user agents dictionary-encoded (faster user-agent rules)

ALTER TABLE `vakt`.`requests` MODIFY COLUMN `user_agent` LowCardinality(String) CODEC(ZSTD(1));

INSERT INTO `vakt`.`schema_migrations` (version, name, applied_at) VALUES (5, 'user agents dictionary-encoded (faster user-agent rules)', now64(3));

-- migration 6: requests name the exploit or probe signature they matched

ALTER TABLE `vakt`.`requests` ADD COLUMN IF NOT EXISTS `signature` LowCardinality(String) COMMENT 'id of the exploit or probe signature the raw request matched (analyze/rules/signatures), empty when none';

INSERT INTO `vakt`.`schema_migrations` (version, name, applied_at) VALUES (6, 'requests name the exploit or probe signature they matched', now64(3));

-- migration 7: client threat signals per hour (rollup the rules read first), filled from the stored requests

CREATE TABLE IF NOT EXISTS `vakt`.`client_signals_1h`
(
    `site` LowCardinality(String),
    `epoch` UInt32 COMMENT 'salt epoch client_id belongs to',
    `client_id` UInt64 COMMENT 'keyed PRF of the client IP under the epoch salt',
    `hour` DateTime('UTC') COMMENT 'start of the hour; the row expires retention.client_rollups after it',
    `network_id` UInt64,
    `asn` UInt32,
    `requests` SimpleAggregateFunction(sum, UInt64),
    `flags` SimpleAggregateFunction(groupBitOr, UInt32) COMMENT 'threat signals seen (event.Flags bits)',
    `flagged` SimpleAggregateFunction(sum, UInt64) COMMENT 'requests with any flag: bounds the count of each bit',
    `refused` SimpleAggregateFunction(sum, UInt64) COMMENT 'requests refused, crawlers and monitors left out (scanning)',
    `admin_probes` SimpleAggregateFunction(sum, UInt64) COMMENT 'admin paths answered 4xx (admin-probe)',
    `failed_logins` SimpleAggregateFunction(sum, UInt64) COMMENT 'failed login POSTs, WordPress apps left out (login-brute-force)',
    `sensitive` SimpleAggregateFunction(sum, UInt64) COMMENT 'sensitive-file requests (sensitive-file-probe)',
    `tool_agents` SimpleAggregateFunction(sum, UInt64) COMMENT 'requests with a tool or empty user agent (tool-user-agent)',
    `network_signals` SimpleAggregateFunction(sum, UInt64) COMMENT 'signal requests of the distributed rules',
    `first_ts` SimpleAggregateFunction(min, DateTime64(3, 'UTC')) COMMENT 'first request in the hour',
    `last_ts` SimpleAggregateFunction(max, DateTime64(3, 'UTC')) COMMENT 'last request in the hour',
    `redirects` SimpleAggregateFunction(sum, UInt64) COMMENT 'requests answered 301, 302, 307, 308 (left out of ratios)'
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(hour)
ORDER BY (site, epoch, client_id, hour, network_id, asn)
TTL hour + INTERVAL 30 DAY
SETTINGS ttl_only_drop_parts = 1, materialize_ttl_recalculate_only = 1, fsync_after_insert = 1, fsync_part_directory = 1, min_age_to_force_merge_seconds = 3600, min_age_to_force_merge_on_partition_only = 1, non_replicated_deduplication_window = 1000;

TRUNCATE TABLE IF EXISTS `vakt`.`client_signals_1h`;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE ts < toDateTime64(today() - 32, 3, 'UTC') OR ts >= toDateTime64(today() + 1, 3, 'UTC')
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 32
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 31
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 30
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 29
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 28
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 27
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 26
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 25
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 24
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 23
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 22
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 21
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 20
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 19
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 18
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 17
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 16
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 15
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 14
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 13
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 12
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 11
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 10
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 9
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 8
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 7
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 6
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 5
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 4
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 3
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 2
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 1
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 0
GROUP BY site, epoch, client_id, hour, network_id, asn;

CREATE MATERIALIZED VIEW IF NOT EXISTS `vakt`.`client_signals_1h_mv` TO `vakt`.`client_signals_1h`
AS SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`schema_migrations` (version, name, applied_at) VALUES (7, 'client threat signals per hour (rollup the rules read first), filled from the stored requests', now64(3));

-- migration 8: site health per path per day (rollup for health's path lists), filled from the stored requests

CREATE TABLE IF NOT EXISTS `vakt`.`path_stats_1d`
(
    `site` LowCardinality(String),
    `day` Date COMMENT 'UTC day',
    `path` String CODEC(ZSTD(1)),
    `requests` SimpleAggregateFunction(sum, UInt64),
    `failures` SimpleAggregateFunction(sum, UInt64) COMMENT 'responses with status 500 or more',
    `latency_known` SimpleAggregateFunction(sum, UInt64) COMMENT 'requests that logged a request time',
    `latency` AggregateFunction(quantileTiming(0.95), UInt32) COMMENT 'request time in milliseconds; the p95 in seconds: toFloat32(quantileTimingMerge(0.95)(latency) / 1000)'
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(day)
ORDER BY (site, day, path)
TTL toDateTime(day) + INTERVAL 30 DAY
SETTINGS ttl_only_drop_parts = 1, materialize_ttl_recalculate_only = 1, fsync_after_insert = 1, fsync_part_directory = 1, min_age_to_force_merge_seconds = 3600, min_age_to_force_merge_on_partition_only = 1, non_replicated_deduplication_window = 1000;

TRUNCATE TABLE IF EXISTS `vakt`.`path_stats_1d`;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE ts < toDateTime64(today() - 32, 3, 'UTC') OR ts >= toDateTime64(today() + 1, 3, 'UTC')
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 32
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 31
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 30
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 29
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 28
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 27
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 26
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 25
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 24
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 23
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 22
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 21
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 20
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 19
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 18
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 17
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 16
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 15
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 14
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 13
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 12
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 11
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 10
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 9
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 8
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 7
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 6
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 5
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 4
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 3
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 2
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 1
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 0
GROUP BY site, day, path;

CREATE MATERIALIZED VIEW IF NOT EXISTS `vakt`.`path_stats_1d_mv` TO `vakt`.`path_stats_1d`
AS SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
GROUP BY site, day, path;

INSERT INTO `vakt`.`schema_migrations` (version, name, applied_at) VALUES (8, 'site health per path per day (rollup for health's path lists), filled from the stored requests', now64(3));

-- migration 9: site health per hour (rollup of the per-minute one), filled from it

CREATE TABLE IF NOT EXISTS `vakt`.`site_health_1h`
(
    `site` LowCardinality(String),
    `hour` DateTime('UTC') COMMENT 'start of the hour',
    `requests` SimpleAggregateFunction(sum, UInt64),
    `status_2xx` SimpleAggregateFunction(sum, UInt64),
    `status_3xx` SimpleAggregateFunction(sum, UInt64),
    `status_4xx` SimpleAggregateFunction(sum, UInt64),
    `status_5xx` SimpleAggregateFunction(sum, UInt64),
    `status_other` SimpleAggregateFunction(sum, UInt64) COMMENT 'status outside 200-599',
    `bytes` SimpleAggregateFunction(sum, UInt64) COMMENT 'response bytes',
    `flagged` SimpleAggregateFunction(sum, UInt64) COMMENT 'requests with a threat signal',
    `latency_known` SimpleAggregateFunction(sum, UInt64) COMMENT 'requests that logged a request time',
    `latency` AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Float32) COMMENT 'request time in seconds; read with quantilesTDigestMerge(levels)(latency)'
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(hour)
ORDER BY (site, hour)
TTL hour + INTERVAL 396 DAY
SETTINGS ttl_only_drop_parts = 1, materialize_ttl_recalculate_only = 1, fsync_after_insert = 1, fsync_part_directory = 1, min_age_to_force_merge_seconds = 3600, min_age_to_force_merge_on_partition_only = 1, non_replicated_deduplication_window = 1000;

TRUNCATE TABLE IF EXISTS `vakt`.`site_health_1h`;

INSERT INTO `vakt`.`site_health_1h` SETTINGS async_insert = 0
SELECT
    site,
    toStartOfHour(minute) AS hour,
    sum(requests) AS requests,
    sum(status_2xx) AS status_2xx,
    sum(status_3xx) AS status_3xx,
    sum(status_4xx) AS status_4xx,
    sum(status_5xx) AS status_5xx,
    sum(status_other) AS status_other,
    sum(bytes) AS bytes,
    sum(flagged) AS flagged,
    sum(latency_known) AS latency_known,
    quantilesTDigestMergeState(0.5, 0.9, 0.95, 0.99)(latency) AS latency
FROM `vakt`.`site_health_1m`
GROUP BY site, hour;

CREATE MATERIALIZED VIEW IF NOT EXISTS `vakt`.`site_health_1h_mv` TO `vakt`.`site_health_1h`
AS SELECT
    site,
    toStartOfHour(minute) AS hour,
    sum(requests) AS requests,
    sum(status_2xx) AS status_2xx,
    sum(status_3xx) AS status_3xx,
    sum(status_4xx) AS status_4xx,
    sum(status_5xx) AS status_5xx,
    sum(status_other) AS status_other,
    sum(bytes) AS bytes,
    sum(flagged) AS flagged,
    sum(latency_known) AS latency_known,
    quantilesTDigestMergeState(0.5, 0.9, 0.95, 0.99)(latency) AS latency
FROM `vakt`.`site_health_1m`
GROUP BY site, hour;

INSERT INTO `vakt`.`schema_migrations` (version, name, applied_at) VALUES (9, 'site health per hour (rollup of the per-minute one), filled from it', now64(3));

-- migration 10: site health per path per day with millisecond latency states (faster path lists), rebuilt from the stored requests

CREATE TABLE IF NOT EXISTS `vakt`.`path_stats_1d`
(
    `site` LowCardinality(String),
    `day` Date COMMENT 'UTC day',
    `path` String CODEC(ZSTD(1)),
    `requests` SimpleAggregateFunction(sum, UInt64),
    `failures` SimpleAggregateFunction(sum, UInt64) COMMENT 'responses with status 500 or more',
    `latency_known` SimpleAggregateFunction(sum, UInt64) COMMENT 'requests that logged a request time',
    `latency` AggregateFunction(quantileTiming(0.95), UInt32) COMMENT 'request time in milliseconds; the p95 in seconds: toFloat32(quantileTimingMerge(0.95)(latency) / 1000)'
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(day)
ORDER BY (site, day, path)
TTL toDateTime(day) + INTERVAL 30 DAY
SETTINGS ttl_only_drop_parts = 1, materialize_ttl_recalculate_only = 1, fsync_after_insert = 1, fsync_part_directory = 1, min_age_to_force_merge_seconds = 3600, min_age_to_force_merge_on_partition_only = 1, non_replicated_deduplication_window = 1000;

TRUNCATE TABLE IF EXISTS `vakt`.`path_stats_1d`;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE ts < toDateTime64(today() - 32, 3, 'UTC') OR ts >= toDateTime64(today() + 1, 3, 'UTC')
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 32
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 31
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 30
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 29
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 28
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 27
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 26
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 25
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 24
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 23
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 22
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 21
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 20
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 19
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 18
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 17
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 16
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 15
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 14
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 13
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 12
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 11
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 10
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 9
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 8
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 7
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 6
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 5
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 4
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 3
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 2
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 1
GROUP BY site, day, path;

INSERT INTO `vakt`.`path_stats_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 0
GROUP BY site, day, path;

CREATE MATERIALIZED VIEW IF NOT EXISTS `vakt`.`path_stats_1d_mv` TO `vakt`.`path_stats_1d`
AS SELECT
    site,
    toDate(ts) AS day,
    path,
    count() AS requests,
    countIf(status >= 500) AS failures,
    count(request_time) AS latency_known,
    quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time)) AS latency
FROM `vakt`.`requests`
GROUP BY site, day, path;

DROP VIEW IF EXISTS `vakt`.`path_health_1d_mv` SYNC;

DROP TABLE IF EXISTS `vakt`.`path_health_1d` SYNC;

INSERT INTO `vakt`.`schema_migrations` (version, name, applied_at) VALUES (10, 'site health per path per day with millisecond latency states (faster path lists), rebuilt from the stored requests', now64(3));

-- migration 11: requests per site, day, country, AS and user agent (rollup for the top report's lists of them), filled from the stored requests

CREATE TABLE IF NOT EXISTS `vakt`.`site_sources_1d`
(
    `site` LowCardinality(String),
    `day` Date COMMENT 'UTC day',
    `country` LowCardinality(String) COMMENT 'ISO 3166 code, empty when unknown',
    `asn` UInt32,
    `as_org` LowCardinality(String),
    `user_agent` LowCardinality(String) CODEC(ZSTD(1)),
    `requests` SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(day)
ORDER BY (site, day, country, asn, as_org, user_agent)
TTL toDateTime(day) + INTERVAL 30 DAY
SETTINGS ttl_only_drop_parts = 1, materialize_ttl_recalculate_only = 1, fsync_after_insert = 1, fsync_part_directory = 1, min_age_to_force_merge_seconds = 3600, min_age_to_force_merge_on_partition_only = 1, non_replicated_deduplication_window = 1000;

TRUNCATE TABLE IF EXISTS `vakt`.`site_sources_1d`;

INSERT INTO `vakt`.`site_sources_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
WHERE ts < toDateTime64(today() - 32, 3, 'UTC') OR ts >= toDateTime64(today() + 1, 3, 'UTC')
GROUP BY site, day, country, asn, as_org, user_agent;

INSERT INTO `vakt`.`site_sources_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 32
GROUP BY site, day, country, asn, as_org, user_agent;

INSERT INTO `vakt`.`site_sources_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 31
GROUP BY site, day, country, asn, as_org, user_agent;

INSERT INTO `vakt`.`site_sources_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 30
GROUP BY site, day, country, asn, as_org, user_agent;

INSERT INTO `vakt`.`site_sources_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 29
GROUP BY site, day, country, asn, as_org, user_agent;

INSERT INTO `vakt`.`site_sources_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 28
GROUP BY site, day, country, asn, as_org, user_agent;

INSERT INTO `vakt`.`site_sources_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 27
GROUP BY site, day, country, asn, as_org, user_agent;

INSERT INTO `vakt`.`site_sources_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 26
GROUP BY site, day, country, asn, as_org, user_agent;

INSERT INTO `vakt`.`site_sources_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 25
GROUP BY site, day, country, asn, as_org, user_agent;

INSERT INTO `vakt`.`site_sources_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 24
GROUP BY site, day, country, asn, as_org, user_agent;

INSERT INTO `vakt`.`site_sources_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 23
GROUP BY site, day, country, asn, as_org, user_agent;

INSERT INTO `vakt`.`site_sources_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 22
GROUP BY site, day, country, asn, as_org, user_agent;

INSERT INTO `vakt`.`site_sources_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 21
GROUP BY site, day, country, asn, as_org, user_agent;

INSERT INTO `vakt`.`site_sources_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 20
GROUP BY site, day, country, asn, as_org, user_agent;

INSERT INTO `vakt`.`site_sources_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 19
GROUP BY site, day, country, asn, as_org, user_agent;

INSERT INTO `vakt`.`site_sources_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 18
GROUP BY site, day, country, asn, as_org, user_agent;

INSERT INTO `vakt`.`site_sources_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 17
GROUP BY site, day, country, asn, as_org, user_agent;

INSERT INTO `vakt`.`site_sources_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 16
GROUP BY site, day, country, asn, as_org, user_agent;

INSERT INTO `vakt`.`site_sources_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 15
GROUP BY site, day, country, asn, as_org, user_agent;

INSERT INTO `vakt`.`site_sources_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 14
GROUP BY site, day, country, asn, as_org, user_agent;

INSERT INTO `vakt`.`site_sources_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 13
GROUP BY site, day, country, asn, as_org, user_agent;

INSERT INTO `vakt`.`site_sources_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 12
GROUP BY site, day, country, asn, as_org, user_agent;

INSERT INTO `vakt`.`site_sources_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 11
GROUP BY site, day, country, asn, as_org, user_agent;

INSERT INTO `vakt`.`site_sources_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 10
GROUP BY site, day, country, asn, as_org, user_agent;

INSERT INTO `vakt`.`site_sources_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 9
GROUP BY site, day, country, asn, as_org, user_agent;

INSERT INTO `vakt`.`site_sources_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 8
GROUP BY site, day, country, asn, as_org, user_agent;

INSERT INTO `vakt`.`site_sources_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 7
GROUP BY site, day, country, asn, as_org, user_agent;

INSERT INTO `vakt`.`site_sources_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 6
GROUP BY site, day, country, asn, as_org, user_agent;

INSERT INTO `vakt`.`site_sources_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 5
GROUP BY site, day, country, asn, as_org, user_agent;

INSERT INTO `vakt`.`site_sources_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 4
GROUP BY site, day, country, asn, as_org, user_agent;

INSERT INTO `vakt`.`site_sources_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 3
GROUP BY site, day, country, asn, as_org, user_agent;

INSERT INTO `vakt`.`site_sources_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 2
GROUP BY site, day, country, asn, as_org, user_agent;

INSERT INTO `vakt`.`site_sources_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 1
GROUP BY site, day, country, asn, as_org, user_agent;

INSERT INTO `vakt`.`site_sources_1d` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 0
GROUP BY site, day, country, asn, as_org, user_agent;

CREATE MATERIALIZED VIEW IF NOT EXISTS `vakt`.`site_sources_1d_mv` TO `vakt`.`site_sources_1d`
AS SELECT
    site,
    toDate(ts) AS day,
    country,
    asn,
    as_org,
    user_agent,
    count() AS requests
FROM `vakt`.`requests`
GROUP BY site, day, country, asn, as_org, user_agent;

INSERT INTO `vakt`.`schema_migrations` (version, name, applied_at) VALUES (11, 'requests per site, day, country, AS and user agent (rollup for the top report's lists of them), filled from the stored requests', now64(3));

-- migration 12: client threat signals per hour keep the hour's first and last request and redirects, client activity per hour its requests per minute, and the requests with a signal are kept apart by client (rules read their offenders' evidence there), all filled from the stored requests

DROP VIEW IF EXISTS `vakt`.`client_signals_1h_mv` SYNC;

DROP VIEW IF EXISTS `vakt`.`client_activity_1h_mv` SYNC;

ALTER TABLE `vakt`.`client_signals_1h` ADD COLUMN IF NOT EXISTS `first_ts` SimpleAggregateFunction(min, DateTime64(3, 'UTC')) COMMENT 'first request in the hour';

ALTER TABLE `vakt`.`client_signals_1h` ADD COLUMN IF NOT EXISTS `last_ts` SimpleAggregateFunction(max, DateTime64(3, 'UTC')) COMMENT 'last request in the hour';

ALTER TABLE `vakt`.`client_signals_1h` ADD COLUMN IF NOT EXISTS `redirects` SimpleAggregateFunction(sum, UInt64) COMMENT 'requests answered 301, 302, 307, 308 (left out of ratios)';

ALTER TABLE `vakt`.`client_activity_1h` ADD COLUMN IF NOT EXISTS `minutes` SimpleAggregateFunction(sumMap, Tuple(Array(UInt8), Array(UInt64))) COMMENT 'requests per minute of the hour: (minutes, counts); exact per client-hour when read FINAL';

CREATE TABLE IF NOT EXISTS `vakt`.`client_signals_1h`
(
    `site` LowCardinality(String),
    `epoch` UInt32 COMMENT 'salt epoch client_id belongs to',
    `client_id` UInt64 COMMENT 'keyed PRF of the client IP under the epoch salt',
    `hour` DateTime('UTC') COMMENT 'start of the hour; the row expires retention.client_rollups after it',
    `network_id` UInt64,
    `asn` UInt32,
    `requests` SimpleAggregateFunction(sum, UInt64),
    `flags` SimpleAggregateFunction(groupBitOr, UInt32) COMMENT 'threat signals seen (event.Flags bits)',
    `flagged` SimpleAggregateFunction(sum, UInt64) COMMENT 'requests with any flag: bounds the count of each bit',
    `refused` SimpleAggregateFunction(sum, UInt64) COMMENT 'requests refused, crawlers and monitors left out (scanning)',
    `admin_probes` SimpleAggregateFunction(sum, UInt64) COMMENT 'admin paths answered 4xx (admin-probe)',
    `failed_logins` SimpleAggregateFunction(sum, UInt64) COMMENT 'failed login POSTs, WordPress apps left out (login-brute-force)',
    `sensitive` SimpleAggregateFunction(sum, UInt64) COMMENT 'sensitive-file requests (sensitive-file-probe)',
    `tool_agents` SimpleAggregateFunction(sum, UInt64) COMMENT 'requests with a tool or empty user agent (tool-user-agent)',
    `network_signals` SimpleAggregateFunction(sum, UInt64) COMMENT 'signal requests of the distributed rules',
    `first_ts` SimpleAggregateFunction(min, DateTime64(3, 'UTC')) COMMENT 'first request in the hour',
    `last_ts` SimpleAggregateFunction(max, DateTime64(3, 'UTC')) COMMENT 'last request in the hour',
    `redirects` SimpleAggregateFunction(sum, UInt64) COMMENT 'requests answered 301, 302, 307, 308 (left out of ratios)'
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(hour)
ORDER BY (site, epoch, client_id, hour, network_id, asn)
TTL hour + INTERVAL 30 DAY
SETTINGS ttl_only_drop_parts = 1, materialize_ttl_recalculate_only = 1, fsync_after_insert = 1, fsync_part_directory = 1, min_age_to_force_merge_seconds = 3600, min_age_to_force_merge_on_partition_only = 1, non_replicated_deduplication_window = 1000;

TRUNCATE TABLE IF EXISTS `vakt`.`client_signals_1h`;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE ts < toDateTime64(today() - 32, 3, 'UTC') OR ts >= toDateTime64(today() + 1, 3, 'UTC')
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 32
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 31
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 30
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 29
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 28
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 27
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 26
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 25
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 24
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 23
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 22
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 21
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 20
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 19
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 18
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 17
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 16
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 15
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 14
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 13
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 12
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 11
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 10
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 9
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 8
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 7
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 6
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 5
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 4
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 3
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 2
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 1
GROUP BY site, epoch, client_id, hour, network_id, asn;

INSERT INTO `vakt`.`client_signals_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 0
GROUP BY site, epoch, client_id, hour, network_id, asn;

CREATE MATERIALIZED VIEW IF NOT EXISTS `vakt`.`client_signals_1h_mv` TO `vakt`.`client_signals_1h`
AS SELECT
    site,
    epoch,
    client_id,
    toStartOfHour(ts) AS hour,
    network_id,
    asn,
    count() AS requests,
    groupBitOr(r.flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    countIf((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(r.flags, 256) = 0) AS refused,
    countIf(status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)')) AS admin_probes,
    countIf(method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(r.flags, 256) = 0) AS failed_logins,
    countIf(bitAnd(r.flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)')) AS sensitive,
    countIf(match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != '')) AS tool_agents,
    countIf(bitAnd(r.flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))) AS network_signals,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    countIf(status IN (301, 302, 307, 308)) AS redirects
FROM `vakt`.`requests` AS r
GROUP BY site, epoch, client_id, hour, network_id, asn;

CREATE TABLE IF NOT EXISTS `vakt`.`client_activity_1h`
(
    `site` LowCardinality(String),
    `hour` DateTime('UTC') COMMENT 'start of the hour',
    `client_id` UInt64 COMMENT 'keyed PRF of the client IP under the epoch salt',
    `epoch` UInt32 COMMENT 'salt epoch client_id belongs to',
    `network_id` UInt64,
    `requests` SimpleAggregateFunction(sum, UInt64),
    `errors` SimpleAggregateFunction(sum, UInt64) COMMENT 'responses with status 400 or more',
    `not_found` SimpleAggregateFunction(sum, UInt64) COMMENT '404 responses',
    `bytes` SimpleAggregateFunction(sum, UInt64) COMMENT 'response bytes',
    `paths` AggregateFunction(uniq, String) COMMENT 'distinct paths; read with uniqMerge(paths)',
    `methods` SimpleAggregateFunction(groupUniqArrayArray, Array(String)),
    `flags` SimpleAggregateFunction(groupBitOr, UInt32) COMMENT 'threat signals seen (event.Flags bits)',
    `flagged` SimpleAggregateFunction(sum, UInt64) COMMENT 'requests with a threat signal',
    `first_seen` SimpleAggregateFunction(min, DateTime('UTC')),
    `last_seen` SimpleAggregateFunction(max, DateTime('UTC')) COMMENT 'the row expires retention.client_rollups after this',
    `country` SimpleAggregateFunction(anyLast, LowCardinality(String)),
    `asn` SimpleAggregateFunction(anyLast, UInt32),
    `minutes` SimpleAggregateFunction(sumMap, Tuple(Array(UInt8), Array(UInt64))) COMMENT 'requests per minute of the hour: (minutes, counts); exact per client-hour when read FINAL'
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(hour)
ORDER BY (site, hour, client_id, epoch, network_id)
TTL last_seen + INTERVAL 30 DAY
SETTINGS ttl_only_drop_parts = 1, materialize_ttl_recalculate_only = 1, fsync_after_insert = 1, fsync_part_directory = 1, min_age_to_force_merge_seconds = 3600, min_age_to_force_merge_on_partition_only = 1, non_replicated_deduplication_window = 1000;

TRUNCATE TABLE IF EXISTS `vakt`.`client_activity_1h`;

INSERT INTO `vakt`.`client_activity_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
WHERE ts < toDateTime64(today() - 32, 3, 'UTC') OR ts >= toDateTime64(today() + 1, 3, 'UTC')
GROUP BY site, hour, client_id, epoch, network_id;

INSERT INTO `vakt`.`client_activity_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 32
GROUP BY site, hour, client_id, epoch, network_id;

INSERT INTO `vakt`.`client_activity_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 31
GROUP BY site, hour, client_id, epoch, network_id;

INSERT INTO `vakt`.`client_activity_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 30
GROUP BY site, hour, client_id, epoch, network_id;

INSERT INTO `vakt`.`client_activity_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 29
GROUP BY site, hour, client_id, epoch, network_id;

INSERT INTO `vakt`.`client_activity_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 28
GROUP BY site, hour, client_id, epoch, network_id;

INSERT INTO `vakt`.`client_activity_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 27
GROUP BY site, hour, client_id, epoch, network_id;

INSERT INTO `vakt`.`client_activity_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 26
GROUP BY site, hour, client_id, epoch, network_id;

INSERT INTO `vakt`.`client_activity_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 25
GROUP BY site, hour, client_id, epoch, network_id;

INSERT INTO `vakt`.`client_activity_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 24
GROUP BY site, hour, client_id, epoch, network_id;

INSERT INTO `vakt`.`client_activity_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 23
GROUP BY site, hour, client_id, epoch, network_id;

INSERT INTO `vakt`.`client_activity_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 22
GROUP BY site, hour, client_id, epoch, network_id;

INSERT INTO `vakt`.`client_activity_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 21
GROUP BY site, hour, client_id, epoch, network_id;

INSERT INTO `vakt`.`client_activity_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 20
GROUP BY site, hour, client_id, epoch, network_id;

INSERT INTO `vakt`.`client_activity_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 19
GROUP BY site, hour, client_id, epoch, network_id;

INSERT INTO `vakt`.`client_activity_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 18
GROUP BY site, hour, client_id, epoch, network_id;

INSERT INTO `vakt`.`client_activity_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 17
GROUP BY site, hour, client_id, epoch, network_id;

INSERT INTO `vakt`.`client_activity_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 16
GROUP BY site, hour, client_id, epoch, network_id;

INSERT INTO `vakt`.`client_activity_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 15
GROUP BY site, hour, client_id, epoch, network_id;

INSERT INTO `vakt`.`client_activity_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 14
GROUP BY site, hour, client_id, epoch, network_id;

INSERT INTO `vakt`.`client_activity_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 13
GROUP BY site, hour, client_id, epoch, network_id;

INSERT INTO `vakt`.`client_activity_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 12
GROUP BY site, hour, client_id, epoch, network_id;

INSERT INTO `vakt`.`client_activity_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 11
GROUP BY site, hour, client_id, epoch, network_id;

INSERT INTO `vakt`.`client_activity_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 10
GROUP BY site, hour, client_id, epoch, network_id;

INSERT INTO `vakt`.`client_activity_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 9
GROUP BY site, hour, client_id, epoch, network_id;

INSERT INTO `vakt`.`client_activity_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 8
GROUP BY site, hour, client_id, epoch, network_id;

INSERT INTO `vakt`.`client_activity_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 7
GROUP BY site, hour, client_id, epoch, network_id;

INSERT INTO `vakt`.`client_activity_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 6
GROUP BY site, hour, client_id, epoch, network_id;

INSERT INTO `vakt`.`client_activity_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 5
GROUP BY site, hour, client_id, epoch, network_id;

INSERT INTO `vakt`.`client_activity_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 4
GROUP BY site, hour, client_id, epoch, network_id;

INSERT INTO `vakt`.`client_activity_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 3
GROUP BY site, hour, client_id, epoch, network_id;

INSERT INTO `vakt`.`client_activity_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 2
GROUP BY site, hour, client_id, epoch, network_id;

INSERT INTO `vakt`.`client_activity_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 1
GROUP BY site, hour, client_id, epoch, network_id;

INSERT INTO `vakt`.`client_activity_1h` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
WHERE toDate(ts, 'UTC') = today() - 0
GROUP BY site, hour, client_id, epoch, network_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS `vakt`.`client_activity_1h_mv` TO `vakt`.`client_activity_1h`
AS SELECT
    site,
    toStartOfHour(ts) AS hour,
    client_id,
    epoch,
    network_id,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status = 404) AS not_found,
    sum(bytes) AS bytes,
    uniqState(path) AS paths,
    groupUniqArray(toString(method)) AS methods,
    groupBitOr(flags) AS flags,
    countIf(r.flags != 0) AS flagged,
    min(toDateTime(ts)) AS first_seen,
    max(toDateTime(ts)) AS last_seen,
    anyLast(country) AS country,
    anyLast(asn) AS asn,
    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes
FROM `vakt`.`requests` AS r
GROUP BY site, hour, client_id, epoch, network_id;

CREATE TABLE IF NOT EXISTS `vakt`.`signal_requests`
(
    `ts` DateTime64(3, 'UTC') COMMENT 'request time, UTC' CODEC(T64, ZSTD(1)),
    `site` LowCardinality(String) COMMENT 'site the request was logged for',
    `epoch` UInt32 COMMENT 'salt epoch client_id and network_id belong to',
    `client_id` UInt64 COMMENT 'keyed PRF of the client IP under the epoch salt' CODEC(Delta(8), ZSTD(1)),
    `network_id` UInt64 COMMENT 'keyed PRF of the /24 or /48 prefix under the epoch salt',
    `country` LowCardinality(String) COMMENT 'ISO 3166 code, empty when unknown',
    `asn` UInt32,
    `method` LowCardinality(String),
    `path` String CODEC(ZSTD(1)),
    `status` UInt16 CODEC(ZSTD(1)),
    `user_agent` LowCardinality(String) CODEC(ZSTD(1)),
    `flags` UInt32 COMMENT 'threat signal bits (event.Flags)',
    `signature` LowCardinality(String) COMMENT 'id of the exploit or probe signature the raw request matched (analyze/rules/signatures), empty when none'
)
ENGINE = MergeTree
PARTITION BY toDate(ts)
ORDER BY (site, epoch, client_id, ts)
TTL toDateTime(ts) + INTERVAL 30 DAY
SETTINGS ttl_only_drop_parts = 1, materialize_ttl_recalculate_only = 1, fsync_after_insert = 1, fsync_part_directory = 1, min_age_to_force_merge_seconds = 3600, min_age_to_force_merge_on_partition_only = 1, non_replicated_deduplication_window = 1000;

TRUNCATE TABLE IF EXISTS `vakt`.`signal_requests`;

INSERT INTO `vakt`.`signal_requests` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (ts < toDateTime64(today() - 32, 3, 'UTC') OR ts >= toDateTime64(today() + 1, 3, 'UTC'))
  AND ((flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))));

INSERT INTO `vakt`.`signal_requests` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (toDate(ts, 'UTC') = today() - 32)
  AND ((flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))));

INSERT INTO `vakt`.`signal_requests` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (toDate(ts, 'UTC') = today() - 31)
  AND ((flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))));

INSERT INTO `vakt`.`signal_requests` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (toDate(ts, 'UTC') = today() - 30)
  AND ((flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))));

INSERT INTO `vakt`.`signal_requests` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (toDate(ts, 'UTC') = today() - 29)
  AND ((flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))));

INSERT INTO `vakt`.`signal_requests` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (toDate(ts, 'UTC') = today() - 28)
  AND ((flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))));

INSERT INTO `vakt`.`signal_requests` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (toDate(ts, 'UTC') = today() - 27)
  AND ((flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))));

INSERT INTO `vakt`.`signal_requests` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (toDate(ts, 'UTC') = today() - 26)
  AND ((flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))));

INSERT INTO `vakt`.`signal_requests` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (toDate(ts, 'UTC') = today() - 25)
  AND ((flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))));

INSERT INTO `vakt`.`signal_requests` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (toDate(ts, 'UTC') = today() - 24)
  AND ((flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))));

INSERT INTO `vakt`.`signal_requests` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (toDate(ts, 'UTC') = today() - 23)
  AND ((flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))));

INSERT INTO `vakt`.`signal_requests` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (toDate(ts, 'UTC') = today() - 22)
  AND ((flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))));

INSERT INTO `vakt`.`signal_requests` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (toDate(ts, 'UTC') = today() - 21)
  AND ((flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))));

INSERT INTO `vakt`.`signal_requests` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (toDate(ts, 'UTC') = today() - 20)
  AND ((flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))));

INSERT INTO `vakt`.`signal_requests` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (toDate(ts, 'UTC') = today() - 19)
  AND ((flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))));

INSERT INTO `vakt`.`signal_requests` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (toDate(ts, 'UTC') = today() - 18)
  AND ((flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))));

INSERT INTO `vakt`.`signal_requests` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (toDate(ts, 'UTC') = today() - 17)
  AND ((flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))));

INSERT INTO `vakt`.`signal_requests` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (toDate(ts, 'UTC') = today() - 16)
  AND ((flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))));

INSERT INTO `vakt`.`signal_requests` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (toDate(ts, 'UTC') = today() - 15)
  AND ((flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))));

INSERT INTO `vakt`.`signal_requests` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (toDate(ts, 'UTC') = today() - 14)
  AND ((flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))));

INSERT INTO `vakt`.`signal_requests` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (toDate(ts, 'UTC') = today() - 13)
  AND ((flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))));

INSERT INTO `vakt`.`signal_requests` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (toDate(ts, 'UTC') = today() - 12)
  AND ((flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))));

INSERT INTO `vakt`.`signal_requests` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (toDate(ts, 'UTC') = today() - 11)
  AND ((flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))));

INSERT INTO `vakt`.`signal_requests` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (toDate(ts, 'UTC') = today() - 10)
  AND ((flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))));

INSERT INTO `vakt`.`signal_requests` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (toDate(ts, 'UTC') = today() - 9)
  AND ((flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))));

INSERT INTO `vakt`.`signal_requests` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (toDate(ts, 'UTC') = today() - 8)
  AND ((flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))));

INSERT INTO `vakt`.`signal_requests` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (toDate(ts, 'UTC') = today() - 7)
  AND ((flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))));

INSERT INTO `vakt`.`signal_requests` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (toDate(ts, 'UTC') = today() - 6)
  AND ((flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))));

INSERT INTO `vakt`.`signal_requests` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (toDate(ts, 'UTC') = today() - 5)
  AND ((flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))));

INSERT INTO `vakt`.`signal_requests` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (toDate(ts, 'UTC') = today() - 4)
  AND ((flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))));

INSERT INTO `vakt`.`signal_requests` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (toDate(ts, 'UTC') = today() - 3)
  AND ((flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))));

INSERT INTO `vakt`.`signal_requests` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (toDate(ts, 'UTC') = today() - 2)
  AND ((flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))));

INSERT INTO `vakt`.`signal_requests` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (toDate(ts, 'UTC') = today() - 1)
  AND ((flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))));

INSERT INTO `vakt`.`signal_requests` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (toDate(ts, 'UTC') = today() - 0)
  AND ((flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)'))));

CREATE MATERIALIZED VIEW IF NOT EXISTS `vakt`.`signal_requests_mv` TO `vakt`.`signal_requests`
AS SELECT ts, site, epoch, client_id, network_id, country, asn, method, path, status, user_agent, flags, signature
FROM `vakt`.`requests`
WHERE (flags != 0)
    OR (method = 'CONNECT')
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)'))
    OR ((status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500) AND bitAnd(flags, 256) = 0)
    OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)'))
    OR (method = 'POST' AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)') AND (status IN (401, 403) OR (status = 200 AND match(path, '(?i)(wp-login\\.php|xmlrpc\\.php)$'))) AND bitAnd(flags, 256) = 0)
    OR (bitAnd(flags, 16) != 0 OR match(path, '(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)'))
    OR (match(user_agent, '(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)') OR (user_agent IN ('', '-') AND method != ''))
    OR (bitAnd(flags, 55) != 0 OR (method = 'POST' AND status IN (401, 403) AND match(path, '(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)')) OR (status >= 400 AND status < 500 AND match(path, '(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)')));

INSERT INTO `vakt`.`schema_migrations` (version, name, applied_at) VALUES (12, 'client threat signals per hour keep the hour's first and last request and redirects, client activity per hour its requests per minute, and the requests with a signal are kept apart by client (rules read their offenders' evidence there), all filled from the stored requests', now64(3));

-- migration 13: every table merges each past day into one part (faster reads, FINAL without merging at query time)

ALTER TABLE `vakt`.`requests` MODIFY SETTING min_age_to_force_merge_seconds = 3600, min_age_to_force_merge_on_partition_only = 1;

ALTER TABLE `vakt`.`client_activity_1h` MODIFY SETTING min_age_to_force_merge_seconds = 3600, min_age_to_force_merge_on_partition_only = 1;

ALTER TABLE `vakt`.`site_health_1m` MODIFY SETTING min_age_to_force_merge_seconds = 3600, min_age_to_force_merge_on_partition_only = 1;

ALTER TABLE `vakt`.`path_stats_1d` MODIFY SETTING min_age_to_force_merge_seconds = 3600, min_age_to_force_merge_on_partition_only = 1;

ALTER TABLE `vakt`.`site_health_1h` MODIFY SETTING min_age_to_force_merge_seconds = 3600, min_age_to_force_merge_on_partition_only = 1;

ALTER TABLE `vakt`.`client_signals_1h` MODIFY SETTING min_age_to_force_merge_seconds = 3600, min_age_to_force_merge_on_partition_only = 1;

ALTER TABLE `vakt`.`site_sources_1d` MODIFY SETTING min_age_to_force_merge_seconds = 3600, min_age_to_force_merge_on_partition_only = 1;

ALTER TABLE `vakt`.`signal_requests` MODIFY SETTING min_age_to_force_merge_seconds = 3600, min_age_to_force_merge_on_partition_only = 1;

INSERT INTO `vakt`.`schema_migrations` (version, name, applied_at) VALUES (13, 'every table merges each past day into one part (faster reads, FINAL without merging at query time)', now64(3));

-- migration 14: requests per salt epoch (rollup), filled from the stored requests, and the findings of rules that judge each epoch on its own rows, kept per epoch (faster reports over days)

CREATE TABLE IF NOT EXISTS `vakt`.`epoch_rows`
(
    `site` LowCardinality(String),
    `day` Date COMMENT 'UTC day of the requests',
    `epoch` UInt32 COMMENT 'salt epoch',
    `requests` SimpleAggregateFunction(sum, UInt64),
    `first_ts` SimpleAggregateFunction(min, DateTime('UTC')) COMMENT 'first request (to the second, rounded down)',
    `end_ts` SimpleAggregateFunction(max, DateTime('UTC')) COMMENT 'just after the last request (to the second, rounded up); the row expires retention.requests after it'
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(day)
ORDER BY (day, epoch, site)
TTL end_ts + INTERVAL 30 DAY
SETTINGS ttl_only_drop_parts = 1, materialize_ttl_recalculate_only = 1, fsync_after_insert = 1, fsync_part_directory = 1, min_age_to_force_merge_seconds = 3600, min_age_to_force_merge_on_partition_only = 1, non_replicated_deduplication_window = 1000;

TRUNCATE TABLE IF EXISTS `vakt`.`epoch_rows`;

INSERT INTO `vakt`.`epoch_rows` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
WHERE ts < toDateTime64(today() - 32, 3, 'UTC') OR ts >= toDateTime64(today() + 1, 3, 'UTC')
GROUP BY site, day, epoch;

INSERT INTO `vakt`.`epoch_rows` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 32
GROUP BY site, day, epoch;

INSERT INTO `vakt`.`epoch_rows` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 31
GROUP BY site, day, epoch;

INSERT INTO `vakt`.`epoch_rows` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 30
GROUP BY site, day, epoch;

INSERT INTO `vakt`.`epoch_rows` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 29
GROUP BY site, day, epoch;

INSERT INTO `vakt`.`epoch_rows` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 28
GROUP BY site, day, epoch;

INSERT INTO `vakt`.`epoch_rows` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 27
GROUP BY site, day, epoch;

INSERT INTO `vakt`.`epoch_rows` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 26
GROUP BY site, day, epoch;

INSERT INTO `vakt`.`epoch_rows` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 25
GROUP BY site, day, epoch;

INSERT INTO `vakt`.`epoch_rows` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 24
GROUP BY site, day, epoch;

INSERT INTO `vakt`.`epoch_rows` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 23
GROUP BY site, day, epoch;

INSERT INTO `vakt`.`epoch_rows` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 22
GROUP BY site, day, epoch;

INSERT INTO `vakt`.`epoch_rows` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 21
GROUP BY site, day, epoch;

INSERT INTO `vakt`.`epoch_rows` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 20
GROUP BY site, day, epoch;

INSERT INTO `vakt`.`epoch_rows` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 19
GROUP BY site, day, epoch;

INSERT INTO `vakt`.`epoch_rows` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 18
GROUP BY site, day, epoch;

INSERT INTO `vakt`.`epoch_rows` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 17
GROUP BY site, day, epoch;

INSERT INTO `vakt`.`epoch_rows` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 16
GROUP BY site, day, epoch;

INSERT INTO `vakt`.`epoch_rows` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 15
GROUP BY site, day, epoch;

INSERT INTO `vakt`.`epoch_rows` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 14
GROUP BY site, day, epoch;

INSERT INTO `vakt`.`epoch_rows` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 13
GROUP BY site, day, epoch;

INSERT INTO `vakt`.`epoch_rows` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 12
GROUP BY site, day, epoch;

INSERT INTO `vakt`.`epoch_rows` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 11
GROUP BY site, day, epoch;

INSERT INTO `vakt`.`epoch_rows` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 10
GROUP BY site, day, epoch;

INSERT INTO `vakt`.`epoch_rows` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 9
GROUP BY site, day, epoch;

INSERT INTO `vakt`.`epoch_rows` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 8
GROUP BY site, day, epoch;

INSERT INTO `vakt`.`epoch_rows` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 7
GROUP BY site, day, epoch;

INSERT INTO `vakt`.`epoch_rows` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 6
GROUP BY site, day, epoch;

INSERT INTO `vakt`.`epoch_rows` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 5
GROUP BY site, day, epoch;

INSERT INTO `vakt`.`epoch_rows` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 4
GROUP BY site, day, epoch;

INSERT INTO `vakt`.`epoch_rows` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 3
GROUP BY site, day, epoch;

INSERT INTO `vakt`.`epoch_rows` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 2
GROUP BY site, day, epoch;

INSERT INTO `vakt`.`epoch_rows` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 1
GROUP BY site, day, epoch;

INSERT INTO `vakt`.`epoch_rows` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
WHERE toDate(ts, 'UTC') = today() - 0
GROUP BY site, day, epoch;

CREATE MATERIALIZED VIEW IF NOT EXISTS `vakt`.`epoch_rows_mv` TO `vakt`.`epoch_rows`
AS SELECT
    site,
    toDate(ts) AS day,
    epoch,
    count() AS requests,
    min(toDateTime(ts)) AS first_ts,
    max(toDateTime(ts) + 1) AS end_ts
FROM `vakt`.`requests`
GROUP BY site, day, epoch;

CREATE TABLE IF NOT EXISTS `vakt`.`rule_results`
(
    `rule` LowCardinality(String),
    `rule_hash` UInt64 COMMENT 'hash of the rule definition and thresholds',
    `epoch` UInt32 COMMENT 'salt epoch',
    `fingerprint` UInt64 COMMENT 'hash of the request count and restricted clients of the epoch when evaluated',
    `end_ts` DateTime('UTC') COMMENT 'end_ts of the epoch (EpochsTable): the row expires retention.requests after it',
    `evaluated_at` DateTime64(3, 'UTC'),
    `kept` String COMMENT 'the offenders found (JSON), or the rows of the epoch stage of the rule (text of an Array(Tuple))' CODEC(ZSTD(3)),
    `structure` String COMMENT 'type of the stage rows in kept; empty for findings'
)
ENGINE = ReplacingMergeTree(evaluated_at)
PARTITION BY toDate(end_ts)
ORDER BY (rule, rule_hash, epoch)
TTL end_ts + INTERVAL 30 DAY
SETTINGS ttl_only_drop_parts = 1, materialize_ttl_recalculate_only = 1, fsync_after_insert = 1, fsync_part_directory = 1, min_age_to_force_merge_seconds = 3600, min_age_to_force_merge_on_partition_only = 1, non_replicated_deduplication_window = 1000;

INSERT INTO `vakt`.`schema_migrations` (version, name, applied_at) VALUES (14, 'requests per salt epoch (rollup), filled from the stored requests, and the findings of rules that judge each epoch on its own rows, kept per epoch (faster reports over days)', now64(3));

-- migration 15: site health per path per week (rollup of the daily one, for path lists over weeks), filled from it

CREATE TABLE IF NOT EXISTS `vakt`.`path_stats_1w`
(
    `site` LowCardinality(String),
    `week` Date COMMENT 'Monday of the UTC week',
    `path` String CODEC(ZSTD(1)),
    `requests` SimpleAggregateFunction(sum, UInt64),
    `failures` SimpleAggregateFunction(sum, UInt64) COMMENT 'responses with status 500 or more',
    `latency_known` SimpleAggregateFunction(sum, UInt64) COMMENT 'requests that logged a request time',
    `latency` AggregateFunction(quantileTiming(0.95), UInt32) COMMENT 'request time in milliseconds; the p95 in seconds: toFloat32(quantileTimingMerge(0.95)(latency) / 1000)'
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(week)
ORDER BY (site, week, path)
TTL toDateTime(week) + INTERVAL 30 DAY
SETTINGS ttl_only_drop_parts = 1, materialize_ttl_recalculate_only = 1, fsync_after_insert = 1, fsync_part_directory = 1, min_age_to_force_merge_seconds = 3600, min_age_to_force_merge_on_partition_only = 1, non_replicated_deduplication_window = 1000;

TRUNCATE TABLE IF EXISTS `vakt`.`path_stats_1w`;

INSERT INTO `vakt`.`path_stats_1w` SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912
SELECT
    site,
    toMonday(day) AS week,
    path,
    sum(requests) AS requests,
    sum(failures) AS failures,
    sum(latency_known) AS latency_known,
    quantileTimingMergeState(0.95)(latency) AS latency
FROM `vakt`.`path_stats_1d`
GROUP BY site, week, path;

CREATE MATERIALIZED VIEW IF NOT EXISTS `vakt`.`path_stats_1w_mv` TO `vakt`.`path_stats_1w`
AS SELECT
    site,
    toMonday(day) AS week,
    path,
    sum(requests) AS requests,
    sum(failures) AS failures,
    sum(latency_known) AS latency_known,
    quantileTimingMergeState(0.95)(latency) AS latency
FROM `vakt`.`path_stats_1d`
GROUP BY site, week, path;

INSERT INTO `vakt`.`schema_migrations` (version, name, applied_at) VALUES (15, 'site health per path per week (rollup of the daily one, for path lists over weeks), filled from it', now64(3));

-- retention.requests: 7d, retention.client_rollups: 7d, retention.health_rollups: 90d

ALTER TABLE `vakt`.`requests` MODIFY TTL toDateTime(ts) + INTERVAL 7 DAY;
ALTER TABLE `vakt`.`client_activity_1h` MODIFY TTL last_seen + INTERVAL 7 DAY;
ALTER TABLE `vakt`.`site_health_1m` MODIFY TTL minute + INTERVAL 90 DAY;
ALTER TABLE `vakt`.`path_stats_1d` MODIFY TTL toDateTime(day) + INTERVAL 7 DAY;
ALTER TABLE `vakt`.`path_stats_1w` MODIFY TTL toDateTime(week) + INTERVAL 7 DAY;
ALTER TABLE `vakt`.`site_health_1h` MODIFY TTL hour + INTERVAL 7 DAY;
ALTER TABLE `vakt`.`client_signals_1h` MODIFY TTL hour + INTERVAL 7 DAY;
ALTER TABLE `vakt`.`site_sources_1d` MODIFY TTL toDateTime(day) + INTERVAL 7 DAY;
ALTER TABLE `vakt`.`signal_requests` MODIFY TTL toDateTime(ts) + INTERVAL 7 DAY;
ALTER TABLE `vakt`.`epoch_rows` MODIFY TTL end_ts + INTERVAL 7 DAY;
ALTER TABLE `vakt`.`rule_results` MODIFY TTL end_ts + INTERVAL 7 DAY;
