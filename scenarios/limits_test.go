package scenarios

import (
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// hostileShapes are scenario documents shaped to cost far more to check
// than their bytes suggest (the hardening round's attacks): each must be
// refused, or checked, within the memory bound FuzzParseMemory holds.
func hostileShapes(t testing.TB) map[string][]byte {
	smoke, err := os.ReadFile("smoke.yaml")
	if err != nil {
		t.Fatal(err)
	}
	profile := func(n int, item string) []byte {
		return []byte(strings.Replace(string(smoke), "profile: [33.3%, 33.4%, 33.3%]", "profile: ["+strings.Repeat(item+",", n-1)+item+"]", 1))
	}
	var journeys, unknown, laughs strings.Builder
	journeys.WriteString(string(smoke) + "\n")
	journeys.WriteString("requests:\n")
	for i := range 150_000 {
		fmt.Fprintf(&journeys, "  r%d: {method: GET, path: /}\n", i)
	}
	unknown.WriteString("name: u\n")
	for i := range 300_000 {
		fmt.Fprintf(&unknown, "k%d: 1\n", i)
	}
	laughs.WriteString("name: l\na: &a [x,x,x,x,x,x,x,x,x,x]\n")
	for i, prev := 0, "a"; i < 8; i++ {
		name := fmt.Sprintf("b%d", i)
		fmt.Fprintf(&laughs, "%s: &%s [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n", name, name, prev, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = name
	}
	laughs.WriteString("arrivals: {profile: *b7}\n")
	return map[string][]byte{
		"profile of 5,000,000":  profile(5_000_000, "1"),
		"profile of 1,000,000":  profile(1_000_000, "1"),
		"profile of 200,000":    profile(200_000, "1%"),
		"profile of 90,000 bad": profile(90_000, "1"),
		"150,000 requests":      []byte(journeys.String()),
		"300,000 unknown keys":  []byte(unknown.String()),
		"billion laughs":        []byte(laughs.String()),
		"deep nesting":          []byte("name: d\narrivals: {profile: " + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + "}\n"),
	}
}

// allocated is how many bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// FuzzParseMemory: whatever the bytes, Parse allocates at most
// 64 MB + 3 KB per input byte, and never more than 1 GiB: a document is
// bounded by what it holds (spec.MaxValues, the max tags), not only by its
// size. The seeds are the hostile shapes; the heaviest per byte is a
// 90,000-bucket profile where every bucket is wrong (about 1.7 KB a byte:
// a located message each; 2.5 KB under the race detector).
func FuzzParseMemory(f *testing.F) {
	shapes := hostileShapes(f)
	for _, name := range slices.Sorted(maps.Keys(shapes)) {
		f.Add(shapes[name])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var err error
		got := allocated(func() { _, err = Parse("fuzz.yaml", data) })
		limit := min(64<<20+3072*uint64(len(data)), 1<<30)
		if got > limit {
			first, _, _ := strings.Cut(fmt.Sprint(err), "\n")
			t.Errorf("%d bytes in, %d MB allocated, over the bound of %d MB (%s)", len(data), got>>20, limit>>20, first)
		}
	})
}

// TestBoundsAndNegativeDurationsNameTheKey: a list past its bound, a
// journey of too many steps and a negative duration (plain, in a
// distribution, in a field) are each an error at their line and key.
func TestBoundsAndNegativeDurationsNameTheKey(t *testing.T) {
	smoke, err := os.ReadFile("smoke.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ from, to, want string }{
		{"profile: [33.3%, 33.4%, 33.3%]", "profile: [" + strings.Repeat("1%,", 100_000) + "1%]", "smoke.yaml:15: arrivals.profile: 100001 entries, more than the 100000 it may hold"},
		{"    - request: qr\n", strings.Repeat("    - request: qr\n", 1001), "smoke.yaml:25: journeys.returning: 1003 entries, more than the 1000 it may hold"},
		{`- think: "uniform(100ms, 1s)"`, `- think: "-1s"`, `smoke.yaml:27: journeys.returning[1].think: distribution "-1s": a negative duration`},
		{`- think: "uniform(100ms, 1s)"`, `- think: "const(-1s)"`, `value: negative duration -1s`},
		{"timeout: 10s", "timeout: -10s", `smoke.yaml:40: behaviour.timeout: must not be negative`},
		{"slo:\n", "gate: {recovery_hold: -1m}\nslo:\n", `gate.recovery_hold: "-1m": a duration must not be negative`},
		{"bucket: 5s", "bucket: -5s", `smoke.yaml:13: arrivals.bucket: must be a positive duration`}, // the scenario's own check says it
	} {
		_, err := Parse("smoke.yaml", []byte(strings.Replace(string(smoke), c.from, c.to, 1)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			first, _, _ := strings.Cut(fmt.Sprint(err), "\n")
			t.Errorf("%.40s: %s\nwant %q", c.to, first, c.want)
		}
	}
}
