package rpc

import (
	"fmt"
	"sort"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/surgekit/surge/scenarios/spec"
)

// Check compares a message template (a request's message:, decoded from
// YAML) with the message it must build, before any call: every key a field
// of the message (by its proto or JSON name), every literal value of the
// field's type. A string that is exactly one variable ("${x}") may stand
// for any value; the run checks it when it has it. add gets the key path
// below path and what is wrong there.
func Check(md protoreflect.MessageDescriptor, tmpl map[string]any, path string, add func(path, msg string)) {
	if strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
		return // the well-known types have JSON forms of their own: protojson reads them at run time
	}
	keys := make([]string, 0, len(tmpl))
	for k := range tmpl {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		at := spec.Join(path, k)
		fd := md.Fields().ByJSONName(k)
		if fd == nil {
			fd = md.Fields().ByName(protoreflect.Name(k))
		}
		if fd == nil {
			add(at, fmt.Sprintf("%s has no field %q (it has %s)", md.FullName(), k, fieldNames(md)))
			continue
		}
		checkField(fd, tmpl[k], at, add)
	}
}

func fieldNames(md protoreflect.MessageDescriptor) string {
	var names []string
	for i := range md.Fields().Len() {
		names = append(names, string(md.Fields().Get(i).Name()))
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

func checkField(fd protoreflect.FieldDescriptor, v any, at string, add func(path, msg string)) {
	if isVar(v) || v == nil {
		return
	}
	switch {
	case fd.IsMap():
		m, ok := v.(map[string]any)
		if !ok {
			add(at, fmt.Sprintf("field %s is a map: want a mapping, have %s", fd.Name(), typeName(v)))
			return
		}
		for k, e := range m {
			checkValue(fd.MapValue(), e, spec.Join(at, k), add)
		}
	case fd.IsList():
		l, ok := v.([]any)
		if !ok {
			add(at, fmt.Sprintf("field %s is repeated: want a list, have %s", fd.Name(), typeName(v)))
			return
		}
		for i, e := range l {
			checkValue(fd, e, spec.Join(at, i), add)
		}
	default:
		checkValue(fd, v, at, add)
	}
}

// checkValue checks one value of fd's kind.
func checkValue(fd protoreflect.FieldDescriptor, v any, at string, add func(path, msg string)) {
	if isVar(v) || v == nil {
		return
	}
	want := ""
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		m, ok := v.(map[string]any)
		if !ok {
			if strings.HasPrefix(string(fd.Message().FullName()), "google.protobuf.") {
				return
			}
			want = "a mapping (message " + string(fd.Message().FullName()) + ")"
			break
		}
		Check(fd.Message(), m, at, add)
		return
	case protoreflect.BoolKind:
		if _, ok := v.(bool); !ok {
			want = "true or false"
		}
	case protoreflect.StringKind, protoreflect.BytesKind:
		if _, ok := v.(string); !ok {
			want = "a string"
		}
	case protoreflect.EnumKind:
		switch x := v.(type) {
		case string:
			if fd.Enum().Values().ByName(protoreflect.Name(x)) == nil && !strings.Contains(x, "${") {
				want = "one of " + enumNames(fd.Enum())
			}
		case int, int64, uint64:
		default:
			want = "one of " + enumNames(fd.Enum())
		}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		switch v.(type) {
		case int, int64, uint64, float64:
		default:
			want = "a number"
		}
	default: // the integers (a 64-bit one may be a string in protobuf's JSON)
		switch x := v.(type) {
		case int, int64, uint64:
		case string:
			if strings.Contains(x, "${") {
				return
			}
			if _, err := fmt.Sscan(x, new(int64)); err != nil {
				want = "an integer"
			}
		default:
			want = "an integer"
		}
	}
	if want != "" {
		add(at, fmt.Sprintf("field %s is %s: want %s, have %s", fd.Name(), fd.Kind(), want, typeName(v)))
	}
}

func enumNames(ed protoreflect.EnumDescriptor) string {
	var names []string
	for i := range ed.Values().Len() {
		names = append(names, string(ed.Values().Get(i).Name()))
	}
	return strings.Join(names, ", ")
}

// isVar: a string that is exactly one variable.
func isVar(v any) bool {
	s, ok := v.(string)
	return ok && strings.HasPrefix(s, "${") && strings.HasSuffix(s, "}") && strings.Count(s, "${") == 1
}

func typeName(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("the string %q", x)
	case bool:
		return fmt.Sprint(x)
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("%v", v)
}
