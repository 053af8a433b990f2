package scenarios

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"github.com/surgekit/surge/scenarios/spec"
)

// MaxDataFile is the largest data or multipart file a run reads, and
// MaxColumns the most columns a data file's header may have.
const (
	MaxDataFile = 256 << 20
	MaxColumns  = 1000
)

// Data is what a run reads besides the scenario: the data files' rows (the
// columns the templates use, each value as JSON text) and the multipart
// parts' files.
type Data struct {
	Tables map[string]*Table
	Files  map[string][]byte // by the path the scenario names
}

// Table is one data file's rows, reduced to the columns used.
type Table struct {
	Name    string
	File    string // as the scenario names it
	Policy  string
	Columns []string            // used columns, sorted
	Rows    [][]json.RawMessage // Rows[i][j]: row i's value of Columns[j]
}

// uses maps each variable the journeys' requests read to those requests.
func (s *Scenario) uses() map[string][]string {
	out := map[string][]string{} // variable -> requests using it
	for _, name := range s.requestNames() {
		r, _ := s.Request(name)
		if !s.requestUsed(name) {
			continue
		}
		for _, v := range r.Uses() {
			out[v] = append(out[v], name)
		}
	}
	return out
}

func (s *Scenario) requestUsed(name string) bool {
	for _, steps := range s.Journeys {
		for _, st := range steps {
			if st.Request == name {
				return true
			}
		}
	}
	return false
}

// EnvUses lists the environment variables the scenario's requests read
// (${env.NAME}), sorted, each with a request that reads it.
func (s *Scenario) EnvUses() [][2]string {
	var out [][2]string
	for v, reqs := range s.uses() {
		if name, ok := strings.CutPrefix(v, EnvPrefix); ok {
			out = append(out, [2]string{name, reqs[0]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// LoadData reads the scenario's data files and multipart files: absolute
// paths as they are, relative ones within dir (the scenario file's
// directory) only (spec.ReadFileIn). Every column a template uses must be
// in its file (in each row of a JSON-lines file). Errors name the file and
// line, and quote of the file's content at most its header's column names.
func (s *Scenario) LoadData(dir string) (*Data, error) {
	d := &Data{Tables: map[string]*Table{}, Files: map[string][]byte{}}
	used := map[string]map[string]bool{}
	for v := range s.uses() {
		if f, col, ok := strings.Cut(v, "."); ok && f+"." != EnvPrefix {
			if used[f] == nil {
				used[f] = map[string]bool{}
			}
			used[f][col] = true
		}
	}
	for _, name := range spec.SortedKeys(s.Data) {
		f := s.Data[name]
		t, err := loadTable(dir, name, f, spec.SortedKeys(used[name]))
		if err != nil {
			return nil, s.doc.Errorf(spec.Join("data", name, "file"), "%v", err)
		}
		t.File = f.File
		d.Tables[name] = t
	}
	for _, name := range s.requestNames() {
		r, _ := s.Request(name)
		for i, part := range r.Multipart {
			if part.File == "" || d.Files[part.File] != nil {
				continue
			}
			b, err := spec.ReadFileIn(dir, part.File, MaxDataFile)
			if err != nil {
				return nil, s.doc.Errorf(spec.Join("requests", name, "multipart", i, "file"), "%v", err)
			}
			d.Files[part.File] = b
		}
	}
	return d, nil
}

func loadTable(dir, name string, f Feeder, cols []string) (*Table, error) {
	path := spec.PathIn(dir, f.File)
	raw, err := spec.ReadFileIn(dir, f.File, MaxDataFile)
	if err != nil {
		return nil, err
	}
	t := &Table{Name: name, Policy: f.Policy, Columns: cols}
	if f.Format == "jsonl" || f.Format == "" && (strings.HasSuffix(path, ".jsonl") || strings.HasSuffix(path, ".ndjson")) {
		err = t.readJSONL(path, raw)
	} else {
		err = t.readCSV(path, raw)
	}
	if err != nil {
		return nil, err
	}
	if len(t.Rows) == 0 {
		return nil, fmt.Errorf("%s: no rows", path)
	}
	return t, nil
}

func (t *Table) readCSV(path string, raw []byte) error {
	r := csv.NewReader(bytes.NewReader(raw))
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		return fmt.Errorf("%s:1: the header row: %v", path, err)
	}
	if len(header) > MaxColumns {
		return fmt.Errorf("%s:1: the header row has %d columns, more than the %d a data file may have", path, len(header), MaxColumns)
	}
	index := make([]int, len(t.Columns))
	for j, c := range t.Columns {
		index[j] = -1
		for k, h := range header {
			if strings.TrimSpace(h) == c {
				index[j] = k
			}
		}
		if index[j] < 0 {
			return fmt.Errorf("%s:1: no column %q (%s)", path, c, headerText(header))
		}
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		row := make([]json.RawMessage, len(index))
		for j, k := range index {
			row[j], _ = json.Marshal(rec[k])
		}
		t.Rows = append(t.Rows, row)
	}
}

func (t *Table) readJSONL(path string, raw []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, MaxDataFile)
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(text, &obj); err != nil {
			return fmt.Errorf("%s:%d: want one JSON object a line%s", path, line, jsonErrorAt(err))
		}
		row := make([]json.RawMessage, len(t.Columns))
		for j, c := range t.Columns {
			v, ok := obj[c]
			if !ok {
				return fmt.Errorf("%s:%d: no %q in the object (the scenario reads ${%s.%s})", path, line, c, t.Name, c)
			}
			row[j] = bytes.Clone(v)
		}
		t.Rows = append(t.Rows, row)
	}
	return sc.Err()
}

// headerText names a header's columns for a message, when they read as
// column names (at most 50 of them, each short and plain); otherwise only
// how many there are: a file that is not a data file (a key, a password
// file) is not quoted back.
func headerText(header []string) string {
	if len(header) > 50 {
		return fmt.Sprintf("the header has %d columns", len(header))
	}
	for _, h := range header {
		if !columnName.MatchString(strings.TrimSpace(h)) {
			return fmt.Sprintf("the first line has %d fields, and does not read as a header of column names", len(header))
		}
	}
	return "columns: " + strings.Join(header, ", ")
}

var columnName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_ .-]{0,63}$`)

// jsonErrorAt says where a line failed to decode as JSON, without quoting
// it (a JSON syntax error names the character it stopped at).
func jsonErrorAt(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf(" (not JSON at byte %d)", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf(" (a JSON %s, not an object)", te.Value)
	}
	return ""
}
