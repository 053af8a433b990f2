package spec

import (
	"fmt"
	"reflect"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// A document's size in bytes (MaxDocument) does not bound what decoding it
// costs: a 15 MB list of 5,000,000 one-character items becomes 5,000,000
// nodes, key paths and, when each is wrong, messages: gigabytes. Decode
// therefore bounds what a document holds by what it means, before anything
// per value is built:
//
//   - valueBound counts, without parsing, the characters that could each
//     start a value; past 2*MaxValues the document is refused unparsed;
//   - after parsing, the nodes are counted (countNodes) and a document of
//     more than MaxValues is refused before it is indexed or decoded;
//   - a list or mapping whose Go field carries a `max:"N"` tag may hold at
//     most N entries, and with `maxeach:"M"` each of its entries at most M
//     (checkLengths): a scenario's arrival profile, its journeys and their
//     steps, its requests; past that the error names the key and the
//     bound, and nothing is decoded.
//
// What a refused document costs is its node tree, about 170 bytes a value:
// at most a few hundred MB, however it is shaped.

// MaxValues is the most values (keys, sequence items, scalars, mappings)
// a document may hold.
const MaxValues = 1_000_000

// valueBound is an upper bound on the values data can hold, read from its
// bytes alone: every value but the first follows one of : (a key's value,
// and counted twice for the key), -, ',', [, { or ?. Comments and quoted
// text count too, so it can only overcount.
func valueBound(data []byte) int {
	n := 2
	for _, c := range data {
		switch c {
		case ':':
			n += 2
		case '-', ',', '[', '{', '?':
			n++
		}
	}
	return n
}

// countNodes counts the nodes under n, stopping at limit.
func countNodes(n *yaml.Node, limit int) int {
	count := 1
	for _, c := range n.Content {
		if count += countNodes(c, limit-count); count >= limit {
			return count
		}
	}
	return count
}

// checkLengths walks the nodes and the Go type together and refuses the
// lists and mappings longer than their field's max tag allows.
func checkLengths(n *yaml.Node, t reflect.Type, path, file string) Errors {
	if n.Kind == yaml.DocumentNode {
		var out Errors
		for _, c := range n.Content {
			out = append(out, checkLengths(c, t, path, file)...)
		}
		return out
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return nil
	}
	var out Errors
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := yamlFieldsOf(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := fields[k.Value]
			if !ok {
				continue
			}
			p := Join(path, k.Value)
			if max, ok := maxEntries(f, "max"); ok && entries(v) > max {
				out = append(out, tooMany(file, k.Line, p, entries(v), max))
				continue
			}
			if max, ok := maxEntries(f, "maxeach"); ok {
				out = append(out, eachAtMost(v, p, file, max)...)
			}
			out = append(out, checkLengths(v, f.Type, p, file)...)
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			out = append(out, checkLengths(n.Content[i+1], t.Elem(), Join(path, n.Content[i].Value), file)...)
		}
	case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && n.Kind == yaml.SequenceNode:
		for i, c := range n.Content {
			out = append(out, checkLengths(c, t.Elem(), Join(path, i), file)...)
		}
	}
	return out
}

// eachAtMost refuses the entries of a list or mapping that hold more than
// max entries each.
func eachAtMost(n *yaml.Node, path, file string, max int) Errors {
	var out Errors
	each := func(line int, p string, v *yaml.Node) {
		if entries(v) > max {
			out = append(out, tooMany(file, line, p, entries(v), max))
		}
	}
	switch n.Kind {
	case yaml.SequenceNode:
		for i, c := range n.Content {
			each(c.Line, Join(path, i), c)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			each(n.Content[i].Line, Join(path, n.Content[i].Value), n.Content[i+1])
		}
	}
	return out
}

func tooMany(file string, line int, path string, n, max int) *Error {
	return &Error{File: file, Line: line, Path: path, Msg: fmt.Sprintf("%d entries, more than the %d it may hold", n, max)}
}

// entries is how many items a sequence, or keys a mapping, holds.
func entries(n *yaml.Node) int {
	switch n.Kind {
	case yaml.SequenceNode:
		return len(n.Content)
	case yaml.MappingNode:
		return len(n.Content) / 2
	}
	return 0
}

// maxEntries is a field's max (or maxeach) tag.
func maxEntries(f reflect.StructField, key string) (int, bool) {
	tag, ok := f.Tag.Lookup(key)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(tag)
	if err != nil {
		panic(fmt.Sprintf("spec: field %s has max tag %q: not a number", f.Name, tag))
	}
	return n, true
}
