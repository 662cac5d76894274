package app

import (
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
)

// Each controller's client gets a rate limiter of its own (the loopback
// config's QPS, or the scheduler's larger budget), never the shared one.
func TestControllerConfig(t *testing.T) {
	shared := flowcontrol.NewTokenBucketRateLimiter(200, 400)
	loopback := &rest.Config{Host: "https://127.0.0.1:6443", QPS: 200, Burst: 400, UserAgent: "skiff-controllers", RateLimiter: shared}
	for _, tc := range []struct {
		name  string
		qps   float32
		burst int
	}{
		{"replicaset", 200, 400},
		{"scheduler", schedulerQPS, schedulerBurst},
	} {
		cfg := controllerConfig(loopback, tc.name)
		if cfg.RateLimiter != nil {
			t.Errorf("%s: shares the loopback client's rate limiter", tc.name)
		}
		if cfg.QPS != tc.qps || cfg.Burst != tc.burst {
			t.Errorf("%s: QPS %v burst %d, want %v and %d", tc.name, cfg.QPS, cfg.Burst, tc.qps, tc.burst)
		}
		if want := "skiff-controllers/" + tc.name; cfg.UserAgent != want {
			t.Errorf("%s: user agent %q, want %q", tc.name, cfg.UserAgent, want)
		}
	}
	if loopback.RateLimiter != shared || loopback.QPS != 200 || loopback.UserAgent != "skiff-controllers" {
		t.Error("controllerConfig changed the config it was given")
	}
}
