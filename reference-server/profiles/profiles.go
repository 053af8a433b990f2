// Package profiles ships the reference server's capacity profiles
// (as-built and fixed) and resolves a profile by name or by file path.
package profiles

import (
	"embed"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/surgekit/surge/scenarios/profile"
)

//go:embed *.yaml
var files embed.FS

// Names lists the shipped profiles.
func Names() []string {
	entries, _ := files.ReadDir(".")
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(out)
	return out
}

// IsFile says a profile reference names a file (a path, or a .yaml or
// .yml name), not a shipped profile.
func IsFile(nameOrPath string) bool {
	return strings.ContainsRune(nameOrPath, os.PathSeparator) || strings.ContainsRune(nameOrPath, '/') ||
		strings.HasSuffix(nameOrPath, ".yaml") || strings.HasSuffix(nameOrPath, ".yml")
}

// Load returns a shipped profile by name ("as-built"), or reads a profile
// file when nameOrPath names one (it contains a path separator or ends in .yaml).
func Load(nameOrPath string) (*profile.Profile, error) {
	if IsFile(nameOrPath) {
		return profile.Load(nameOrPath)
	}
	file := nameOrPath + ".yaml"
	data, err := files.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("profile %q: no such shipped profile (shipped: %s; or give a file path)", nameOrPath, strings.Join(Names(), ", "))
	}
	return profile.Parse(path.Join("reference-server/profiles", file), data)
}
