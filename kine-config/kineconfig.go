package kineconfig

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/k3s-io/kine/pkg/drivers"
	_ "github.com/k3s-io/kine/pkg/drivers/sqlite"
	kineserver "github.com/k3s-io/kine/pkg/server"
	kinetls "github.com/k3s-io/kine/pkg/tls"
	"github.com/skiff-io/skiff/kine-config/groupcommit"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"k8s.io/klog/v2"
)

// SQLiteParams are the connection parameters of the default SQLite store.
//
// WAL keeps writes sequential and small (kind to SD cards); synchronous=FULL
// syncs the WAL on every commit so an acknowledged write survives a power
// cut, which is how edge devices usually stop. Users who prefer fewer syncs
// over power-loss durability can pass their own DSN with
// --datastore-endpoint "sqlite://<path>?_synchronous=NORMAL&...".
//
// kine's VACUUM at every start is turned off: it rewrites the whole file on
// each boot, and edge devices reboot often. Compaction frees pages that
// SQLite reuses, so the file stays bounded without it.
const SQLiteParams = "_journal_mode=WAL&_busy_timeout=30000&_synchronous=FULL&_txlock=immediate&_stmt_cache_size=20&cache=shared&_kine_disable_startup_vacuum=true"

// Config is the datastore part of the server configuration.
type Config struct {
	// DataDir is <data-dir>/server; the SQLite file and the kine socket live under it.
	DataDir string
	// Endpoint is --datastore-endpoint. Empty selects embedded SQLite.
	Endpoint string
	// CAFile, CertFile and KeyFile are the client TLS files for the backend
	// (--datastore-cafile, --datastore-certfile, --datastore-keyfile).
	CAFile, CertFile, KeyFile string
	// Insecure accepts plaintext http:// etcd endpoints
	// (--datastore-insecure). Without it they are refused: the datastore
	// holds every Secret and the service-account signing key.
	Insecure bool
	// CompactInterval is how often old revisions are removed (default 5m,
	// as kube-apiserver compacts etcd). Negative turns automatic compaction
	// off; explicit etcd Compact calls then do the work.
	CompactInterval time.Duration
	// CompactMinRetain is the number of most recent revisions always kept.
	CompactMinRetain int64
	// PollInterval is how often plain kine (PlainKine, and PostgreSQL or
	// MySQL) looks for rows written by other processes; writes made
	// through this server are seen at once. The group-commit backend
	// does not poll.
	PollInterval time.Duration
	// PlainKine runs kine's own SQLite backend (one transaction per
	// write, watchers fed by polling the table) instead of the
	// group-commit one (package groupcommit). Both read and write the
	// same file format. Tests and benchmarks set it to compare the two.
	PlainKine bool
	// NoWriteQueue leaves the ordering of concurrent SQLite writes in
	// plain kine to SQLite's busy handler, as kine does on its own,
	// instead of queueing them in the process (see serialWrites). Only
	// the write benchmark's baseline sets it, with PlainKine.
	NoWriteQueue bool
}

// Kind says which datastore a Backend is.
type Kind string

// Datastore kinds.
const (
	KindSQLite Kind = "sqlite"
	KindEtcd   Kind = "etcd"
	KindKine   Kind = "kine" // kine over another SQL database
)

// Backend is a reachable etcd v3 endpoint.
type Backend struct {
	Kind      Kind
	Endpoints []string
	// TLS is the client TLS configuration, nil for plain connections.
	TLS *tls.Config
	// SQLitePath is the database file when Kind is KindSQLite.
	SQLitePath string
	// Embedded is true when kine runs inside this process; its compactor
	// then does the compaction, otherwise the server must compact.
	Embedded bool
	// Service is kine's etcd API when kine runs in this process, for
	// UseInProcess.
	Service Service
}

// Defaults fills zero fields with skiff's defaults.
func (c *Config) Defaults() {
	if c.CompactInterval == 0 {
		c.CompactInterval = 5 * time.Minute
	}
	if c.CompactMinRetain == 0 {
		c.CompactMinRetain = 1000
	}
	if c.PollInterval == 0 {
		c.PollInterval = time.Second
	}
}

// Parse classifies the endpoint without starting anything.
func Parse(endpoint string) (Kind, error) {
	if endpoint == "" {
		return KindSQLite, nil
	}
	for _, ep := range strings.Split(endpoint, ",") {
		// Not url.Parse: kine's mysql DSN (user:pw@tcp(host:3306)/db) is
		// not a URL.
		scheme, _, ok := strings.Cut(strings.TrimSpace(ep), "://")
		if !ok {
			return "", fmt.Errorf("invalid --datastore-endpoint %q: expected <scheme>://...", ep)
		}
		switch scheme {
		case "http", "https", "unix", "unixs":
			return KindEtcd, nil
		case "sqlite":
			return KindSQLite, nil
		case "postgres", "mysql":
			if !sqlDrivers {
				return "", fmt.Errorf("invalid --datastore-endpoint %q: this skiff is built without the PostgreSQL and MySQL drivers; use the full build (FULL=1 hack/build, build tag full)", scheme+"://…")
			}
			return KindKine, nil
		default:
			return "", fmt.Errorf("invalid --datastore-endpoint %q: unsupported scheme %q (use sqlite://, https://, http://, postgres:// or mysql://)", ep, scheme)
		}
	}
	return "", errors.New("invalid --datastore-endpoint: empty")
}

// Start makes the datastore reachable. For kine backends it starts kine in
// this process, serving on a unix socket under DataDir, until ctx is
// cancelled; wg is released when kine has stopped.
func Start(ctx context.Context, wg *sync.WaitGroup, cfg Config) (Backend, error) {
	cfg.Defaults()
	kind, err := Parse(cfg.Endpoint)
	if err != nil {
		return Backend{}, err
	}
	if kind == KindEtcd {
		return etcdBackend(cfg)
	}

	endpoint := cfg.Endpoint
	var sqlitePath string
	if kind == KindSQLite {
		endpoint, sqlitePath, err = sqliteEndpoint(cfg)
		if err != nil {
			return Backend{}, err
		}
	}

	dcfg := &drivers.Config{
		Endpoint: endpoint,
		BackendTLSConfig: kinetls.Config{
			CAFile: cfg.CAFile, CertFile: cfg.CertFile, KeyFile: cfg.KeyFile,
		},
		CompactInterval:  max(cfg.CompactInterval, 0),
		CompactTimeout:   5 * time.Second,
		CompactMinRetain: cfg.CompactMinRetain,
		CompactBatchSize: 1000,
		PollBatchSize:    500,
		PollInterval:     cfg.PollInterval,
	}
	bctx, cancel := context.WithCancel(context.Background())
	var backend kineserver.Backend
	if kind == KindSQLite && !cfg.PlainKine {
		dcfg.Scheme, dcfg.DataSourceName = "sqlite", strings.TrimPrefix(endpoint, "sqlite://")
		backend, err = groupcommit.New(bctx, wg, dcfg)
	} else {
		_, backend, err = drivers.New(bctx, wg, dcfg)
		if err == nil && kind == KindSQLite && !cfg.NoWriteQueue {
			backend = &serialWrites{Backend: backend}
		}
	}
	if err != nil {
		cancel()
		return Backend{}, fmt.Errorf("datastore: %w", err)
	}
	if err := backend.Start(bctx); err != nil {
		cancel()
		return Backend{}, fmt.Errorf("datastore: starting kine: %w", err)
	}

	sock := filepath.Join(cfg.DataDir, "kine.sock")
	if err := os.Remove(sock); err != nil && !os.IsNotExist(err) {
		cancel()
		return Backend{}, fmt.Errorf("datastore: removing stale socket: %w", err)
	}
	lis, err := net.Listen("unix", sock)
	if err != nil {
		cancel()
		return Backend{}, fmt.Errorf("datastore: listening on %s: %w", sock, err)
	}
	// Only root (the server itself and etcdctl run by the admin) may use it:
	// the socket is the whole datastore, unauthenticated.
	if err := os.Chmod(sock, 0o600); err != nil {
		cancel()
		lis.Close()
		return Backend{}, err
	}

	gs := grpc.NewServer(
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 2 * time.Hour, Timeout: 20 * time.Second}),
		grpc.MaxRecvMsgSize(4*1024*1024),
		grpc.MaxSendMsgSize(1<<31-1),
	)
	// notifyInterval is how often idle watches get progress notifications,
	// which become watch bookmarks for API clients.
	bridge := kineserver.New(backend, "unix", 5*time.Second, "3.6.0")
	bridge.Register(gs)

	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = gs.Serve(lis)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-ctx.Done()
		stopped := make(chan struct{})
		go func() { gs.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(2 * time.Second):
			gs.Stop()
		}
		cancel()
	}()

	return Backend{
		Kind:       kind,
		Endpoints:  []string{"unix://" + sock},
		SQLitePath: sqlitePath,
		Embedded:   true,
		Service:    bridge,
	}, nil
}

// sqliteEndpoint returns the kine endpoint for the SQLite store, creating
// its directory. A user-given sqlite:// endpoint keeps its own parameters.
func sqliteEndpoint(cfg Config) (endpoint, path string, err error) {
	if cfg.Endpoint == "" {
		dir := filepath.Join(cfg.DataDir, "db")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", "", fmt.Errorf("datastore: %w", err)
		}
		path = filepath.Join(dir, "state.db")
		return "sqlite://" + path + "?" + SQLiteParams, path, nil
	}
	rest := strings.TrimPrefix(cfg.Endpoint, "sqlite://")
	path, _, _ = strings.Cut(rest, "?")
	if path == "" {
		return "", "", errors.New("invalid --datastore-endpoint: sqlite:// needs a file path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", "", fmt.Errorf("datastore: %w", err)
	}
	if !strings.Contains(rest, "?") {
		return cfg.Endpoint + "?" + SQLiteParams, path, nil
	}
	return cfg.Endpoint, path, nil
}

func etcdBackend(cfg Config) (Backend, error) {
	var eps []string
	secure := false
	for _, ep := range strings.Split(cfg.Endpoint, ",") {
		ep = strings.TrimSpace(ep)
		if strings.HasPrefix(ep, "https://") || strings.HasPrefix(ep, "unixs://") {
			secure = true
		}
		if strings.HasPrefix(ep, "http://") {
			if !cfg.Insecure {
				return Backend{}, fmt.Errorf("datastore endpoint %s is plaintext http: use https:// (with --datastore-cafile, --datastore-certfile, --datastore-keyfile), or pass --datastore-insecure to accept it", ep)
			}
			klog.Warningf("datastore endpoint %s is plaintext http (--datastore-insecure): Secrets travel unencrypted", ep)
		}
		eps = append(eps, ep)
	}
	b := Backend{Kind: KindEtcd, Endpoints: eps}
	if secure || cfg.CAFile != "" || cfg.CertFile != "" {
		tc, err := kinetls.Config{CAFile: cfg.CAFile, CertFile: cfg.CertFile, KeyFile: cfg.KeyFile}.ClientConfig()
		if err != nil {
			return Backend{}, fmt.Errorf("datastore TLS: %w", err)
		}
		if tc == nil {
			tc = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		b.TLS = tc
	}
	return b, nil
}
