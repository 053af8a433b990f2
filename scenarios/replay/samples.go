package replay

import (
	"bytes"
	"regexp"
	"strings"

	"github.com/surgekit/surge/scenarios/results"
)

// A failure sample (results.FailureSample) keeps what a failed answer
// looked like, for debugging from the run directory: its status, its
// headers, the first bytes of its body, or the transport's error. The run
// directory is shared (attached to tickets, kept as CI artifacts), so a
// sample keeps no credential: headers that carry one (cookies,
// authorization, anything named like a token, key or secret) keep their
// name only, and in the body every value whose JSON key or form field is
// named so is replaced by [redacted].

// sensitive matches a header or field name that may carry a credential.
var sensitive = regexp.MustCompile(`(?i)(token|secret|passw|auth|cookie|session|key|signature|credential|sms_code|otp|pin\b)`)

// jsonSecret matches a JSON member whose key is sensitive, and formSecret a
// form or query field.
var (
	jsonSecret = regexp.MustCompile(`(?i)"([^"\\]*(?:token|secret|passw|auth|cookie|session|key|signature|credential|sms_code|otp|pin)[^"\\]*)"(\s*:\s*)("(?:[^"\\]|\\.)*"?|[^,}\]\s]+)`)
	formSecret = regexp.MustCompile(`(?i)\b([A-Za-z0-9_.-]*(?:token|secret|passw|auth|session|key|signature|credential|sms_code|otp)[A-Za-z0-9_.-]*)=([^&\s"]+)`)
)

// sampleOf is a failure sample of an attempt's answer, redacted.
func sampleOf(endpoint string, at results.Outcome, ans *answer) results.FailureSample {
	f := results.FailureSample{Endpoint: endpoint, Kind: at.Err, At: at.At, Status: ans.status}
	if ans.err != nil {
		f.Error = ans.err.Error()
	}
	f.Headers = redactHeaders(ans.head)
	body := ans.body[:min(len(ans.body), results.MaxSampleBody)]
	f.Body = redactBody(string(bytes.ToValidUTF8(body, []byte("?"))))
	return f
}

// redactHeaders keeps a head's header lines (not the status line), each
// sensitive one by its name only.
func redactHeaders(head []byte) string {
	lines := strings.Split(strings.TrimRight(string(head), "\n"), "\n")
	if len(lines) <= 1 {
		return ""
	}
	var b strings.Builder
	for _, l := range lines[1:] {
		name, _, ok := strings.Cut(l, ":")
		if ok && sensitive.MatchString(name) {
			l = name + ": [redacted]"
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return strings.TrimRight(b.String(), "\n")
}

// redactBody replaces the values of sensitive JSON members and form fields.
func redactBody(s string) string {
	s = jsonSecret.ReplaceAllString(s, `"$1"$2"[redacted]"`)
	return formSecret.ReplaceAllString(s, `$1=[redacted]`)
}
