package spec

import (
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// When decoding fails, locate finds where from the node tree: it walks the
// nodes and the Go type together, decodes each subtree on its own, and
// descends only into the subtrees that fail, down to the value that does;
// the error then carries that node's line and key path (yaml.v3's messages
// have a line and no path, and only sometimes a column). A subtree holding
// a big mapping (see bigmap.go) is never decoded whole, so a document of
// 100,000 journeys with one bad value costs a walk, not n².
//
// The messages are yaml.v3's (or the custom type's), without their
// position prefix.

// locate returns the errors under n, decoded as t at path; nil when none
// was found (the caller falls back on yaml.v3's messages).
func (x *index) locate(n *yaml.Node, t reflect.Type, path string, big map[*yaml.Node]bool) Errors {
	if n.Kind == yaml.DocumentNode {
		var out Errors
		for _, c := range n.Content {
			out = append(out, x.locate(c, t, path, big)...)
		}
		return out
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() == reflect.Interface {
		return nil
	}
	custom := reflect.PointerTo(t).Implements(unmarshalerType)
	descends := !custom || n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct
	if big[n] && descends {
		return x.descend(n, t, path, big)
	}
	err := n.Decode(reflect.New(t).Interface())
	if err == nil {
		return nil
	}
	if descends {
		if inner := x.descend(n, t, path, big); len(inner) > 0 {
			return inner
		}
	}
	return x.nodeErrors(n, path, err)
}

// descend locates the errors in n's children, and reports keys written
// twice in a mapping.
func (x *index) descend(n *yaml.Node, t reflect.Type, path string, big map[*yaml.Node]bool) Errors {
	var out Errors
	switch {
	case n.Kind == yaml.MappingNode && (t.Kind() == reflect.Struct || t.Kind() == reflect.Map):
		var fields map[string]reflect.Type
		if t.Kind() == reflect.Struct {
			fields = yamlFields(t)
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := Join(path, k.Value)
			if line, dup := seen[k.Value]; dup && !big[n] { // park reported those of a big mapping
				out = append(out, &Error{File: x.doc.File, Line: k.Line, Path: p,
					Msg: fmt.Sprintf("mapping key %q already defined at line %d", k.Value, line)})
				continue
			}
			seen[k.Value] = k.Line
			if fields == nil {
				if err := k.Decode(reflect.New(t.Key()).Interface()); err != nil {
					out = append(out, x.nodeErrors(k, p, err)...)
					continue
				}
				out = append(out, x.locate(v, t.Elem(), p, big)...)
			} else if ft, ok := fields[k.Value]; ok { // an unknown key is checkKnown's
				out = append(out, x.locate(v, ft, p, big)...)
			}
		}
	case n.Kind == yaml.SequenceNode && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
		for i, c := range n.Content {
			out = append(out, x.locate(c, t.Elem(), Join(path, i), big)...)
		}
	}
	return out
}

// nodeErrors are the errors of decoding node n (at path) alone.
func (x *index) nodeErrors(n *yaml.Node, path string, err error) Errors {
	msgs := []string{err.Error()}
	if te, ok := err.(*yaml.TypeError); ok {
		msgs = te.Errors
	}
	out := make(Errors, 0, len(msgs))
	for _, m := range msgs {
		m = strings.Replace(withoutPosition(m), "cannot unmarshal", "cannot decode", 1)
		out = append(out, &Error{File: x.doc.File, Line: n.Line, Path: path, Msg: m})
	}
	return out
}

// withoutPosition drops yaml.v3's "line N: " or "line N column M: " (and
// NodeError's) from the front of a message: the node says where.
func withoutPosition(msg string) string {
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if _, after, ok := strings.Cut(rest, ": "); ok {
			return after
		}
	}
	return msg
}

// bigAncestors marks every node that holds a parked mapping (and the
// mapping itself): those locate never decodes whole.
func bigAncestors(n *yaml.Node, parkedAt map[*yaml.Node][]*yaml.Node, out map[*yaml.Node]bool) bool {
	has := false
	if _, ok := parkedAt[n]; ok {
		has = true
	}
	for _, c := range n.Content {
		if bigAncestors(c, parkedAt, out) {
			has = true
		}
	}
	if has {
		out[n] = true
	}
	return has
}
