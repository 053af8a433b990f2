package promexport

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/prompb"
)

// Remote pushes a Gatherer's metrics to a Prometheus remote-write receiver
// (protocol 1.0, prometheus.WriteRequest: what every receiver accepts,
// Prometheus from 2.33 with --web.enable-remote-write-receiver, Mimir,
// Thanos, VictoriaMetrics). A short CI run ends before a scrape would see
// it; pushing each few seconds and once more at the end puts the whole run
// in the receiver. client_golang's remote API sends (snappy, headers,
// retries); prompb is the protocol's own message.
//
// The URL may carry user:password, sent as basic authentication by the
// HTTP client; Redacted is what surge prints of it.
type Remote struct {
	api   *remote.API
	url   *url.URL
	g     prometheus.Gatherer
	clock func() time.Time
}

// NewRemote checks rawURL (http or https with a host: the full write URL,
// such as http://127.0.0.1:9090/api/v1/write) and makes a Remote over g.
func NewRemote(rawURL string, g prometheus.Gatherer, client *http.Client) (*Remote, error) {
	u, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	base := *u
	base.Path, base.RawPath = "", ""
	api, err := remote.NewAPI(base.String(), remote.WithAPIHTTPClient(client), remote.WithAPIPath(u.Path),
		// A push that fails is retried twice within about a second and then
		// left to the next one: the run does not wait on its receiver.
		remote.WithAPIBackoff(remote.BackoffConfig{Min: 200 * time.Millisecond, Max: time.Second, MaxRetries: 2}))
	if err != nil {
		return nil, err
	}
	return &Remote{api: api, url: u, g: g, clock: time.Now}, nil
}

// ParseURL checks a remote-write URL: http or https with a host. Its
// error shows the URL without its password.
func ParseURL(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("not a URL (such as http://127.0.0.1:9090/api/v1/write)")
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http or https URL with a host (such as http://127.0.0.1:9090/api/v1/write)", u.Redacted())
	}
	return u, nil
}

// Redacted is the URL without its password.
func (r *Remote) Redacted() string { return r.url.Redacted() }

// Push gathers the metrics and writes them as one request, every series
// stamped with the same time.
func (r *Remote) Push(ctx context.Context) error {
	mfs, err := r.g.Gather()
	if err != nil {
		return err
	}
	req := WriteRequest(mfs, r.clock())
	if len(req.Timeseries) == 0 {
		return nil
	}
	_, err = r.api.Write(ctx, remote.WriteV1MessageType, req)
	return err
}

// Every pushes each interval until ctx ends, reporting the first failure
// of a streak (and the recovery) to report.
func (r *Remote) Every(ctx context.Context, interval time.Duration, report func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := r.Push(ctx)
		if ctx.Err() != nil {
			return
		}
		if (err != nil) != failing {
			failing = err != nil
			report(err)
		}
	}
}

// WriteRequest turns gathered metric families into remote-write 1.0 series
// at time at: a counter or gauge is one sample, a histogram its classic
// series (_bucket per le with +Inf, _sum, _count), as a scrape stores them;
// each family's type and help go in the metadata.
func WriteRequest(mfs []*dto.MetricFamily, at time.Time) *prompb.WriteRequest {
	ts := at.UnixMilli()
	req := &prompb.WriteRequest{}
	for _, mf := range mfs {
		name := mf.GetName()
		req.Metadata = append(req.Metadata, prompb.MetricMetadata{
			Type: metadataType(mf.GetType()), MetricFamilyName: name, Help: mf.GetHelp(),
		})
		for _, m := range mf.GetMetric() {
			add := func(suffix string, v float64, extra ...string) {
				req.Timeseries = append(req.Timeseries, prompb.TimeSeries{
					Labels:  labels(name+suffix, m.GetLabel(), extra...),
					Samples: []prompb.Sample{{Value: v, Timestamp: ts}},
				})
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				add("", m.GetCounter().GetValue())
			case dto.MetricType_GAUGE:
				add("", m.GetGauge().GetValue())
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				for _, b := range h.GetBucket() {
					if !math.IsInf(b.GetUpperBound(), 1) {
						add("_bucket", float64(b.GetCumulativeCount()), "le", strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64))
					}
				}
				add("_bucket", float64(h.GetSampleCount()), "le", "+Inf")
				add("_sum", h.GetSampleSum())
				add("_count", float64(h.GetSampleCount()))
			case dto.MetricType_SUMMARY:
				s := m.GetSummary()
				for _, q := range s.GetQuantile() {
					add("", q.GetValue(), "quantile", strconv.FormatFloat(q.GetQuantile(), 'g', -1, 64))
				}
				add("_sum", s.GetSampleSum())
				add("_count", float64(s.GetSampleCount()))
			default:
				add("", m.GetUntyped().GetValue())
			}
		}
	}
	return req
}

// labels are __name__, the metric's labels and extra (name, value pairs),
// sorted by name as the protocol requires.
func labels(name string, pairs []*dto.LabelPair, extra ...string) []prompb.Label {
	out := make([]prompb.Label, 0, 1+len(pairs)+len(extra)/2)
	out = append(out, prompb.Label{Name: "__name__", Value: name})
	for _, p := range pairs {
		out = append(out, prompb.Label{Name: p.GetName(), Value: p.GetValue()})
	}
	for i := 0; i+1 < len(extra); i += 2 {
		out = append(out, prompb.Label{Name: extra[i], Value: extra[i+1]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func metadataType(t dto.MetricType) prompb.MetricMetadata_MetricType {
	switch t {
	case dto.MetricType_COUNTER:
		return prompb.MetricMetadata_COUNTER
	case dto.MetricType_GAUGE:
		return prompb.MetricMetadata_GAUGE
	case dto.MetricType_HISTOGRAM:
		return prompb.MetricMetadata_HISTOGRAM
	case dto.MetricType_SUMMARY:
		return prompb.MetricMetadata_SUMMARY
	}
	return prompb.MetricMetadata_UNKNOWN
}
