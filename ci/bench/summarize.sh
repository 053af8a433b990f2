#!/usr/bin/env bash
# summarize.sh ROWS.jsonl: medians (min-max over repetitions) per section,
# tool and rate, as a Markdown table.
set -euo pipefail
jq -s -r '
  def med: sort | if length == 0 then null else .[(length - 1) / 2 | floor] end;
  def cell(f): [.[] | f | select(. != null)] as $v
    | if ($v | length) == 0 then "-"
      elif ($v | length) == 1 then ($v[0] * 100 | round / 100 | tostring)
      else "\($v | med * 100 | round / 100) (\($v | min * 100 | round / 100)-\($v | max * 100 | round / 100))" end;
  "| section | tool | rate | n | req/s delivered | CPU s/100k | RSS MB | p50 ms | p90 ms | p99 ms | max ms | late p99 ms | wall s |",
  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  (group_by([.sec, .tool, .rate])[] |
    "| \(.[0].sec) | \(.[0].tool) | \(.[0].rate) | \(length) | \(cell(if .reqs and .elapsed_s then .reqs / .elapsed_s else null end)) | \(cell(.cpu_per_100k)) | \(cell(.rss_mb)) | \(cell(.p50)) | \(cell(.p90)) | \(cell(.p99)) | \(cell(.max)) | \(cell(.late_p99_ms)) | \(cell(.wall_s)) |"),
  "",
  (.[] | select(.sec == "sim") | "    \(.bench)"),
  (.[] | select(.sec == "soak-rss") | "soak: RSS \(.rss_last_mb) MB after the warm-up, slope \(.slope_mb_per_min) MB/min over \(.samples) samples: about \(.rss_1h_mb) MB at 1 hour")
' "$1"
