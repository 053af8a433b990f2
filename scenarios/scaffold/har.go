package scaffold

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/surgekit/surge/scenarios/spec"
)

// har is the part of a HAR 1.2 recording a scaffold reads.
type har struct {
	Log struct {
		Entries []struct {
			Started string `json:"startedDateTime"`
			Request struct {
				Method   string `json:"method"`
				URL      string `json:"url"`
				Headers  []pair `json:"headers"`
				PostData *struct {
					MimeType string `json:"mimeType"`
					Text     string `json:"text"`
					Params   []pair `json:"params"`
				} `json:"postData"`
			} `json:"request"`
			Response struct {
				Status int `json:"status"`
			} `json:"response"`
		} `json:"entries"`
	} `json:"log"`
}

type pair struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// kept are the recorded headers a scaffold copies; the rest are the
// browser's (or credentials, which come from the environment instead).
var kept = map[string]bool{"accept": true, "content-type": true, "x-requested-with": true, "accept-language": true}

// maxThink bounds a recorded pause taken as a think time.
const maxThink = time.Minute

// FromHAR reads a HAR recording and scaffolds its requests to the first
// entry's host, in the order recorded, as one journey.
func FromHAR(path string) (*Scaffold, error) {
	raw, err := spec.ReadFile(path, 256<<20)
	if err != nil {
		return nil, err
	}
	var h har
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("%s: not a HAR file: %w", path, jsonPosition(raw, err))
	}
	if len(h.Log.Entries) == 0 {
		return nil, fmt.Errorf("%s: log.entries: the recording has no requests", path)
	}
	sc := &Scaffold{Source: path, Name: "recorded", Description: "The requests of " + path + ", in the order recorded."}
	seen := map[string]bool{}
	journey := Journey{Name: "recorded"}
	var host string
	var last time.Time
	skipped := 0
	for i, e := range h.Log.Entries {
		at := fmt.Sprintf("log.entries[%d].request", i)
		u, err := url.Parse(e.Request.URL)
		if err != nil || !u.IsAbs() {
			return nil, fmt.Errorf("%s: %s.url: want an absolute URL, have %q", path, at, e.Request.URL)
		}
		if !isMethod(e.Request.Method) {
			return nil, fmt.Errorf("%s: %s.method: %q is not a method surge sends", path, at, e.Request.Method)
		}
		if host == "" {
			host, sc.Target = u.Host, u.Scheme+"://"+u.Host
		}
		if u.Host != host {
			skipped++
			continue
		}
		r := recorded(e.Request.Method, u, e.Request.Headers)
		if pd := e.Request.PostData; pd != nil {
			body(&r, pd.MimeType, pd.Text, pd.Params)
		}
		r.Expect = e.Response.Status
		if r.Expect < 100 || r.Expect > 599 {
			r.Expect = 200
		}
		r.Name = unique(requestName(strings.ToLower(r.Method)+" "+u.Path), seen)
		sc.Requests = append(sc.Requests, r)
		journey.Steps = append(journey.Steps, Step{Request: r.Name, Think: think(e.Started, &last)})
	}
	if skipped > 0 {
		sc.Description += fmt.Sprintf(" (%d requests to other hosts left out.)", skipped)
	}
	sc.Journeys = []Journey{journey}
	return sc, nil
}

// think is the pause since the last request recorded (at most maxThink),
// "" for none.
func think(started string, last *time.Time) string {
	t, err := time.Parse(time.RFC3339Nano, started)
	if err != nil {
		return ""
	}
	d := time.Duration(0)
	if !last.IsZero() && t.After(*last) {
		d = min(t.Sub(*last), maxThink).Round(10 * time.Millisecond)
	}
	*last = t
	if d <= 0 {
		return ""
	}
	return d.String()
}

// recorded is a recorded request's method, path and query, and the
// headers worth keeping; an Authorization header becomes ${env.API_TOKEN}.
func recorded(method string, u *url.URL, headers []pair) Request {
	r := Request{Method: method, Path: u.EscapedPath()}
	if r.Path == "" {
		r.Path = "/"
	}
	if u.RawQuery != "" {
		r.Path += "?" + u.RawQuery
	}
	r.Path = strings.ReplaceAll(r.Path, "${", "$%7B")
	for _, hd := range headers {
		name := strings.ToLower(hd.Name)
		switch {
		case name == "authorization":
			scheme, _, _ := strings.Cut(hd.Value, " ")
			r.Headers = append(r.Headers, [2]string{"Authorization", scheme + " ${env.API_TOKEN}"})
			r.Comment = "the recorded authorization comes from $API_TOKEN: set it before surge run"
		case kept[name] && !strings.HasPrefix(name, ":"):
			r.Headers = append(r.Headers, [2]string{hd.Name, hd.Value})
		}
	}
	return r
}

// body sets the recorded body as JSON, form fields or raw text.
func body(r *Request, mime, text string, params []pair) {
	mime = strings.TrimSpace(strings.Split(mime, ";")[0])
	keep := r.Headers[:0]
	for _, h := range r.Headers { // the body's kind sets its content type
		if !strings.EqualFold(h[0], "content-type") {
			keep = append(keep, h)
		}
	}
	r.Headers = keep
	switch {
	case mime == "application/json":
		var v map[string]any
		if json.Unmarshal([]byte(text), &v) == nil {
			r.JSON = v
			return
		}
	case mime == "application/x-www-form-urlencoded":
		if len(params) == 0 {
			q, _ := url.ParseQuery(text)
			for _, k := range sortedKeys(q) {
				params = append(params, pair{k, q.Get(k)})
			}
		}
		for _, p := range params {
			r.Form = append(r.Form, [2]string{p.Name, p.Value})
		}
		if r.Form == nil {
			r.Form = [][2]string{}
		}
		return
	}
	if text != "" {
		r.Body, r.ContentType = text, firstNonEmpty(mime, "text/plain")
	}
}

func isMethod(m string) bool {
	for _, x := range methods {
		if x == m {
			return true
		}
	}
	return false
}

// jsonPosition turns a JSON error's offset into a line.
func jsonPosition(raw []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	off := int64(-1)
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
		err = fmt.Errorf("%s: want %s, have %s", te.Field, te.Type, te.Value)
	}
	if off < 0 {
		return err
	}
	return fmt.Errorf("line %d: %w", bytes.Count(raw[:min(int(off), len(raw))], []byte("\n"))+1, err)
}
