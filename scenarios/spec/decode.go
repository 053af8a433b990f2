package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// Error is one problem in a YAML document: where it is and what is wrong.
type Error struct {
	File string // as given to Decode
	Line int    // 1-based; 0 when unknown
	Path string // key path such as stages.kdca.workers or routes.qr[1].stage
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one document, in line order.
type Errors []*Error

// Error lists the first MaxShown problems, then how many more there are.
func (es Errors) Error() string {
	msgs := make([]string, 0, min(len(es), MaxShown)+1)
	for _, e := range es[:min(len(es), MaxShown)] {
		msgs = append(msgs, e.Error())
	}
	if len(es) > MaxShown {
		msgs = append(msgs, fmt.Sprintf("... and %d more problems", len(es)-MaxShown))
	}
	return strings.Join(msgs, "\n")
}

// MaxShown is how many problems a message lists: the rest are counted.
const MaxShown = 100

// Validator is implemented by documents that check their own values after
// decoding; each problem is reported against a key path.
type Validator interface {
	Validate(p *Problems)
}

// Problems collects validation failures by key path.
type Problems struct {
	list []problem
}

type problem struct{ path, msg string }

// Addf records a problem at path.
func (p *Problems) Addf(path, format string, args ...any) {
	p.list = append(p.list, problem{path, fmt.Sprintf(format, args...)})
}

// Len reports how many problems were recorded.
func (p *Problems) Len() int { return len(p.list) }

// Join builds a key path: Join("stages", "kdca", "workers") is
// "stages.kdca.workers"; an integer element becomes an index: [2].
func Join(parts ...any) string {
	var b strings.Builder
	for _, part := range parts {
		switch v := part.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", v)
		default:
			s := fmt.Sprint(v)
			if s == "" {
				continue
			}
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s)
		}
	}
	return b.String()
}

// Doc remembers where each key of a decoded document stood, so problems
// found later (by a consumer of the decoded value) can still name a line.
type Doc struct {
	File  string
	lines map[string]int // key path -> line of the key (or sequence item)
	// negative are the negative durations found while decoding: they
	// decode, so the document's own Validate still runs and may say more
	// of the same key; Decode reports those it does not.
	negative Errors
}

// Errorf returns an *Error located at path in d.
func (d *Doc) Errorf(path, format string, args ...any) *Error {
	return &Error{File: d.file(), Line: d.Line(path), Path: path, Msg: fmt.Sprintf(format, args...)}
}

// Line is the line of the key at path, or of its nearest ancestor that has
// one; 0 when d is nil or nothing matches.
func (d *Doc) Line(path string) int {
	if d == nil {
		return 0
	}
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := d.lines[p]; ok {
			return l
		}
	}
	return 0
}

func (d *Doc) file() string {
	if d == nil {
		return "<input>"
	}
	return d.File
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i <= 0 {
		return ""
	}
	return p[:i]
}

// Decode strictly decodes one YAML document into v (a pointer): unknown
// keys, wrong types, duplicate keys and values a custom type rejects are
// all errors, collected together as Errors with file, line and key path.
// An empty document is an error. When v implements Validator, Validate runs
// after a clean decode and its problems are located the same way.
func Decode(file string, data []byte, v any) (*Doc, error) {
	doc := &Doc{File: file, lines: map[string]int{}}
	if len(data) > MaxDocument {
		return doc, Errors{{File: file, Msg: fmt.Sprintf("larger than %s, the most a YAML document here may hold", sizeText(MaxDocument))}}
	}
	if n := valueBound(data); n > 2*MaxValues {
		return doc, Errors{{File: file, Msg: fmt.Sprintf("more than %d YAML values, or characters that could each start one (: - , [ { ?), the most a document here may hold", 2*MaxValues)}}
	}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return doc, Errors{{File: file, Msg: "empty document"}}
		}
		return doc, Errors{syntaxError(file, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return doc, Errors{{File: file, Line: extra.Line, Msg: "more than one YAML document in the file"}}
	}
	if n := countNodes(&root, MaxValues+1); n > MaxValues {
		return doc, Errors{{File: file, Msg: fmt.Sprintf("more than %d YAML values (keys, items and scalars), the most a document here may hold", MaxValues)}}
	}
	if errs := checkLengths(&root, reflect.TypeOf(v), "", file); len(errs) > 0 {
		return doc, errs // nothing past a list too long is decoded: each entry would cost memory and time
	}
	idx := newIndex(doc)
	idx.walk(&root, "")
	var errs Errors
	checkKnown(&root, reflect.TypeOf(v), "", doc, &errs)
	parkedAt := map[*yaml.Node][]*yaml.Node{}
	park(&root, idx, &errs, parkedAt)
	decodeErr := root.Decode(v)
	var later []string
	if len(parkedAt) > 0 {
		fill(&root, reflect.ValueOf(v), parkedAt, &later)
		restore(parkedAt)
	}
	if decodeErr != nil || len(later) > 0 {
		errs = append(errs, idx.decodeErrors(&root, reflect.TypeOf(v), parkedAt, decodeErr, later)...)
	}
	errs = validate(v, doc, errs)
	if len(errs) == 0 {
		return doc, nil
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
	return doc, errs
}

// validate adds v's own problems when it decoded cleanly (errs empty),
// then the negative durations its checks did not already name.
func validate(v any, doc *Doc, errs Errors) Errors {
	if len(errs) == 0 {
		if val, ok := v.(Validator); ok {
			var p Problems
			val.Validate(&p)
			for _, pr := range p.list {
				errs = append(errs, doc.Errorf(pr.path, "%s", pr.msg))
			}
		}
	}
	for _, neg := range doc.negative {
		if !slices.ContainsFunc(errs, func(e *Error) bool { return e.Path == neg.Path }) {
			errs = append(errs, neg)
		}
	}
	return errs
}

var lineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+)(?: column (\d+))?: (.*)$`)

func syntaxError(file string, err error) *Error {
	if m := lineRE.FindStringSubmatch(err.Error()); m != nil {
		l, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: l, Msg: m[3]}
	}
	return &Error{File: file, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
}

// index maps positions in the node tree back to key paths.
type index struct {
	doc   *Doc
	byPos map[[2]int]string // (line, column) of a value node -> path
	vals  map[int][]located // line -> the scalar values that start on it
}

type located struct {
	path, value string
	kind        yaml.Kind
}

func newIndex(doc *Doc) *index {
	return &index{doc: doc, byPos: map[[2]int]string{}, vals: map[int][]located{}}
}

func (x *index) walk(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			x.walk(c, path)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := Join(path, k.Value)
			x.doc.lines[p] = k.Line
			x.add(v, p)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := Join(path, i)
			x.doc.lines[p] = c.Line
			x.add(c, p)
		}
	}
}

func (x *index) add(v *yaml.Node, p string) {
	x.byPos[[2]int{v.Line, v.Column}] = p
	x.vals[v.Line] = append(x.vals[v.Line], located{p, v.Value, v.Kind})
	x.walk(v, p)
}

// decodeErrors locates what failed to decode from the node tree; where
// that finds nothing, from yaml.v3's messages (decodeErr and later).
func (x *index) decodeErrors(root *yaml.Node, t reflect.Type, parkedAt map[*yaml.Node][]*yaml.Node, decodeErr error, later []string) Errors {
	big := map[*yaml.Node]bool{}
	bigAncestors(root, parkedAt, big)
	if located := x.locate(root, t, "", big); len(located) > 0 {
		return located
	}
	var out Errors
	if decodeErr != nil {
		out = x.typeErrors(decodeErr)
	}
	if len(later) > 0 {
		out = append(out, x.typeErrors(&yaml.TypeError{Errors: later})...)
	}
	return out
}

var quotedRE = regexp.MustCompile("`([^`]*)`")

// typeErrors turns yaml.v3's "line N: ..." messages into located Errors.
func (x *index) typeErrors(err error) Errors {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return Errors{{File: x.doc.File, Msg: err.Error()}}
	}
	var out Errors
	for _, msg := range te.Errors {
		e := &Error{File: x.doc.File, Msg: msg}
		if m := lineRE.FindStringSubmatch(msg); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			e.Msg = m[3]
			if m[2] != "" {
				col, _ := strconv.Atoi(m[2])
				e.Path = x.byPos[[2]int{e.Line, col}]
			} else {
				e.Path = x.guess(e.Line, msg)
			}
		}
		e.Msg = strings.Replace(e.Msg, "cannot unmarshal", "cannot decode", 1)
		out = append(out, e)
	}
	return out
}

// guess picks the path of the value a yaml.v3 message (which has only a
// line) is about: among the values starting on that line, those of the
// kind it names (!!seq, !!map, else a scalar), then the one it quotes.
func (x *index) guess(line int, msg string) string {
	kind := yaml.ScalarNode
	switch {
	case strings.Contains(msg, "!!seq"):
		kind = yaml.SequenceNode
	case strings.Contains(msg, "!!map"):
		kind = yaml.MappingNode
	}
	var cands []located
	for _, c := range x.vals[line] {
		if c.kind == kind {
			cands = append(cands, c)
		}
	}
	if len(cands) == 1 {
		return cands[0].path
	}
	if m := quotedRE.FindStringSubmatch(msg); m != nil {
		for _, c := range cands {
			if c.value == m[1] {
				return c.path
			}
		}
	}
	return ""
}

// NodeError is what a custom UnmarshalYAML returns for a bad value: a
// yaml.TypeError carrying the node's position, which Decode turns back into
// the key path.
func NodeError(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{
		fmt.Sprintf("line %d column %d: %s", n.Line, n.Column, fmt.Sprintf(format, args...)),
	}}
}

var (
	unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
	durationType    = reflect.TypeOf(time.Duration(0))
)

// checkKnown reports mapping keys that name no field of the Go type they
// decode into, with the valid keys, walking the node tree and the type together.
func checkKnown(n *yaml.Node, t reflect.Type, path string, doc *Doc, errs *Errors) {
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			checkKnown(c, t, path, doc, errs)
		}
		return
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == durationType && n.Kind == yaml.ScalarNode && strings.HasPrefix(strings.TrimSpace(n.Value), "-") {
		doc.negative = append(doc.negative, &Error{File: doc.File, Line: n.Line, Path: path, Msg: fmt.Sprintf("%q: a duration must not be negative", n.Value)})
		return
	}
	// A type that reads itself is checked only where it reads a mapping into
	// its own fields (a scalar-or-mapping value such as an extraction).
	if t == nil || reflect.PointerTo(t).Implements(unmarshalerType) && (n.Kind != yaml.MappingNode || t.Kind() != reflect.Struct) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // the decoder reports the type mismatch
		}
		fields := yamlFields(t)
		unknown, lastUnknown := 0, 0
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := Join(path, k.Value)
			ft, ok := fields[k.Value]
			if !ok {
				lastUnknown = k.Line
				if unknown++; unknown <= MaxShown {
					*errs = append(*errs, &Error{File: doc.File, Line: k.Line, Path: p,
						Msg: fmt.Sprintf("unknown key %q (known: %s)", k.Value, knownKeys(fields))})
				}
				continue
			}
			checkKnown(v, ft, p, doc, errs)
		}
		if unknown > MaxShown { // a mapping of 300,000 unknown keys is one mistake, not 300,000 messages
			*errs = append(*errs, &Error{File: doc.File, Line: lastUnknown, Path: path, Msg: fmt.Sprintf("and %d more unknown keys", unknown-MaxShown)})
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			checkKnown(n.Content[i+1], t.Elem(), Join(path, n.Content[i].Value), doc, errs)
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, c := range n.Content {
			checkKnown(c, t.Elem(), Join(path, i), doc, errs)
		}
	}
}

// yamlFields maps the YAML key of each field of struct t (inline fields
// flattened) to the field's type.
// The maps are made once per type (a document of 100,000 journeys asks for
// the step's fields 500,000 times) and must not be changed by callers.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldTypes.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	out := map[string]reflect.Type{}
	for k, f := range yamlFieldsOf(t) {
		out[k] = f.Type
	}
	fieldTypes.Store(t, out)
	return out
}

var fieldTypes, fieldsOf sync.Map // reflect.Type -> yamlFields's, yamlFieldsOf's map

// yamlFieldsOf maps the YAML key of each field of struct t (inline fields
// flattened) to the field (a map made once per type: do not change it).
func yamlFieldsOf(t reflect.Type) map[string]reflect.StructField {
	if m, ok := fieldsOf.Load(t); ok {
		return m.(map[string]reflect.StructField)
	}
	out := makeFieldsOf(t)
	fieldsOf.Store(t, out)
	return out
}

func makeFieldsOf(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range yamlFieldsOf(ft) {
					out[k] = v
				}
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f
	}
	return out
}

func knownKeys(fields map[string]reflect.Type) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// Some lists names for a message, the first dozen and how many more: an
// error about one of 100,000 journeys names a few, not all.
func Some(names []string) string {
	const shown = 12
	if len(names) <= shown {
		return "[" + strings.Join(names, " ") + "]"
	}
	return fmt.Sprintf("[%s ... and %d more]", strings.Join(names[:shown], " "), len(names)-shown)
}

// MaxDocument is the largest YAML document Decode reads (scenarios,
// profiles and faults files are pages a person writes; a document of this
// size already holds 100,000 journeys and costs a few seconds and about 1 GB
// to check).
const MaxDocument = 16 << 20

// ErrTooLarge is wrapped by ReadFile's error for a file past its limit.
var ErrTooLarge = errors.New("file too large")

// ReadFile reads a file of at most limit bytes, refusing a larger one
// before reading it, with an error that names the file and the limit.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return readAll(f, path, limit)
}

// ErrOutside is wrapped by ReadFileIn's error for a relative name that
// leaves its folder.
var ErrOutside = errors.New("outside the document's folder")

// ReadFileIn reads a file a document names (at most limit bytes): an
// absolute name as it is, a relative one within dir, the document's
// folder, only. A relative name that leaves dir, by .. or through a
// symbolic link, is refused (os.Root): a document checked in CI cannot
// make surge open, or quote a line of, a file outside its tree unless it
// names that file by its absolute path.
func ReadFileIn(dir, name string, limit int64) ([]byte, error) {
	if filepath.IsAbs(name) {
		return ReadFile(name, limit)
	}
	shown := filepath.Join(dir, name)
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.Open(name)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrPermission) {
			return nil, fmt.Errorf("%s: %w (%s; name it by its absolute path to read it)", shown, ErrOutside, dir)
		}
		return nil, fmt.Errorf("%s: %w", shown, errors.Unwrap(err))
	}
	return readAll(f, shown, limit)
}

// PathIn is how ReadFileIn shows a name: as it is if absolute, else
// joined to dir.
func PathIn(dir, name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(dir, name)
}

func readAll(f *os.File, path string, limit int64) ([]byte, error) {
	defer f.Close()
	size := int64(512)
	if st, err := f.Stat(); err == nil && st.Size() > limit {
		return nil, fmt.Errorf("%s: %w (larger than %s, the most it may hold)", path, ErrTooLarge, sizeText(limit))
	} else if err == nil && st.Mode().IsRegular() {
		size = st.Size() + 1 // read once into the file's size, not by doubling (a 100 MB results file took 254 MB)
	}
	var b bytes.Buffer
	b.Grow(int(size))
	if _, err := b.ReadFrom(io.LimitReader(f, limit+1)); err != nil {
		return nil, err
	}
	data := b.Bytes()
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: %w (larger than %s, the most it may hold)", path, ErrTooLarge, sizeText(limit))
	}
	return data, nil
}

func sizeText(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
