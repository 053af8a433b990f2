package reports

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"html/template"
)

// The ECharts script the HTML report embeds, from the npm registry
// (assets/fetch-echarts.sh fetches and verifies it). A report carries it
// inline, so it renders with no network.
const (
	EChartsVersion = "5.6.0"
	EChartsSHA256  = "bf4a223524e40b77c304bec67e1222cf551f14880cf42c69dc046558e11c07b1"
)

//go:embed assets/echarts.min.js
var echartsJS string

func echartsScript() template.JS { return template.JS(echartsJS) }

// EChartsJS is the ECharts script itself, for a server that gives it to
// its pages once (HTMLLinked) rather than inside each of them.
func EChartsJS() string { return echartsJS }

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
