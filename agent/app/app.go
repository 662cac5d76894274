package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/skiff-io/skiff/agent/join"
	"github.com/skiff-io/skiff/agent/network"
	"github.com/skiff-io/skiff/agent/podworker"
	"github.com/skiff-io/skiff/agent/runtime"
	"github.com/skiff-io/skiff/agent/store"
	"github.com/skiff-io/skiff/agent/streaming"
	"github.com/skiff-io/skiff/agent/volumes"
	"github.com/skiff-io/skiff/cliconfig"
	"github.com/skiff-io/skiff/protocol"
	"github.com/skiff-io/skiff/protocol/httpsync"
	"github.com/skiff-io/skiff/protocol/tunnel"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
)

// Run runs the agent until ctx ends. Its pods keep running after it
// returns.
// netnsRoot holds a directory per agent (by node name) where it pins its
// pods' network namespaces.
const netnsRoot = "/run/skiff/netns"

func Run(ctx context.Context, cfg Config) error {
	start := time.Now()
	if err := cfg.Check(); err != nil {
		return err
	}
	if cfg.NodeName == "" {
		cfg.NodeName = DefaultNodeName()
	}
	if cfg.PollWait <= 0 {
		cfg.PollWait = time.Minute
	}
	dir := cfg.Dir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	st, err := store.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		return err
	}
	defer st.Close()

	nodeIP := cfg.NodeIP
	if nodeIP == "" {
		nodeIP = detectNodeIP(cfg.Server)
	}
	jcfg := join.Config{Server: cfg.Server, Token: cfg.Token, Dir: dir, Node: registration(cfg, nodeIP)}
	creds, err := credentials(ctx, jcfg)
	if err != nil {
		return err
	}

	ociRuntime, why, err := runtime.ChooseOCIRuntime(cfg.OCIRuntime)
	if err != nil {
		return fmt.Errorf("--default-runtime: %w", err)
	}
	if why != "" {
		klog.InfoS("containers run with runc", "reason", why)
	}
	rt, err := runtime.Start(ctx, runtime.Options{
		Endpoint: cfg.Runtime, Dir: dir, RegistriesFile: cfg.Registries, PauseImage: cfg.Pause,
		OCIRuntime: ociRuntime,
	})
	if err != nil {
		return fmt.Errorf("container runtime: %w", err)
	}
	defer rt.Close()
	rtVersion, err := rt.Version(ctx)
	if err != nil {
		return fmt.Errorf("container runtime: %w", err)
	}

	netw, err := network.New(network.Config{
		Bridge: "skiff0", PodCIDR: creds.PodCIDR, ClusterCIDR: creds.ClusterCIDR,
		NetNSDir: filepath.Join(netnsRoot, cfg.NodeName), LegacyNetNSDir: netnsRoot,
	}, st.DB())
	if err != nil {
		return fmt.Errorf("pod network: %w", err)
	}
	if err := netw.EnsureHost(ctx); err != nil {
		return fmt.Errorf("pod network: %w", err)
	}

	facts := readHostFacts(dir, rtVersion, cfg.Version)
	out := newOutbox(st)
	resolv := cfg.ResolvConf
	if resolv == "" {
		resolv = "/etc/resolv.conf"
	}
	vols := volumes.New(filepath.Join(dir, "pods"), volumes.WithNodeFiles(resolv, "/etc/hosts"))

	base := strings.TrimSuffix(cfg.Server, "/")
	hc := &http.Client{Transport: &http.Transport{
		// No TCP keepalive probes: the long poll is the keepalive (a dead
		// link shows as a poll that does not answer), and Go's default
		// probe every 15 s would cost several times the idle sync itself.
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: -1}).DialContext,
		TLSClientConfig:     creds.TLSConfig(base),
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     5 * time.Minute,
	}}
	conn := httpsync.NewClient(base, cfg.NodeName, hc)
	tokens := &tokenSource{base: base, hc: hc, st: st}

	workers := podworker.New(podworker.Config{
		NodeName: cfg.NodeName, NodeIP: nodeIP, LogDir: filepath.Join(dir, "logs"), Allocatable: facts.capacity,
	}, rt, netw, vols, out, st, tokens, st.Load)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return rt.Run(gctx) })
	g.Go(func() error { return workers.Run(gctx) })
	g.Go(func() error {
		return desiredLoop(gctx, conn, st, cfg.PollWait, func(context.Context) error {
			workers.Changed()
			return nil
		})
	})
	g.Go(func() error { return out.run(gctx, conn, cfg.NodeName) })
	g.Go(func() error {
		// Once start-up (joining, containerd's client, adopting pods) is
		// over, hand back the binary's pages and heap it left resident.
		cliconfig.ReleaseStartupMemoryAfter(gctx, 10*time.Second)
		return nil
	})
	imageFS := filepath.Join(dir, "containerd")
	if cfg.Runtime != "" {
		imageFS = "/var/lib/containerd" // a containerd of the host's own
	}
	readPressure := func() [pressureKinds]bool { return pressures(cfg.EvictionHard, observeNode(dir, imageFS)) }
	g.Go(func() error { return reportNode(gctx, out, rt, facts, cfg.NodeName, nodeIP, readPressure) })
	g.Go(func() error { return renewLoop(gctx, creds, jcfg) })
	if cfg.PprofAddress != "" {
		ln, err := net.Listen("tcp", cfg.PprofAddress)
		if err != nil {
			return fmt.Errorf("--pprof-address: %w", err)
		}
		g.Go(func() error { return servePprof(gctx, ln) })
	}
	g.Go(func() error {
		host := strings.TrimPrefix(base, "https://")
		return tunnel.Serve(gctx, tunnel.DialTLS(host, creds.TLSConfig(base)), streaming.New(workers))
	})
	klog.InfoS("skiff agent is running", "node", cfg.NodeName, "server", cfg.Server, "nodeIP", nodeIP,
		"podCIDR", creds.PodCIDR, "runtime", rtVersion, "ociRuntime", ociRuntime, "startup", time.Since(start).Round(time.Millisecond))
	err = g.Wait()
	klog.InfoS("skiff agent stopped; its pods keep running", "node", cfg.NodeName)
	return err
}

// credentials loads the node's credentials, or joins when there are none.
// A node that joined once starts without the server (offline reboot).
func credentials(ctx context.Context, jcfg join.Config) (*join.Credentials, error) {
	creds, err := join.Load(jcfg.Dir)
	if err == nil {
		return creds, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("node credentials: %w", err)
	}
	if jcfg.Server == "" || jcfg.Token == "" {
		return nil, errors.New("this node has not joined yet: --server and --token (or --token-file) are required")
	}
	bo := backoff{min: time.Second, max: 30 * time.Second}
	for {
		creds, err := join.Join(ctx, jcfg)
		if err == nil {
			klog.InfoS("joined", "server", jcfg.Server, "node", jcfg.Node.Name, "podCIDR", creds.PodCIDR)
			return creds, nil
		}
		if errors.Is(err, join.ErrRefused) {
			return nil, err
		}
		d := bo.next()
		klog.InfoS("cannot join yet", "err", err, "retry", d)
		if !sleep(ctx, d) {
			return nil, ctx.Err()
		}
	}
}

// renewLoop renews the node certificate when a third of its life is left,
// and joins again when the server's CA changed (a CA rotation), so the
// node holds a certificate of the new client CA and trusts the new server
// CA before the rotation is finished. It looks at start and hourly.
func renewLoop(ctx context.Context, creds *join.Credentials, jcfg join.Config) error {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if jcfg.Token != "" {
			why := ""
			if creds.NeedsRenewal(time.Now()) {
				why = "expiry"
			} else if changed, err := creds.ServerCAChanged(ctx, jcfg.Server); err == nil && changed {
				why = "server CA changed"
			}
			if why != "" {
				if err := creds.Renew(ctx, jcfg); err != nil && ctx.Err() == nil {
					klog.InfoS("cannot renew the node certificate yet", "reason", why, "notAfter", creds.NotAfter(), "err", err)
				} else if err == nil {
					klog.InfoS("joined again", "reason", why)
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// imagesLister is what node status needs from the runtime.
type imagesLister interface {
	Images(ctx context.Context) ([]runtime.Image, error)
}

// nodeStatusEvery is how often the node's status is looked at: the
// container runtime and its images, and the pressure signals (the
// kubelet's eviction manager looks every 10 s).
var nodeStatusEvery = 10 * time.Second

// pressureReader reads the eviction signals and says which kinds of
// pressure they show.
type pressureReader func() [pressureKinds]bool

// reportNode queues the node's status at start and whenever it changes
// (images pulled or removed, the container runtime down or back, memory,
// disk or PID pressure), checked every nodeStatusEvery. An unchanged
// status is not sent: the Lease is the heartbeat. readPressure may be nil.
func reportNode(ctx context.Context, out *Outbox, rt imagesLister, facts hostFacts, name, ip string, readPressure pressureReader) error {
	var (
		last      string
		imgs      []corev1.ContainerImage
		lastReady = true
		since     = metav1.Now()
		pressure  pressureState
	)
	t := time.NewTicker(nodeStatusEvery)
	defer t.Stop()
	for {
		ready, msg := true, ""
		if list, err := rt.Images(ctx); err != nil {
			// containerd is down (the runtime restarts it): no new pods
			// can start, so the node is not Ready until it answers.
			ready, msg = false, fmt.Sprintf("container runtime is down: %v", err)
		} else {
			imgs = imgs[:0]
			for _, im := range list {
				imgs = append(imgs, corev1.ContainerImage{Names: im.Names, SizeBytes: im.Size})
			}
		}
		if ready != lastReady {
			since, lastReady = metav1.Now(), ready
		}
		if readPressure != nil {
			pressure.update(readPressure(), time.Now())
		}
		st := nodeStatus(facts, name, ip, imgs, ready, msg, since, &pressure)
		key := fmt.Sprint(ready, pressure.on, st.Images, st.Addresses, st.Capacity)
		if key != last && ctx.Err() == nil {
			if err := out.Put(ctx, "node", protocol.StatusItem{Kind: protocol.ItemNodeStatus, Name: name, NodeStatus: &st}); err != nil {
				return err
			}
			last = key
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
