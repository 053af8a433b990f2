package browser

import (
	"os"
	"os/exec"
	"testing"
)

// Chromium is the browser's path for a test: $SURGE_CHROMIUM, else
// Debian's names. Without one the test skips, saying how to install it,
// unless $SURGE_REQUIRE_CHROMIUM is set (the CI), when it fails.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("SURGE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("SURGE_REQUIRE_CHROMIUM") != "" {
		t.Fatal("SURGE_REQUIRE_CHROMIUM is set and no Chromium was found (bash ci/install-chromium.sh)")
	}
	t.Skip("no Chromium on this machine: bash ci/install-chromium.sh installs it (the CI does)")
	return ""
}
