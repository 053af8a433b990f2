#!/usr/bin/env bash
# Fetches the ECharts script the HTML report embeds, from the npm registry,
# and checks it against the pinned digest. The file is committed (go:embed
# needs it at build time); run this to verify it or to move to a new version
# (then update VERSION, SHA256 and reports.EChartsVersion/EChartsSHA256).
set -euo pipefail
VERSION=5.6.0
SHA256=bf4a223524e40b77c304bec67e1222cf551f14880cf42c69dc046558e11c07b1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
curl -fsSL "https://registry.npmjs.org/echarts/-/echarts-$VERSION.tgz" -o "$tmp/echarts.tgz"
tar -xzf "$tmp/echarts.tgz" -C "$tmp" package/dist/echarts.min.js package/LICENSE package/NOTICE
echo "$SHA256  $tmp/package/dist/echarts.min.js" | sha256sum -c -
cp "$tmp/package/dist/echarts.min.js" "$here/echarts.min.js"
cp "$tmp/package/LICENSE" "$here/ECHARTS-LICENSE"
cp "$tmp/package/NOTICE" "$here/ECHARTS-NOTICE"
echo "echarts $VERSION in $here"
