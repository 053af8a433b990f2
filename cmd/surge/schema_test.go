package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// compileSchema compiles a schema file with a real JSON Schema validator.
func compileSchema(t *testing.T, path string) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(path, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// yamlAsJSON reads a YAML file as the JSON value a language server checks.
func yamlAsJSON(t *testing.T, src []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The schemas in the repository are what surge schema prints; every
// shipped scenario and profile names its schema in its first line and
// validates against it (with santhosh-tekuri/jsonschema), and a mistake an
// editor should flag does not.
func TestShippedFilesValidateAgainstTheSchemas(t *testing.T) {
	for flag, path := range map[string]string{"": "../../scenarios/surge.schema.json", "--profile": "../../scenarios/capacity.schema.json"} {
		args := []string{"schema"}
		if flag != "" {
			args = append(args, flag)
		}
		_, out, _ := runSurge(args...)
		have, _ := os.ReadFile(path)
		if string(have) != out {
			t.Errorf("%s is not what surge %s prints: run ./surge %s > %s", path, strings.Join(args, " "), strings.Join(args, " "), filepath.Base(path))
		}
	}
	scenario, profile := compileSchema(t, "../../scenarios/surge.schema.json"), compileSchema(t, "../../scenarios/capacity.schema.json")
	files, _ := filepath.Glob("../../scenarios/*.yaml")
	examples, _ := filepath.Glob("../../scenarios/examples/*.yaml")
	profiles, _ := filepath.Glob("../../reference-server/profiles/*.yaml")
	for _, f := range append(append(files, examples...), profiles...) {
		if b := filepath.Base(f); b == "faults.yaml" || b == "petstore.yaml" { // not scenarios
			continue
		}
		src, _ := os.ReadFile(f)
		first, _, _ := strings.Cut(string(src), "\n")
		schema, name := scenario, "surge.schema.json"
		if strings.Contains(f, "profiles") {
			schema, name = profile, "capacity.schema.json"
		}
		if !strings.HasPrefix(first, "# yaml-language-server: $schema=") || !strings.HasSuffix(first, name) {
			t.Errorf("%s: the first line %q does not name %s", f, first, name)
		}
		if err := schema.Validate(yamlAsJSON(t, src)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	lunch, _ := os.ReadFile("../../scenarios/lunch.yaml")
	for _, bad := range []struct{ from, to string }{
		{"process: poisson", "process: poison"},
		{"behaviour:", "behavior: {}\nbehaviour:"},
	} {
		if !bytes.Contains(lunch, []byte(bad.from)) {
			t.Fatalf("lunch.yaml has no %q", bad.from)
		}
		if err := scenario.Validate(yamlAsJSON(t, bytes.Replace(lunch, []byte(bad.from), []byte(bad.to), 1))); err == nil {
			t.Errorf("the schema accepts %q", bad.to)
		}
	}
}
