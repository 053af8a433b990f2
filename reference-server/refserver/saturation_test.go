package refserver

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The QR path of kakao runs through one stage of c workers with a constant
// service time S, so the server's capacity for it is c/S.
func saturationProfile(t *testing.T, c int, s time.Duration) string {
	data, err := readFile("testdata/fast.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Replace(data, "relay.kakao: {workers: 32, queue: 256, service: 0s}",
		"relay.kakao: {workers: "+itoa(c)+", queue: 8, when_full: shed, service: "+s.String()+"}", 1)
}

func TestSaturationPlateausNearCapacityAndSheds(t *testing.T) {
	if testing.Short() {
		t.Skip("drives 3x overload for 3s")
	}
	const (
		workers = 4
		service = 20 * time.Millisecond
		offered = 600 // per second: 3x the capacity c/S = 200/s
		period  = 3 * time.Second
	)
	p := parseProfile(t, saturationProfile(t, workers, service))
	ts := startServer(t, p)
	cred := ts.issue("u", "kakao")
	body, _ := json.Marshal(ts.qrBody("kakao", cred))
	relay := ts.stages["relay.kakao"]
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 512}}

	var ok, shed, other atomic.Int64
	var lastOK atomic.Int64
	var wg sync.WaitGroup
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	stop := make(chan struct{})
	var maxBusy, maxQueued, maxGoroutines int
	sampled := make(chan struct{})
	go func() { // the server's own bounds, sampled throughout the overload
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			_, b, q := relay.pool.state()
			maxBusy, maxQueued = max(maxBusy, b), max(maxQueued, q)
			maxGoroutines = max(maxGoroutines, runtime.NumGoroutine())
		}
	}()

	start := time.Now()
	n := int(offered * period.Seconds())
	for i := range n { // open model: send on schedule whatever the answers do
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / offered)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Post(ts.URL+"/v1/qr", "application/json", bytes.NewReader(body))
			if err != nil {
				other.Add(1)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			switch resp.StatusCode {
			case 201:
				ok.Add(1)
				lastOK.Store(int64(time.Since(start)))
			case 503:
				if resp.Header.Get("Retry-After") == "" {
					t.Error("503 without Retry-After")
				}
				shed.Add(1)
			default:
				other.Add(1)
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)

	elapsed := time.Duration(lastOK.Load()).Seconds()
	capacity := workers / service.Seconds()
	throughput := float64(ok.Load()) / elapsed
	t.Logf("offered %d/s for %v: served %d (%.0f/s, capacity %.0f/s), shed %d, other %d; max busy %d, queued %d, goroutines %d; heap %+.1f MB",
		offered, period, ok.Load(), throughput, capacity, shed.Load(), other.Load(), maxBusy, maxQueued, maxGoroutines,
		float64(int64(after.HeapInuse)-int64(before.HeapInuse))/1e6)
	if throughput > 1.05*capacity || throughput < 0.7*capacity {
		t.Errorf("throughput %.0f/s, want a plateau near c/S = %.0f/s", throughput, capacity)
	}
	if shed.Load() < int64(n)/3 {
		t.Errorf("shed %d of %d at 3x overload, want most of the excess shed", shed.Load(), n)
	}
	if other.Load() != 0 {
		t.Errorf("%d answers were neither 201 nor 503", other.Load())
	}
	if maxBusy > workers || maxQueued > 8 {
		t.Errorf("stage held %d busy and %d queued, beyond its bounds 4 and 8", maxBusy, maxQueued)
	}
	if grown := int64(after.HeapInuse) - int64(before.HeapInuse); grown > 64<<20 {
		t.Errorf("heap grew %d MB under overload", grown>>20)
	}
}
