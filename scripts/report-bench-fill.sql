-- 30 days of synthetic traffic for the report benchmark (BENCHMARKS.md,
-- "Reports over 30 M rows"): 30,000,903 rows ending now, about 1 M a day.
-- Run by scripts/report-bench-fill.sh (which sets {first_session} and
-- {sessions}: 2,722,900 sessions make 30 M rows) through `vakt sql` on a
-- migrated store; the rollup views fill as in production. Deterministic
-- apart from now().
--
-- Sessions, not single requests: a visitor's requests come a few seconds
-- apart. Visitors are Zipf-like (a few crawlers and regulars, a long tail);
-- ids are per salt epoch (a UTC day), 16 visitors per network, 12 sites.
-- 0.4 % of sessions are attacks: scanners, sensitive-file and admin probes,
-- traversal, SQL injection, XSS, password guessing, attack-tool and script
-- user agents, floods, botnets spread over one network, and single stray
-- probes (near misses). Flags are set as the pseudonymiser would.
INSERT INTO vakt.requests (ts, site, client_id, network_id, ip_version, epoch, country, asn, as_org,
    method, path, query, protocol, status, bytes, referrer, user_agent, host, request_time, upstream_time, flags)
SELECT
    ts, site, cityHash64(epoch, visitor) AS client_id, cityHash64(epoch, 'net', net) AS network_id,
    if(visitor % 4 = 3, 6, 4) AS ip_version, epoch, country, asn, '' AS as_org,
    method, path, '' AS query, 'HTTP/1.1' AS protocol, status,
    if(status = 304, 0, 2000 + r3 % 60000) AS bytes, '' AS referrer, user_agent, site AS host,
    if(site = 'status.example.org', NULL, request_time) AS request_time, NULL AS upstream_time, flags
FROM
(
    SELECT *,
        toUInt32(intDiv(toUnixTimestamp(ts), 86400)) AS epoch,
        ['www.example.org', 'www.example.org', 'www.example.org', 'www.example.org', 'shop.example.org', 'shop.example.org',
         'shop.example.org', 'api.example.org', 'api.example.org', 'blog.example.org', 'docs.example.org', 'status.example.org',
         'm.example.org', 'm.example.org', 'cdn.example.org', 'cdn.example.org', 'intranet.example.org', 'partners.example.org',
         'jobs.example.org', 'support.example.org'][1 + cityHash64(site_of, 'site') % 20] AS site,
        -- benign
        multiIf(p < 10, '/',
                p < 35, concat('/static/', ['app', 'vendor', 'main', 'runtime'][1 + r2 % 4], '.', toString(r2 % 7), '.js'),
                p < 60, concat('/products/', toString(r2 % 5000)),
                p < 72, concat('/blog/post-', toString(r2 % 800)),
                p < 82, concat('/api/v1/items/', toString(r2 % 20000)),
                p < 86, '/search',
                p < 89, '/login',
                p < 92, '/api/v1/report',
                p < 96, concat('/docs/', toString(r2 % 300)),
                '/cart') AS page,
        r3 % 1000 AS e,
        -- 0 benign; 1-21 attack kinds (atk + 1)
        if(attack, atk + 1, 0) AS kind,
        multiIf(kind = 0 AND e < 30 AND page != '/login', concat('/old-page-', toString(r2 % 400)),
                kind = 0, page,
                kind <= 4, concat('/', ['backup', 'old', 'test', 'dev', 'tmp', 'upload', 'files', 'data', 'private', 'new', 'bak', 'staging'][1 + r2 % 12], toString(r2 % 1000)),
                kind <= 6, ['/.env', '/.git/config', '/wp-config.php.bak', '/backup.sql', '/.aws/credentials', '/.ssh/id_rsa', '/.htpasswd', '/phpinfo.php', '/server-status', '/server.key', '/config.yml~', '/site.tar'][1 + k % 12],
                kind <= 8, ['/phpmyadmin/', '/pma/', '/admin/', '/manager/html', '/jenkins/login', '/actuator/env', '/wp-admin/setup-config.php', '/adminer.php', '/cpanel', '/solr/admin/'][1 + k % 10],
                kind = 9, ['/static/../../../../etc/passwd', '/download', '/%2e%2e/%2e%2e/etc/passwd', '/images/..%2f..%2fwin.ini'][1 + k % 4],
                kind = 10, ['/products', '/search', '/item.php'][1 + k % 3],
                kind = 11, '/search',
                kind <= 13, ['/wp-login.php', '/login', '/xmlrpc.php'][1 + k % 3],
                kind <= 18, page,
                kind <= 20 AND k % 4 != 3, '/wp-login.php',
                kind <= 20, '/products',
                '/.env') AS path,
        multiIf(kind = 0 AND page = '/login', 'POST',
                kind = 0 AND page LIKE '/api/v1/items/%' AND e % 10 = 0, 'POST',
                kind = 0 AND e % 100 = 7, 'HEAD',
                kind IN (12, 13), 'POST',
                kind IN (19, 20) AND k % 4 != 3, 'POST',
                'GET') AS method,
        multiIf(kind = 0 AND page = '/login', if(e < 800, 302, 401),
                kind = 0 AND e < 30, 404,
                kind = 0 AND e < 35, 500,
                kind = 0 AND e < 37, 503,
                kind = 0 AND e < 39, 403,
                kind = 0 AND page LIKE '/static/%' AND e < 250, 304,
                kind = 0, 200,
                kind <= 4, if(e < 950, 404, 403),
                kind <= 8, 404,
                kind = 9, 400,
                kind = 10, if(e < 500, 500, 200),
                kind = 11, 200,
                kind <= 13, if(e < 900, 401, 200),
                kind = 17, if(e < 900, 200, 429),
                kind IN (19, 20), if(k % 4 != 3, 403, 200),
                kind = 21, 404,
                200) AS status,
        multiIf(kind IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 17, 18, 19, 20, 21), attack_ua,
                kind IN (15, 16), ['python-requests/2.31.0', 'Go-http-client/1.1', 'curl/8.5.0', 'Wget/1.21.4'][1 + h5 % 4],
                kind = 14, ['sqlmap/1.8.4#stable (https://sqlmap.org)', 'Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:Port Check)',
                            'Mozilla/5.0 zgrab/0.x', 'masscan/1.3 (https://github.com/robertdavidgraham/masscan)'][1 + h5 % 4],
                visitor_ua) AS user_agent,
        multiIf(kind IN (5, 6) AND k % 12 < 9, 16,
                kind = 9, 4,
                kind = 10, 1,
                kind = 11, 2,
                kind = 14, 32,
                kind IN (19, 20) AND k % 4 = 3, 1,
                kind = 21, 16,
                0) AS flags,
        toFloat32(round(multiIf(path = '/api/v1/report', 0.3 - 0.8 * log(u3),
                                 path LIKE '/static/%', 0.001 + 0.004 * u3,
                                 0.004 - 0.06 * log(u3)), 3)) AS request_time
    FROM
    (
        SELECT *, k,
            start_ms + k * gap_ms AS off_ms,
            fromUnixTimestamp64Milli(toInt64(toUnixTimestamp64Milli(now64(3)) - 2592000000 + off_ms), 'UTC') AS ts,
            if(kind_atk_dist, base + k % 8, base) AS visitor,
            cityHash64(s, k) AS r, cityHash64(s, k, 2) AS r2, cityHash64(s, k, 3) AS r3,
            r % 100 AS p,
            ((r3 % 999983) + 1) / 999984.0 AS u3
        FROM
        (
            SELECT *,
                atk IN (18, 19) AS kind_atk_dist
            FROM
            (
                SELECT
                    number AS s,
                    cityHash64(s, 1) AS h1, cityHash64(s, 2) AS h2, cityHash64(s, 3) AS h3, cityHash64(s, 4) AS h4,
                    cityHash64(s, 5) AS h5, cityHash64(s, 6) AS h6,
                    h2 % 1000 < 4 AS attack,
                    h3 % 21 AS atk,
                    toUInt64(pow((h4 % 999983) / 999983.0, 2.2) * 400000) AS benign_visitor,
                    if(attack, 100000000 + s * 8, benign_visitor) AS base,
                    if(attack, 'atk' || toString(s), toString(intDiv(benign_visitor, 16))) AS net,
                    if(attack, toString(s), toString(benign_visitor)) AS site_of,
                    if(attack, ['US', 'DE', 'NL', 'FR', 'CN', 'RU', 'SG', 'BR'][1 + h6 % 8],
                               ['SE', 'SE', 'SE', 'DE', 'US', 'NO', 'FI', 'GB', 'NL', 'FR'][1 + cityHash64(benign_visitor, 'c') % 10]) AS country,
                    toUInt32(if(attack, [14061, 16509, 24940, 16276, 63949, 45102, 4134, 9009][1 + h6 % 8],
                                         1000 + cityHash64(intDiv(benign_visitor, 16), 'asn') % 500)) AS asn,
                    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
                     'Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0'][1 + h6 % 2] AS attack_ua,
                    if(cityHash64(benign_visitor, 'tool') % 1000 < 3,
                       ['curl/8.5.0', 'Go-http-client/1.1', 'python-requests/2.31.0'][1 + benign_visitor % 3],
                       ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
                        'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0',
                        'Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0',
                        'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
                        'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1',
                        'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36',
                        'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
                        'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
                        'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)',
                        'Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)'][1 + cityHash64(benign_visitor, 'ua') % 10]) AS visitor_ua,
                    -- requests in the session, and milliseconds between them
                    toUInt32(multiIf(NOT attack, 1 + pow((h5 % 999983) / 999983.0, 3) * 40,
                                     atk < 4, 20 + h5 % 180,
                                     atk < 6, 3 + h5 % 20,
                                     atk < 8, 4 + h5 % 16,
                                     atk < 11, 2 + h5 % 10,
                                     atk < 13, 10 + h5 % 90,
                                     atk < 16, 5 + h5 % 95,
                                     atk = 16, 400 + h5 % 2600,
                                     atk = 17, 10 + h5 % 20,
                                     atk < 20, 24 + h5 % 16,
                                     1)) AS n,
                    multiIf(NOT attack, 500 + h6 % 20000, atk = 16, 20 + h6 % 130, atk < 4, 300 + h6 % 2700, 1000 + h6 % 20000) AS gap_ms,
                    -- sessions start over 30 days less the longest session
                    h1 % (2592000000 - 3600000) AS start_ms
                FROM numbers({first_session}, {sessions})
            )
        )
        ARRAY JOIN range(n) AS k
    )
)
