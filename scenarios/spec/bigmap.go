package spec

import (
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// yaml.v3 checks a mapping for duplicate keys by comparing every key with
// every later one, so decoding a mapping of n keys costs n² (100,000
// journeys took 26 s before a single one was looked at). Decode keeps that
// cost linear: every mapping larger than bigMapping is taken out of the tree
// before yaml.v3 sees it (its keys checked for duplicates here, with a Go
// map), and decoded entry by entry into the value afterwards. Small
// mappings, where n² is nothing, stay with yaml.v3 and its messages.
const bigMapping = 64

// parked is a mapping taken out of the tree: its node now holds no entries.
type parked struct {
	node    *yaml.Node
	content []*yaml.Node
}

// park empties every big mapping under n (after checking its keys are
// unique) and returns what it took, to be put back by fill and restore.
func park(n *yaml.Node, x *index, errs *Errors, out map[*yaml.Node][]*yaml.Node) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			park(c, x, errs, out)
		}
	case yaml.MappingNode:
		if _, done := out[n]; done {
			return
		}
		for i := 1; i < len(n.Content); i += 2 {
			park(n.Content[i], x, errs, out)
		}
		if len(n.Content) <= 2*bigMapping {
			return
		}
		seen := make(map[string]int, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.Value == "<<" {
				return // merge keys and complex keys: yaml.v3's own path
			}
			if line, dup := seen[k.Value]; dup {
				v := n.Content[i+1]
				*errs = append(*errs, &Error{File: x.doc.File, Line: k.Line, Path: x.byPos[[2]int{v.Line, v.Column}],
					Msg: fmt.Sprintf("mapping key %q already defined at line %d", k.Value, line)})
				continue
			}
			seen[k.Value] = k.Line
		}
		out[n] = n.Content
		n.Content = nil
	}
}

// restore puts every parked mapping's entries back.
func restore(parkedAt map[*yaml.Node][]*yaml.Node) {
	for n, c := range parkedAt {
		n.Content = c
	}
}

// fill decodes the parked mappings under n into v, the value n was decoded
// into, entry by entry; decoding errors are collected as yaml.v3 reports them.
func fill(n *yaml.Node, v reflect.Value, parkedAt map[*yaml.Node][]*yaml.Node, errs *[]string) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			fill(c, v, parkedAt, errs)
		}
		return
	}
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	if v.CanAddr() && v.Addr().Type().Implements(unmarshalerType) {
		return // the type decoded its own node
	}
	switch {
	case n.Kind == yaml.SequenceNode && (v.Kind() == reflect.Slice || v.Kind() == reflect.Array):
		for i, c := range n.Content {
			if i < v.Len() {
				fill(c, v.Index(i), parkedAt, errs)
			}
		}
	case n.Kind == yaml.MappingNode && v.Kind() == reflect.Struct:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if f, ok := fieldByKey(v, n.Content[i].Value); ok {
				fill(n.Content[i+1], f, parkedAt, errs)
			}
		}
	case n.Kind == yaml.MappingNode && v.Kind() == reflect.Map:
		fillMap(n, v, parkedAt, errs)
	case n.Kind == yaml.MappingNode && v.Kind() == reflect.Interface && v.NumMethod() == 0:
		fillAny(n, v, parkedAt, errs)
	}
}

// fillMap decodes a parked mapping into the Go map v entry by entry, or,
// for a mapping yaml.v3 decoded, fills the parked ones in its values.
func fillMap(n *yaml.Node, v reflect.Value, parkedAt map[*yaml.Node][]*yaml.Node, errs *[]string) {
	content, big := parkedAt[n]
	if v.IsNil() {
		v.Set(reflect.MakeMapWithSize(v.Type(), len(content)/2))
	}
	if !big {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := reflect.New(v.Type().Key())
			if n.Content[i].Decode(k.Interface()) != nil {
				continue
			}
			if e := v.MapIndex(k.Elem()); e.IsValid() {
				cp := reflect.New(e.Type()).Elem()
				cp.Set(e)
				fill(n.Content[i+1], cp, parkedAt, errs)
				v.SetMapIndex(k.Elem(), cp)
			}
		}
		return
	}
	for i := 0; i+1 < len(content); i += 2 {
		k := reflect.New(v.Type().Key())
		if err := content[i].Decode(k.Interface()); err != nil {
			*errs = append(*errs, typeErrorLines(err)...)
			continue
		}
		e := reflect.New(v.Type().Elem())
		if err := content[i+1].Decode(e.Interface()); err != nil {
			*errs = append(*errs, typeErrorLines(err)...)
		}
		fill(content[i+1], e.Elem(), parkedAt, errs)
		v.SetMapIndex(k.Elem(), e.Elem())
	}
}

// fillAny is fillMap for a mapping decoded into an interface (a JSON body).
func fillAny(n *yaml.Node, v reflect.Value, parkedAt map[*yaml.Node][]*yaml.Node, errs *[]string) {
	content, big := parkedAt[n]
	if !big {
		if m, ok := v.Interface().(map[string]any); ok {
			for i := 0; i+1 < len(n.Content); i += 2 {
				val, ok := m[n.Content[i].Value]
				if !ok || val == nil {
					continue
				}
				cp := reflect.New(v.Type()).Elem()
				cp.Set(reflect.ValueOf(val))
				fill(n.Content[i+1], cp, parkedAt, errs)
				m[n.Content[i].Value] = cp.Interface()
			}
		}
		return
	}
	m := make(map[string]any, len(content)/2)
	for i := 0; i+1 < len(content); i += 2 {
		var e any
		if err := content[i+1].Decode(&e); err != nil {
			*errs = append(*errs, typeErrorLines(err)...)
		}
		fill(content[i+1], reflect.ValueOf(&e).Elem(), parkedAt, errs)
		m[content[i].Value] = e
	}
	v.Set(reflect.ValueOf(m))
}

// fieldByKey finds the field of struct v that YAML key decodes into,
// through inline fields.
func fieldByKey(v reflect.Value, key string) (reflect.Value, bool) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			fv := v.Field(i)
			if fv.Kind() == reflect.Pointer {
				if fv.IsNil() {
					continue
				}
				fv = fv.Elem()
			}
			if fv.Kind() == reflect.Struct {
				if got, ok := fieldByKey(fv, key); ok {
					return got, true
				}
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		if name == key {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

func typeErrorLines(err error) []string {
	if te, ok := err.(*yaml.TypeError); ok {
		return te.Errors
	}
	return []string{err.Error()}
}
