package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/skiff-io/skiff/cliconfig"

	"github.com/sirupsen/logrus"
	kineconfig "github.com/skiff-io/skiff/kine-config"
	"github.com/skiff-io/skiff/protocol"
	"github.com/skiff-io/skiff/protocol/tunnel"
	"github.com/skiff-io/skiff/server/apiserver"
	"github.com/skiff-io/skiff/server/controllers/kubernetesservice"
	"github.com/skiff-io/skiff/server/kubeclient"
	"github.com/skiff-io/skiff/server/nodeauth"
	"github.com/skiff-io/skiff/server/nodejoin"
	"github.com/skiff-io/skiff/server/pki"
	"github.com/skiff-io/skiff/server/storage"
	"github.com/skiff-io/skiff/server/synchub"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
)

// KubernetesVersion is the Kubernetes API version skiff serves.
const KubernetesVersion = protocol.KubernetesVersion

// Run starts the control plane and blocks until ctx is cancelled and
// everything it started has stopped.
func Run(ctx context.Context, cfg Config) error {
	start := time.Now()
	memoryLimit := applyMemoryLimit(cfg.MemoryLimit, os.Getenv("GOMEMLIMIT"))
	gcPercent := applyGCPercent(ctx, os.Getenv("GOGC"))
	if !cfg.Debug {
		// kine logs every start-up step at info level through logrus.
		logrus.SetLevel(logrus.WarnLevel)
	}
	serverDir := filepath.Join(cfg.DataDir, "server")
	if err := os.MkdirAll(serverDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	hostname, _ := os.Hostname()
	if cfg.NodeName != "" {
		hostname = cfg.NodeName
	}
	sans := append([]string{}, cfg.TLSSANs...)
	if cfg.AdvertiseAddress != "" {
		sans = append(sans, cfg.AdvertiseAddress)
	}
	if cfg.BindAddress != "" && cfg.BindAddress != "0.0.0.0" && cfg.BindAddress != "::" {
		sans = append(sans, cfg.BindAddress)
	}
	validity, renewBefore, err := CertLifetimes()
	if err != nil {
		return err
	}
	bundle, err := pki.Ensure(pki.Options{Dir: filepath.Join(serverDir, "tls"), SANs: sans, Hostname: hostname,
		LeafValidity: validity, RenewBefore: renewBefore})
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	logSoonestExpiry(bundle)
	token, err := pki.EnsureToken(filepath.Join(serverDir, "token"), bundle.ServerCAPEM, cfg.Token)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}

	// The datastore outlives the API server during shutdown: it is stopped
	// last, after in-flight requests have finished.
	dsCtx, dsCancel := context.WithCancel(context.Background())
	var dsWG sync.WaitGroup
	defer func() {
		dsCancel()
		dsWG.Wait()
	}()
	backend, err := kineconfig.Start(dsCtx, &dsWG, kineconfig.Config{
		DataDir: serverDir, Endpoint: cfg.DatastoreEndpoint,
		CAFile: cfg.DatastoreCAFile, CertFile: cfg.DatastoreCertFile, KeyFile: cfg.DatastoreKeyFile,
		Insecure:        cfg.DatastoreInsecure,
		CompactInterval: cfg.CompactInterval,
	})
	if err != nil {
		return err
	}
	etcd, err := clientv3.New(clientv3.Config{
		Endpoints:   backend.Endpoints,
		TLS:         backend.TLS,
		DialTimeout: 10 * time.Second,
		Logger:      zap.NewNop(),
		DialOptions: []grpc.DialOption{},
		// Objects up to kube's 3 MiB body limit plus envelope.
		MaxCallSendMsgSize: 4 << 20,
		MaxCallRecvMsgSize: 1 << 30,
	})
	if err != nil {
		return fmt.Errorf("datastore client: %w", err)
	}
	defer etcd.Close()
	backend.UseInProcess(etcd)
	store := storage.New(etcd)
	if err := waitForStore(ctx, store); err != nil {
		return err
	}

	_, _, joinSecret, err := pki.ParseToken(token)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	saIssuer, saTokens, err := serviceAccountTokens(ctx, filepath.Join(serverDir, "tls"), store, backend.Kind != kineconfig.KindSQLite, joinSecret)
	if err != nil {
		return err
	}
	// Handlers (watches especially) see reqCtx end at shutdown, so that
	// Shutdown does not wait out their timeouts.
	reqCtx, reqCancel := context.WithCancel(context.Background())
	defer reqCancel()
	// The server's own clients (controllers, node sync hub, join endpoint)
	// are served in process, as the controller user: the same handler as
	// HTTPS clients, without the socket, TLS and HTTP/2 framing. Host
	// only names the API in their URLs.
	inProcess := apiserver.NewInProcess(reqCtx, apiserver.User{Name: pki.ControllerUser, Groups: []string{pki.AdminGroup}})
	loopback := &rest.Config{
		Host:      "https://" + net.JoinHostPort(loopbackHost(cfg.BindAddress), strconv.Itoa(cfg.HTTPSPort)),
		Transport: inProcess,
		QPS:       200, Burst: 400,
		UserAgent: "skiff-controllers",
	}
	nodeClient, err := kubeclient.NewForConfig(withUserAgent(loopback, "skiff-node-sync"))
	if err != nil {
		return err
	}
	hub := synchub.New(store, hubAPI{nodeClient})
	tunnels := tunnel.NewHub(tunnel.NodeFromRequest, 0)
	defer tunnels.Close()
	join, err := nodejoin.New(nodejoin.Config{
		CACertPEM: bundle.ServerCAPEM, Token: token, Signer: bundle, API: joinAPI{nodeClient}, Store: store,
		ClusterCIDR: cfg.ClusterCIDR, ServiceCIDR: cfg.ServiceCIDR,
	})
	if err != nil {
		return err
	}

	api, err := apiserver.New(apiserver.Config{
		Store:         store,
		Version:       versionInfo(cfg.Version),
		ServiceCIDR:   cfg.ServiceCIDR,
		NodePortRange: cfg.NodePortRange,
		Tokens:        saTokens,
		TokenIssuer:   saIssuer,
		Profiling:     cfg.Debug || cfg.EnablePprof,
		Authorizer:    nodeauth.New(hub, nil),
		Nodes:         tunnels,
		Ready: func(ctx context.Context) error {
			_, err := store.Revision(ctx)
			return err
		},
	})
	if err != nil {
		return err
	}
	if err := bootstrap(ctx, store); err != nil {
		return err
	}

	tlsConfig, err := bundle.ServerTLSConfig()
	if err != nil {
		return err
	}
	addr := net.JoinHostPort(cfg.BindAddress, strconv.Itoa(cfg.HTTPSPort))
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           withNodeSync(api, join, hub, tunnels),
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    1 << 20,
		BaseContext:       func(net.Listener) context.Context { return reqCtx },
		ErrorLog:          nil,
	}
	inProcess.SetHandler(srv.Handler)

	kubeconfig := cfg.WriteKubeconfig
	if kubeconfig == "" {
		kubeconfig = DefaultKubeconfig(cfg.DataDir)
	}
	host := "127.0.0.1"
	if cfg.BindAddress != "" && cfg.BindAddress != "0.0.0.0" && cfg.BindAddress != "::" {
		host = cfg.BindAddress
	}
	serverURL := "https://" + net.JoinHostPort(host, strconv.Itoa(cfg.HTTPSPort))
	if err := bundle.WriteKubeconfig(kubeconfig, serverURL, cfg.WriteKubeconfigMode); err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.ServeTLS(lis, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("https: %w", err)
		}
		return nil
	})
	g.Go(func() error { return api.Run(gctx) })
	renewer := pki.NewRenewer(bundle, 0, swapRenewed(bundle, kubeconfig, serverURL, cfg.WriteKubeconfigMode))
	g.Go(func() error { return renewer.Run(gctx) })
	g.Go(func() error { return hub.Run(gctx) })
	le := LeaderElection{
		Enabled:       backend.Kind != kineconfig.KindSQLite,
		LeaseDuration: cfg.LeaderElectLeaseDuration, RenewDeadline: cfg.LeaderElectRenewDeadline, RetryPeriod: cfg.LeaderElectRetryPeriod,
	}
	apiAddr := kubernetesservice.Config{
		ServiceIP:    firstServiceIP(cfg.ServiceCIDR),
		EndpointIP:   advertiseIP(cfg),
		EndpointPort: int32(cfg.HTTPSPort),
	}
	tuning := controllerTuning{TerminatedPodGCThreshold: cfg.TerminatedPodGCThreshold, DisableScheduler: cfg.DisableScheduler}
	if err := startControllers(gctx, g, loopback, bundle.ServerCAPEM, apiAddr, api.MetadataFeed(), le, tuning, cfg.DataDir); err != nil {
		return err
	}
	if !backend.Embedded {
		g.Go(func() error { return runCompactor(gctx, etcd, cfg.CompactInterval) })
	}
	g.Go(func() error {
		// Start-up (schema parsing, first informer lists) leaves a heap
		// several times the size of what stays live, and most of the
		// binary's pages resident though they ran once; hand both back
		// once instead of waiting for the scavenger or memory pressure,
		// so idle RSS reflects what the server really uses.
		cliconfig.ReleaseStartupMemoryAfter(gctx, 10*time.Second)
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		reqCancel()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	klog.InfoS("skiff server is running", "version", cfg.Version, "listen", addr, "datastore", string(backend.Kind),
		"kubeconfig", kubeconfig, "startup", time.Since(start).Round(time.Millisecond), "go", runtime.Version(),
		"memoryLimit", memoryLimit, "gcPercent", gcPercent)
	if !cfg.DisableAgent && cfg.LocalAgent != nil {
		g.Go(func() error {
			err := cfg.LocalAgent.Run(gctx, cfg.LocalAgentConfig(loopback.Host, token))
			if err != nil && gctx.Err() == nil {
				return fmt.Errorf("local agent (run with --disable-agent for the control plane alone): %w", err)
			}
			return nil
		})
	}
	err = g.Wait()
	klog.InfoS("skiff server stopped")
	return err
}

func versionInfo(v string) version.Info {
	build := cliconfig.ReadBuild(v)
	major, minor, _ := strings.Cut(strings.TrimPrefix(KubernetesVersion, "v"), ".")
	minor, _, _ = strings.Cut(minor, ".")
	return version.Info{
		Major: major, Minor: minor,
		GitVersion: KubernetesVersion + "+skiff-" + strings.TrimPrefix(v, "v"),
		GitCommit:  build.GitCommit, GitTreeState: build.GitTreeState, BuildDate: build.BuildDate,
		GoVersion: runtime.Version(), Compiler: runtime.Compiler,
		Platform: runtime.GOOS + "/" + runtime.GOARCH,
	}
}

// waitForStore waits until the datastore answers, for an external etcd
// that is still starting.
func waitForStore(ctx context.Context, s *storage.Store) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := s.Revision(rctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("datastore not reachable: %w", err)
		}
		klog.InfoS("waiting for the datastore", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// loopbackHost is how the server's own controllers reach its API.
func loopbackHost(bind string) string {
	switch bind {
	case "", "0.0.0.0":
		return "127.0.0.1"
	case "::":
		return "::1"
	}
	return bind
}

// firstServiceIP is the kubernetes Service's ClusterIP: the first usable
// address of the service CIDR (10.43.0.1 by default).
func firstServiceIP(cidr string) string {
	_, n, err := net.ParseCIDR(cidr)
	if err != nil || n.IP.To4() == nil {
		return "10.43.0.1"
	}
	ip := n.IP.To4()
	return net.IPv4(ip[0], ip[1], ip[2], ip[3]+1).String()
}

// advertiseIP is the address published in the kubernetes Endpoints:
// --advertise-address, else a specific --bind-address, else the host's
// first non-loopback IPv4 address.
func advertiseIP(cfg Config) string {
	for _, a := range []string{cfg.AdvertiseAddress, cfg.BindAddress} {
		if ip := net.ParseIP(a); ip != nil && !ip.IsUnspecified() && !ip.IsLoopback() {
			return ip.String()
		}
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String()
		}
	}
	return "127.0.0.1"
}

func withUserAgent(c *rest.Config, ua string) *rest.Config {
	c = rest.CopyConfig(c)
	c.UserAgent = ua
	return c
}
