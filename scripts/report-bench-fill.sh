#!/bin/sh
# Fills a migrated store with the report benchmark's synthetic traffic
# (BENCHMARKS.md, "Reports over 30 M rows"): 30 days ending now, about
# MILLIONS M rows (default 30), through `vakt sql`, in chunks of about
# 1 M rows so that no statement runs into the endpoint's time limit.
#
#   scripts/report-bench-fill.sh DATA_DIR [MILLIONS]
#
# Run `vakt migrate --data-dir DATA_DIR` first. VAKT is the binary
# (default ./bin/vakt).
set -eu
dir=${1:?usage: $0 DATA_DIR [MILLIONS]}
millions=${2:-30}
vakt=${VAKT:-./bin/vakt}
sql=$(dirname "$0")/report-bench-fill.sql
# 2,722,900 sessions make 30,000,903 rows.
sessions=$((millions * 2722900 / 30))
chunk=90763
first=${FIRST_SESSION:-0}  # to resume an interrupted fill
while [ "$first" -lt "$sessions" ]; do
	n=$((sessions - first))
	[ "$n" -gt "$chunk" ] && n=$chunk
	sed -e "s/{first_session}/$first/" -e "s/{sessions}/$n/" "$sql" | "$vakt" sql --data-dir "$dir" -- "$(cat)"
	first=$((first + n))
done
