package app

import (
	"context"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"k8s.io/klog/v2"
)

// servePprof serves Go's /debug/pprof on ln until ctx ends. Config.Check
// allowed only a loopback address: there is no authentication. A failure
// is logged, never fatal: profiling must not take the node down.
func servePprof(ctx context.Context, ln net.Listener) error {
	m := http.NewServeMux()
	m.HandleFunc("/debug/pprof/", pprof.Index)
	m.HandleFunc("/debug/pprof/profile", pprof.Profile)
	m.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	m.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: m, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		_ = srv.Close()
		<-errc
	case err := <-errc:
		klog.ErrorS(err, "serving /debug/pprof stopped", "address", ln.Addr())
	}
	return nil
}
