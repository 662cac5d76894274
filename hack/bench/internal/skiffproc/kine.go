package skiffproc

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	kineconfig "github.com/skiff-io/skiff/kine-config"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Kine is a fresh embedded kine on SQLite with the server's settings
// (kineconfig.Start), running in this process, and an etcd client of it
// over kine's socket: the datastore alone, as the benchmarks' baseline.
type Kine struct {
	Client    *clientv3.Client
	Endpoints []string
	Backend   kineconfig.Backend
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

// StartKine starts kine under dir; Stop ends it. With asRun, it is kine
// as skiff's server runs it, on the group-commit backend (concurrent
// writes committed together, watch events from the commit path); without,
// it is plain kine as it ships: one transaction per write, SQLite's busy
// handler ordering concurrent writers, watchers fed by polling.
func StartKine(ctx context.Context, dir string, asRun bool) (*Kine, error) {
	// kine logs its start-up at info level; keep the output to figures.
	logrus.SetLevel(logrus.WarnLevel)
	kctx, cancel := context.WithCancel(ctx)
	k := &Kine{cancel: cancel}
	b, err := kineconfig.Start(kctx, &k.wg, kineconfig.Config{DataDir: dir, PlainKine: !asRun, NoWriteQueue: !asRun})
	if err != nil {
		k.Stop()
		return nil, fmt.Errorf("starting kine: %w", err)
	}
	k.Backend, k.Endpoints = b, b.Endpoints
	if k.Client, err = NewEtcdClient(b.Endpoints); err != nil {
		k.Stop()
		return nil, err
	}
	return k, nil
}

// Stop closes the client and returns once kine has stopped.
func (k *Kine) Stop() {
	if k.Client != nil {
		_ = k.Client.Close()
	}
	k.cancel()
	k.wg.Wait()
}

// NewEtcdClient is configured as the server's own etcd client.
func NewEtcdClient(endpoints []string) (*clientv3.Client, error) {
	c, err := clientv3.New(clientv3.Config{
		Endpoints:          endpoints,
		DialTimeout:        10 * time.Second,
		Logger:             zap.NewNop(),
		MaxCallSendMsgSize: 4 << 20,
		MaxCallRecvMsgSize: 1 << 30,
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client: %w", err)
	}
	return c, nil
}
