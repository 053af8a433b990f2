package scenarios

import (
	"bytes"
	"fmt"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// AsRun is the scenario file as s was run: with the scale and
// compression --scale and --compression set, so that the run directory's
// scenario.yaml re-renders (surge report) the run it holds, not the file's
// defaults. Unchanged, it is the file as it is, comments and all.
func AsRun(path string, raw []byte, s *Scenario) ([]byte, error) {
	file, err := Parse(path, raw)
	if err != nil {
		return nil, err
	}
	factor := func(s *Scenario) float64 {
		if s.Compression == nil {
			return 0
		}
		return s.Compression.Factor
	}
	if file.Scale == s.Scale && factor(file) == factor(s) {
		return raw, nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: cannot record the scenario as run: %v", path, err)
	}
	top := doc.Content[0]
	value := func(m *yaml.Node, key string) *yaml.Node {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == key {
				return m.Content[i+1]
			}
		}
		v := &yaml.Node{Kind: yaml.ScalarNode}
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, v)
		return v
	}
	if file.Scale != s.Scale {
		v := value(top, "scale")
		*v = yaml.Node{Kind: yaml.ScalarNode, Value: s.Scale.String(), LineComment: "# as run (--scale); the file says " + file.Scale.String()}
	}
	if factor(file) != factor(s) {
		c := value(top, "compression")
		if c.Kind != yaml.MappingNode {
			*c = yaml.Node{Kind: yaml.MappingNode}
		}
		c.Style &^= yaml.FlowStyle // block style, so the note can follow the factor
		v := value(c, "factor")
		was := "none"
		if factor(file) > 0 {
			was = strconv.FormatFloat(factor(file), 'f', -1, 64)
		}
		*v = yaml.Node{Kind: yaml.ScalarNode, Value: strconv.FormatFloat(factor(s), 'f', -1, 64),
			LineComment: "# as run (--compression); the file says " + was}
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("%s: cannot record the scenario as run: %w", path, err)
	}
	return b.Bytes(), nil
}
