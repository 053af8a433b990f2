// Package browser holds the report's browser test: a surge HTML report
// opened in headless Chromium with the network off must render every chart
// with no console errors. Chromium comes from ci/install-chromium.sh; where
// it is missing the test says so and skips. Chromium finds it, for this
// test and the live page's (cmd/surge).
package browser
