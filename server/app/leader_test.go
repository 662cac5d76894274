package app

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"

	"github.com/skiff-io/skiff/server/kubeclient"
)

// Each controller's client gets a rate limiter of its own (the loopback
// config's QPS, or the larger budget of the scheduler and the ReplicaSet
// controller), never the shared one.
func TestControllerConfig(t *testing.T) {
	shared := flowcontrol.NewTokenBucketRateLimiter(200, 400)
	loopback := &rest.Config{Host: "https://127.0.0.1:6443", QPS: 200, Burst: 400, UserAgent: "skiff-controllers", RateLimiter: shared}
	for _, tc := range []struct {
		name  string
		qps   float32
		burst int
	}{
		{"job", 200, 400},
		{"replicaset", podQPS, podBurst},
		{"scheduler", podQPS, podBurst},
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

// runAll gives each controller a client of its own, built by
// controllerConfig, and not the shared loopback client: every
// controller's requests carry its own user agent, and the scheduler is
// left out with --disable-scheduler.
func TestRunAllGivesEachControllerItsClient(t *testing.T) {
	var mu sync.Mutex
	agents := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		agents[r.UserAgent()] = true
		mu.Unlock()
		http.NotFound(w, r)
	}))
	defer srv.Close()
	cfg := &rest.Config{Host: srv.URL, QPS: 200, Burst: 400, UserAgent: "skiff-controllers"}
	shared, err := kubeclient.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	saved := controllers
	defer func() { controllers = saved }()
	controllers = nil
	for _, name := range []string{"replicaset", "scheduler", "job"} {
		controllers = append(controllers, controller{name, func(ctx context.Context, cc controllerContext) error {
			_, err := cc.Client.Namespaces().Get(ctx, "probe", metav1.GetOptions{})
			if !apierrors.IsNotFound(err) {
				return err
			}
			return nil
		}})
	}
	for _, disable := range []bool{false, true} {
		mu.Lock()
		agents = map[string]bool{}
		mu.Unlock()
		g, ctx := errgroup.WithContext(context.Background())
		runAll(ctx, g, controllerContext{Config: cfg, Client: shared, Tuning: controllerTuning{DisableScheduler: disable}})
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{"skiff-controllers/replicaset": true, "skiff-controllers/scheduler": !disable, "skiff-controllers/job": true}
		for ua, ok := range want {
			if agents[ua] != ok {
				t.Errorf("disable-scheduler %v: request with user agent %q: %v, want %v", disable, ua, agents[ua], ok)
			}
		}
		if len(agents) != 2+map[bool]int{false: 1, true: 0}[disable] {
			t.Errorf("disable-scheduler %v: user agents %v", disable, agents)
		}
	}
}
