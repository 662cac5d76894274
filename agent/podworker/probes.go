package podworker

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/skiff-io/skiff/agent/plan"
	"github.com/skiff-io/skiff/agent/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/klog/v2"
)

// probes runs the startup, readiness and liveness probes of a pod's
// running containers, one goroutine per container instance.
type probes struct {
	p    *pod
	mu   sync.Mutex
	byID map[string]*prober
	wg   sync.WaitGroup
}

type prober struct {
	id, name string
	cancel   context.CancelFunc
	grace    time.Duration
	host     string // the pod's IP, where httpGet, tcpSocket and grpc probes go

	// Guarded by probes.mu.
	ready, started bool
	failed         string // why liveness or startup failed
	handled        bool
}

func newProbes(p *pod) *probes { return &probes{p: p, byID: map[string]*prober{}} }

// follow starts probers for running instances and stops those of
// instances that no longer run.
func (ps *probes) follow(ctx context.Context, spec *corev1.Pod, insts []runtime.ContainerStatus) {
	running := map[string]runtime.ContainerStatus{}
	for _, c := range insts {
		if c.State == runtime.StateRunning {
			running[c.ID] = c
		}
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for id, pr := range ps.byID {
		if _, ok := running[id]; !ok {
			pr.cancel()
			delete(ps.byID, id)
		}
	}
	for id, c := range running {
		if ps.byID[id] != nil {
			continue
		}
		cs := containerSpec(spec, c.Name)
		if cs == nil {
			continue
		}
		pctx, cancel := context.WithCancel(ctx)
		pr := &prober{id: id, name: c.Name, cancel: cancel, grace: podGrace(spec), host: ps.p.w.cfg.NodeIP}
		if len(ps.p.podIPs) > 0 {
			pr.host = ps.p.podIPs[0]
		}
		pr.started = cs.StartupProbe == nil
		pr.ready = cs.ReadinessProbe == nil && pr.started
		ps.byID[id] = pr
		if cs.StartupProbe == nil && cs.ReadinessProbe == nil && cs.LivenessProbe == nil {
			continue
		}
		ps.wg.Add(1)
		go func() {
			defer ps.wg.Done()
			ps.run(pctx, spec, cs, pr, c.StartedAt)
		}()
	}
}

func podGrace(spec *corev1.Pod) time.Duration {
	if spec.Spec.TerminationGracePeriodSeconds != nil {
		return time.Duration(*spec.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	return corev1.DefaultTerminationGracePeriodSeconds * time.Second
}

func (ps *probes) state(id string) (ready, started bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if pr := ps.byID[id]; pr != nil {
		return pr.ready && pr.started, pr.started
	}
	return false, false
}

// unhealthy returns a Stop for each instance whose liveness or startup
// probe failed, once.
func (ps *probes) unhealthy() []plan.Action {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	var out []plan.Action
	for _, pr := range ps.byID {
		if pr.failed != "" && !pr.handled {
			pr.handled = true
			out = append(out, plan.Action{Kind: plan.Stop, Container: pr.name, ID: pr.id, Grace: pr.grace})
		}
	}
	return out
}

func (ps *probes) nextWake() time.Time { return time.Time{} }

func (ps *probes) stopAll() {
	ps.mu.Lock()
	for id, pr := range ps.byID {
		pr.cancel()
		delete(ps.byID, id)
	}
	ps.mu.Unlock()
	ps.wg.Wait()
}

// run probes one container instance until ctx ends.
func (ps *probes) run(ctx context.Context, spec *corev1.Pod, c *corev1.Container, pr *prober, startedAt time.Time) {
	type state struct {
		probe     *corev1.Probe
		kind      string
		next      time.Time
		successes int32
		failures  int32
	}
	var list []*state
	add := func(p *corev1.Probe, kind string) {
		if p != nil {
			list = append(list, &state{probe: p, kind: kind, next: startedAt.Add(time.Duration(p.InitialDelaySeconds) * time.Second)})
		}
	}
	add(c.StartupProbe, "Startup")
	add(c.ReadinessProbe, "Readiness")
	add(c.LivenessProbe, "Liveness")
	for {
		now := time.Now()
		var wake time.Time
		for _, s := range list {
			ps.mu.Lock()
			started := pr.started
			ps.mu.Unlock()
			if s.kind != "Startup" && !started {
				continue
			}
			if s.kind == "Startup" && started {
				continue
			}
			if now.Before(s.next) {
				wake = earliest(wake, s.next)
				continue
			}
			err := ps.probe(ctx, c, pr, s.probe)
			if ctx.Err() != nil {
				return
			}
			period := time.Duration(max(s.probe.PeriodSeconds, 1)) * time.Second
			s.next = time.Now().Add(period)
			wake = earliest(wake, s.next)
			if err == nil {
				s.failures = 0
				s.successes++
			} else {
				s.successes = 0
				s.failures++
				ps.p.event(spec, c.Name, corev1.EventTypeWarning, "Unhealthy", fmt.Sprintf("%s probe failed: %v", s.kind, err))
			}
			threshold := max(s.probe.SuccessThreshold, 1)
			failThreshold := max(s.probe.FailureThreshold, 1)
			changed := false
			ps.mu.Lock()
			switch s.kind {
			case "Startup":
				if s.successes >= threshold && !pr.started {
					pr.started, changed = true, true
					pr.ready = c.ReadinessProbe == nil
				} else if s.failures >= failThreshold && pr.failed == "" {
					pr.failed, changed = "startup", true
				}
			case "Readiness":
				if s.successes >= threshold && !pr.ready {
					pr.ready, changed = true, true
				} else if s.failures >= failThreshold && pr.ready {
					pr.ready, changed = false, true
				}
			case "Liveness":
				if s.failures >= failThreshold && pr.failed == "" {
					pr.failed, changed = "liveness", true
				}
			}
			failed := pr.failed
			ps.mu.Unlock()
			if failed != "" && changed {
				ps.p.event(spec, c.Name, corev1.EventTypeNormal, "Killing", fmt.Sprintf("Container %s failed %s probe, will be restarted", c.Name, failed))
			}
			if changed {
				ps.p.poke()
			}
		}
		if wake.IsZero() {
			wake = time.Now().Add(time.Second)
		}
		t := time.NewTimer(time.Until(wake))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// probe runs one probe attempt; nil is success.
func (ps *probes) probe(ctx context.Context, c *corev1.Container, pr *prober, p *corev1.Probe) error {
	timeout := time.Duration(max(p.TimeoutSeconds, 1)) * time.Second
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	host := pr.host
	switch {
	case p.Exec != nil:
		var out strings.Builder
		code, err := ps.p.w.rt.Exec(ctx, pr.id, p.Exec.Command, runtime.Streams{Stdout: &out, Stderr: &out})
		if err != nil {
			return err
		}
		if code != 0 {
			return fmt.Errorf("command %q exited with %d: %s", strings.Join(p.Exec.Command, " "), code, strings.TrimSpace(out.String()))
		}
		return nil
	case p.HTTPGet != nil:
		g := p.HTTPGet
		port, err := resolvePort(g.Port, c)
		if err != nil {
			return err
		}
		if g.Host != "" {
			host = g.Host
		}
		scheme := strings.ToLower(string(g.Scheme))
		if scheme == "" {
			scheme = "http"
		}
		u := url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port)), Path: g.Path}
		if u.Path == "" {
			u.Path = "/"
		}
		if i := strings.Index(g.Path, "?"); i >= 0 {
			u.Path, u.RawQuery = g.Path[:i], g.Path[i+1:]
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", "kube-probe/1.37")
		req.Header.Set("Accept", "*/*")
		for _, h := range g.HTTPHeaders {
			if strings.EqualFold(h.Name, "Host") {
				req.Host = h.Value
				continue
			}
			req.Header.Set(h.Name, h.Value)
		}
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true} //nolint:gosec // as the kubelet's probes
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("HTTP probe failed with statuscode: %d", resp.StatusCode)
		}
		return nil
	case p.TCPSocket != nil:
		port, err := resolvePort(p.TCPSocket.Port, c)
		if err != nil {
			return err
		}
		if p.TCPSocket.Host != "" {
			host = p.TCPSocket.Host
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return err
		}
		return conn.Close()
	case p.GRPC != nil:
		conn, err := grpc.NewClient(net.JoinHostPort(host, strconv.Itoa(int(p.GRPC.Port))), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return err
		}
		defer conn.Close()
		svc := ""
		if p.GRPC.Service != nil {
			svc = *p.GRPC.Service
		}
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil {
			return err
		}
		if resp.Status != healthpb.HealthCheckResponse_SERVING {
			return fmt.Errorf("service unhealthy (responded with %q)", resp.Status)
		}
		return nil
	}
	klog.V(2).InfoS("probe without a handler counts as a success", "container", c.Name)
	return nil
}

func resolvePort(p intstr.IntOrString, c *corev1.Container) (int, error) {
	if p.Type == intstr.Int {
		if p.IntVal <= 0 || p.IntVal > 65535 {
			return 0, fmt.Errorf("invalid port number: %d", p.IntVal)
		}
		return int(p.IntVal), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("couldn't find port: %s in container %s", p.StrVal, c.Name)
}
