package refserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxBody is the largest request body the API reads.
const maxBody = 64 << 10

// apiError is an error a client sees as {"error": {...}} with Status.
type apiError struct {
	Status     int           `json:"-"`
	Code       string        `json:"code"`
	Message    string        `json:"message"`
	Field      string        `json:"field,omitempty"`
	Stage      string        `json:"stage,omitempty"`
	RetryAfter time.Duration `json:"-"`
}

func (e *apiError) Error() string { return e.Message }

func badField(status int, code, field, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// missing reports a required field that is absent or empty.
func missing(field string) *apiError {
	return badField(http.StatusUnprocessableEntity, "missing_field", field, "field %q is required", field)
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.Encode(v)
}

// writeError writes err as the API's error body; errors that are not
// apiErrors are 500s, or 504 when the request ran out of time.
func writeError(w http.ResponseWriter, err error) int {
	ae := toAPIError(err)
	if ae.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((ae.RetryAfter+time.Second-1)/time.Second)))
	}
	writeJSON(w, ae.Status, map[string]*apiError{"error": ae})
	return ae.Status
}

// toAPIError is err as the API says it.
func toAPIError(err error) *apiError {
	var ae *apiError
	if !errors.As(err, &ae) {
		switch {
		case errors.Is(err, errStoreUnavailable):
			ae = &apiError{Status: http.StatusServiceUnavailable, Code: "store_unavailable", RetryAfter: 5 * time.Second,
				Message: "the store cannot write (disk full?): nothing was stored; try again later"}
		case errors.Is(err, errDeadline):
			ae = &apiError{Status: http.StatusGatewayTimeout, Code: "timeout", Message: "the request did not finish within the server's request timeout"}
		default:
			ae = &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: err.Error()}
		}
	}
	return ae
}

var errDeadline = errors.New("refserver: request deadline exceeded")

// decodeBody reads one JSON object into v, strictly, and turns every
// problem into an apiError that names the field.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	body := http.MaxBytesReader(w, r.Body, maxBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil { // nothing but white space may follow the object (More misses a stray ] or })
		rest, rerr := io.ReadAll(io.MultiReader(dec.Buffered(), body))
		if rerr != nil {
			err = rerr
		} else if len(bytes.TrimSpace(rest)) > 0 {
			err = errors.New("trailing data after the JSON object")
		}
	}
	if err == nil {
		return nil
	}
	var (
		tooBig *http.MaxBytesError
		syn    *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooBig):
		return badField(http.StatusRequestEntityTooLarge, "body_too_large", "", "request body over %d bytes", tooBig.Limit)
	case errors.As(err, &syn):
		return badField(http.StatusBadRequest, "bad_json", "", "malformed JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		return badField(http.StatusBadRequest, "bad_type", typ.Field, "field %q must be %s, have %s", typ.Field, typ.Type, typ.Value)
	case errors.Is(err, io.EOF):
		return badField(http.StatusBadRequest, "bad_json", "", "empty body: want a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badField(http.StatusBadRequest, "bad_json", "", "malformed JSON: unexpected end of body")
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		f = strings.Trim(f, `"`)
		return badField(http.StatusBadRequest, "unknown_field", f, "unknown field %q", f)
	}
	return badField(http.StatusBadRequest, "bad_json", "", "%v", err)
}
