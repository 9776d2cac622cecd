package server

import (
	"net/http"
	"net/http/httputil"
	"time"

	asymjwtprom "github.com/asymjwt/asymjwt/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is what a server's --metrics-listen serves: the verifier's,
// replay store's and key source's metrics (asymjwtprom), the proxy's own,
// and the Go runtime's and process's (CPU, memory, file descriptors), in
// a registry of their own.
type Metrics struct {
	// Registry holds every collector below.
	Registry *prometheus.Registry
	// Verifier takes the verifier's outcomes (asymjwt.WithObserver(Verifier.Observe)),
	// wraps the replay store and counts key source loads.
	Verifier *asymjwtprom.Metrics
	// Proxy is what ProxyConfig.Metrics takes; nil unless NewMetrics was
	// asked for upstream metrics.
	Proxy *ProxyMetrics
}

// ProxyMetrics are the proxy's own metrics, about its upstream.
type ProxyMetrics struct {
	upstreamTime   prometheus.Histogram
	upstreamErrors prometheus.Counter
}

// NewMetrics registers the servers' metrics in a new registry, with the
// proxy's upstream metrics when upstream is set. The build info's version
// is the asymjwt command's, from its build info.
func NewMetrics(upstream bool) (*Metrics, error) {
	reg := prometheus.NewRegistry()
	v, err := asymjwtprom.New(asymjwtprom.WithRegisterer(reg))
	if err != nil {
		return nil, err
	}
	p := &ProxyMetrics{
		upstreamTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: v.Namespace(), Name: "proxy_upstream_duration_seconds", Buckets: asymjwtprom.DefaultBuckets,
			Help: "Time from sending an accepted request to the upstream to its response headers, in seconds.",
		}),
		upstreamErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: v.Namespace(), Name: "proxy_upstream_errors_total",
			Help: "Accepted requests the upstream did not answer (502 Bad Gateway).",
		}),
	}
	cs := []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}
	if upstream {
		cs = append(cs, p.upstreamTime, p.upstreamErrors)
	} else {
		p = nil
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return &Metrics{Registry: reg, Verifier: v, Proxy: p}, nil
}

// Handler serves the metrics in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	return mux
}

// instrument makes rp time its round trips to the upstream and count the
// requests it answers with 502.
func (p *ProxyMetrics) instrument(rp *httputil.ReverseProxy) {
	next := rp.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	rp.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		start := time.Now()
		resp, err := next.RoundTrip(r)
		p.upstreamTime.Observe(time.Since(start).Seconds())
		return resp, err
	})
	handle := rp.ErrorHandler
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		p.upstreamErrors.Inc()
		handle(w, r, err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
