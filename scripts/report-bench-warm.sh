#!/bin/bash
# Times the three reports against a running vakt (a warm engine, as the
# dashboard and an analyst use it): BENCHMARKS.md, "Issue 17, warm engine".
#
#   scripts/report-bench-warm.sh DATA_DIR SINCE UNTIL
#
# SINCE and UNTIL are RFC 3339 times (e.g. the 30 days ending at the data's
# last row); the last 24 h before UNTIL are timed too. VAKT is the binary
# (default ./bin/vakt). Starts `vakt run` on DATA_DIR with alerts off and no
# input, runs each report once to warm it, then three timed runs, and prints
# the engine process's peak RSS; stops the vakt it started. With BASE set to
# another vakt binary (an earlier commit's), each report is also timed with
# it right after, against the same engine: a fair comparison on a machine
# whose speed drifts.
set -eu
dir=${1:?usage: $0 DATA_DIR SINCE UNTIL}
since=${2:?SINCE}
until=${3:?UNTIL}
vakt=${VAKT:-./bin/vakt}
base=${BASE:-}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
printf 'alerts:\n  enabled: false\n' > "$work/vakt.yaml"
"$vakt" run --config "$work/vakt.yaml" --data-dir "$dir" --file "$work/none.log" --site bench > "$work/run.log" 2>&1 &
pid=$!
for _ in $(seq 1 120); do grep -q "following log files" "$work/run.log" && break; sleep 1; done
day_before=$(date -u -d "$until - 1 day" +%Y-%m-%dT%H:%M:%SZ)
echo "$("$vakt" sql --data-dir "$dir" --format tsv -- "SELECT count() FROM vakt.requests") rows; $(uptime | sed 's/.*load/load/')"
for range in "--since $since --until $until" "--since $day_before --until $until"; do
	for report in health top threats; do
		for bin in "$vakt" $base; do
			"$bin" report "$report" --data-dir "$dir" $range --format json > /dev/null
			times=""
			for _ in 1 2 3; do
				/usr/bin/time -o "$work/t" -f %e "$bin" report "$report" --data-dir "$dir" $range --format json > /dev/null
				times="$times $(tail -1 "$work/t")s"
			done
			echo "$report [$range] $bin:$times"
		done
	done
done
echo "engine peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$pid/status)"
