package main

// commandExamples are the examples --help shows for the commands that do
// not set command.example: command lines, each under a "# what it does" line.
var commandExamples = map[string]string{
	"bench": `  # Measure a 1 M-line import and 30 s of live mode on fresh engines
  vakt bench --lines 1000000 --live-for 30s
  # Keep the generated log and data for a look afterwards
  vakt bench --work-dir /tmp/vakt-bench --keep`,
	"check": `  # Check a configuration file: every problem, its key and the fix
  vakt check --config /etc/vakt/vakt.yaml
  # Also connect to the NATS and ClickHouse it names
  vakt check --config /etc/vakt/vakt.yaml --connect`,
	"import": `  # Import rotated logs (gzip included) into ./data
  vakt import /var/log/nginx/access.log.1 /var/log/nginx/access.log.2.gz
  # Flags may follow the files
  vakt import access.log --data-dir /srv/vakt --site shop.example`,
	"migrate": `  # Bring the store's schema and retention up to date
  vakt migrate --config /etc/vakt/vakt.yaml
  # Print the SQL of a fresh installation, with the roles, for a DBA
  vakt migrate --print-sql --roles`,
	"nats": `  # Create the streams, consumers and buckets as the NATS administrator
  vakt nats setup --config admin.yaml`,
	"quarantine": `  # The newest 50 rejected lines, masked
  vakt quarantine
  # Lines of one site that did not parse, in the last hour, as JSON
  vakt quarantine --site shop.example --reason bad_format --since 1h --format json`,
	"report": `  # Site health over the last day
  vakt report health
  # Threat detections of the last hour, as JSON lines
  vakt report threats --since 1h --format json
  # Only two rules
  vakt report threats --rule scanning,login-brute-force
  # The 20 busiest clients and paths of one site, as CSV
  vakt report top --site shop.example --n 20 --section clients --format csv`,
	"retention": `  # How long each kind of data is kept, ready to quote in a privacy policy
  vakt retention --config /etc/vakt/vakt.yaml`,
	"run": `  # Everything embedded, with generated demo traffic
  vakt run --demo --data-dir ./data
  # Follow nginx's access logs
  vakt run --file '/var/log/nginx/*access.log' --site www.example.com`,
	"salts": `  # Salt epochs, as JSON (never a salt)
  vakt salts status --format json
  # Start a new epoch now and destroy the old salt at once
  vakt salts rotate --destroy-now`,
	"sql": `  # Requests per status, as CSV
  vakt sql "SELECT status, count() FROM vakt.requests GROUP BY status" --format csv`,
}
