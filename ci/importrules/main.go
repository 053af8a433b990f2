// Command importrules enforces the dependency direction with `go list
// -json ./...` (each package's direct imports and its transitive -deps): a
// package may import only what its rule allows, and some packages must
// never reach certain others, however indirectly. These rules are the
// rulebook; the README's layout section shows them as the table -table
// prints (a test keeps the two the same).
//
//	go run ./ci/importrules          # exit 1 and one line per violation
//	go run ./ci/importrules -table   # the rules as a Markdown table
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
)

// Third-party modules by the names the rules use.
var modules = map[string]string{
	"yaml":         "go.yaml.in/yaml/v3",
	"gonum":        "gonum.org/v1/gonum",
	"hdr":          "github.com/HdrHistogram/hdrhistogram-go",
	"vegeta":       "github.com/tsenart/vegeta",
	"echarts":      "github.com/go-echarts/go-echarts",
	"sqlite":       "modernc.org/sqlite",
	"prometheus":   "github.com/prometheus/client_golang",     // with exp/api/remote, the remote-write client
	"prompb":       "github.com/prometheus/prometheus/prompb", // the remote-write 1.0 messages
	"expfmt":       "github.com/prometheus/common",            // the exposition format's parser
	"promdto":      "github.com/prometheus/client_model",      // its data model
	"cobra":        "github.com/spf13/cobra",
	"k8s-api":      "k8s.io/api", // the Kubernetes API's types
	"k8s-meta":     "k8s.io/apimachinery",
	"k8s-yaml":     "sigs.k8s.io/yaml",
	"ggcr":         "github.com/google/go-containerregistry", // images without an engine
	"openapi":      "github.com/getkin/kin-openapi",
	"http2":        "golang.org/x/net/http2", // HTTP/2's framing, HPACK and client connections
	"grpc":         "google.golang.org/grpc", // a reflection client (scenarios/rpc), the servers of tests
	"protobuf":     "google.golang.org/protobuf",
	"protocompile": "github.com/bufbuild/protocompile", // .proto files compiled at run start
	"websocket":    "github.com/coder/websocket",       // held connections
}

// The leaves (scenarios/spec, the YAML notation; scenarios/profile, the
// profile; scenarios/fault, the faults) are imported by both worlds, each
// where it is used: an allowance nothing uses is itself a violation.

// rule says what a package (and, unless a longer rule matches, its
// sub-packages) may import directly, and what it must never depend on.
type rule struct {
	pkg    string   // module-relative path
	any    bool     // may import anything (commands)
	allow  []string // module-relative packages and module names from modules
	forbid []string // never in the transitive deps: module-relative or std paths
}

var rules = []rule{
	{pkg: "cmd/surge", any: true},
	{pkg: "reference-server", any: true},
	{pkg: "ci", allow: nil},
	{pkg: "ci/image", allow: []string{"ggcr"}},
	{pkg: "ci/bench/grpctarget", allow: []string{"scenarios/rpc/rpctest"}},
	{pkg: "reference-server/profiles", allow: []string{"scenarios/profile"}},
	{pkg: "reference-server/refserver", allow: []string{"sqlite", "prometheus", "websocket", "grpc", "protobuf", "protocompile", "scenarios/spec", "scenarios/profile", "scenarios/fault"},
		forbid: []string{"sim", "scenarios/replay"}},
	{pkg: "scenarios/replay", allow: []string{"scenarios", "scenarios/arrival", "scenarios/chaos", "scenarios/results", "scenarios/rpc", "scenarios/replay/internal/client", "scenarios/results/vegetafmt", "expfmt", "promdto", "http2", "websocket", "scenarios/fault"}},
	{pkg: "scenarios/replay/internal/client", allow: []string{"scenarios", "scenarios/results", "scenarios/rpc", "http2"}, forbid: []string{"scenarios/replay"}},
	{pkg: "scenarios/rpc", allow: []string{"scenarios", "grpc", "protobuf", "protocompile", "scenarios/spec"}, forbid: []string{"scenarios/replay", "sim"}},
	{pkg: "reports", allow: []string{"scenarios", "scenarios/arrival", "scenarios/results", "sim", "sim/queueing", "echarts", "scenarios/spec"},
		forbid: []string{"scenarios/replay", "net/http"}},
	{pkg: "sim", allow: []string{"scenarios", "scenarios/arrival", "scenarios/results", "sim/queueing", "scenarios/spec", "scenarios/profile", "scenarios/fault"},
		forbid: []string{"net", "net/http", "reference-server/refserver"}},
	{pkg: "scenarios/capacity", allow: []string{"scenarios", "scenarios/arrival", "scenarios/replay", "scenarios/results", "sim", "sim/queueing", "reports", "promdto", "yaml", "scenarios/spec", "scenarios/profile"}},
	{pkg: "scenarios/chaos", allow: []string{"scenarios/spec", "scenarios/fault"}},
	{pkg: "scenarios/arrival", allow: []string{"scenarios", "scenarios/spec"}, forbid: []string{"net/http"}},
	{pkg: "scenarios", allow: []string{"yaml", "scenarios/spec", "scenarios/fault"}, forbid: []string{"net/http"}},
	{pkg: "scenarios/results/vegetafmt", allow: []string{"scenarios", "scenarios/results", "vegeta"}},
	{pkg: "scenarios/results", allow: []string{"hdr", "scenarios/spec"}, forbid: []string{"net/http"}},
	{pkg: "sim/queueing", allow: []string{"gonum", "scenarios/spec"}, forbid: []string{"net", "net/http"}},
	{pkg: "scenarios/spec", allow: []string{"yaml"}},
	{pkg: "scenarios/profile", allow: []string{"scenarios/spec"}},
	{pkg: "scenarios/fault", allow: []string{"scenarios/spec"}},
	{pkg: "scenarios/scaffold", allow: []string{"openapi", "yaml", "scenarios/spec"}, forbid: []string{"scenarios/replay"}}, // kin-openapi reaches net/http (it can fetch $refs; surge init leaves external refs off: one file is read)
	{pkg: "scenarios/k8s", allow: []string{"k8s-api", "k8s-meta", "k8s-yaml"}, forbid: []string{"scenarios/replay", "sim"}},
	{pkg: "scenarios/promexport", allow: []string{"scenarios/results", "prometheus", "promdto", "prompb"}, forbid: []string{"scenarios/replay"}},
}

// pkg is the part of `go list -json` output the rules read.
type pkg struct {
	ImportPath string
	Module     *struct{ Path string }
	Standard   bool
	Imports    []string
	Deps       []string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-table" {
		fmt.Print(table())
		return
	}
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "importrules: go list:", err)
		os.Exit(1)
	}
	pkgs, err := decode(out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "importrules:", err)
		os.Exit(1)
	}
	bad := append(check(pkgs), unused(pkgs)...)
	for _, b := range bad {
		fmt.Println(b)
	}
	if len(bad) > 0 {
		fmt.Printf("importrules: %d violation(s) of the dependency rules\n", len(bad))
		os.Exit(1)
	}
	fmt.Printf("importrules: %d packages follow the dependency rules\n", len(pkgs))
}

func decode(out []byte) ([]pkg, error) {
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			return pkgs, nil
		} else if err != nil {
			return nil, err
		}
		pkgs = append(pkgs, p)
	}
}

// check returns one line per violation, sorted.
func check(pkgs []pkg) []string {
	var bad []string
	for _, p := range pkgs {
		if p.Module == nil {
			continue
		}
		mod := p.Module.Path
		rel := relative(mod, p.ImportPath)
		r, ok := ruleFor(rel)
		if !ok {
			bad = append(bad, fmt.Sprintf("%s: no import rule covers this package (add one to ci/importrules)", rel))
			continue
		}
		if !r.any {
			for _, imp := range p.Imports {
				if _, ok := allowance(r, mod, imp); !isStd(imp) && !ok {
					bad = append(bad, fmt.Sprintf("%s imports %s, which its rule (%s) does not allow", rel, relative(mod, imp), r.pkg))
				}
			}
		}
		for _, dep := range p.Deps {
			for _, f := range r.forbid {
				if target := path(mod, f); dep == target || strings.HasPrefix(dep, target+"/") && !isStd(f) {
					bad = append(bad, fmt.Sprintf("%s depends (transitively) on %s, which it must never reach", rel, relative(mod, dep)))
				}
			}
		}
	}
	sort.Strings(bad)
	return bad
}

// unused returns one line per allowance that no package its rule governs
// imports (run on the whole module: an allowance left behind by a change
// would let the next one in unseen).
func unused(pkgs []pkg) []string {
	used := map[string]bool{}
	for _, p := range pkgs {
		if p.Module == nil {
			continue
		}
		r, ok := ruleFor(relative(p.Module.Path, p.ImportPath))
		for _, imp := range p.Imports {
			if a, admits := allowance(r, p.Module.Path, imp); ok && admits {
				used[r.pkg+" "+a] = true
			}
		}
	}
	var bad []string
	for _, r := range rules {
		for _, a := range r.allow {
			if !used[r.pkg+" "+a] && covers(pkgs, r) {
				bad = append(bad, fmt.Sprintf("%s: its rule allows %s, which none of its packages imports (take it out of ci/importrules)", r.pkg, a))
			}
		}
	}
	sort.Strings(bad)
	return bad
}

// covers says some package listed is governed by rule r (a rule of a
// package not in this listing, a partial go list, judges nothing).
func covers(pkgs []pkg, r rule) bool {
	for _, p := range pkgs {
		if p.Module != nil {
			if best, ok := ruleFor(relative(p.Module.Path, p.ImportPath)); ok && best.pkg == r.pkg {
				return true
			}
		}
	}
	return false
}

// ruleFor finds the rule of the longest matching package prefix.
func ruleFor(rel string) (rule, bool) {
	best, found := rule{}, false
	for _, r := range rules {
		if (rel == r.pkg || strings.HasPrefix(rel, r.pkg+"/")) && len(r.pkg) >= len(best.pkg) {
			best, found = r, true
		}
	}
	return best, found
}

// allowance is the allowance of r that admits imp, if any.
func allowance(r rule, mod, imp string) (string, bool) {
	for _, a := range r.allow {
		if m, ok := modules[a]; ok {
			if imp == m || strings.HasPrefix(imp, m+"/") {
				return a, true
			}
		} else if imp == path(mod, a) {
			return a, true
		}
	}
	return "", false
}

// path turns a module-relative package (or a std path) into an import path.
func path(mod, rel string) string {
	if isStd(rel) {
		return rel
	}
	return mod + "/" + rel
}

func relative(mod, imp string) string {
	if imp == mod {
		return "."
	}
	return strings.TrimPrefix(imp, mod+"/")
}

// isStd tells standard-library paths (no dot in the first element) from
// module paths; the project's own relative names are listed explicitly.
func isStd(p string) bool {
	first, _, _ := strings.Cut(p, "/")
	switch first {
	case "cmd", "ci", "scenarios", "sim", "reports", "reference-server":
		return false
	}
	return !strings.Contains(first, ".")
}

// table is the rules as a Markdown table: the package, what it may import
// (the project's packages, then third-party modules by the names above,
// and the standard library), and what it must never reach.
func table() string {
	var b strings.Builder
	b.WriteString("| package | may import (and the standard library) | never reaches |\n| --- | --- | --- |\n")
	rs := append([]rule(nil), rules...)
	sort.Slice(rs, func(i, j int) bool { return rs[i].pkg < rs[j].pkg })
	for _, r := range rs {
		allow := "anything"
		if !r.any {
			var names []string
			for _, a := range r.allow {
				if m, ok := modules[a]; ok {
					a = "`" + m + "`"
				}
				names = append(names, a)
			}
			allow = strings.Join(names, ", ")
			if allow == "" {
				allow = "the standard library only"
			}
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", r.pkg, allow, strings.Join(r.forbid, ", "))
	}
	return b.String()
}
