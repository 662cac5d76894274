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

// StartKine starts kine under dir; Stop ends it. With writeQueue, SQLite
// writes are queued in the process as skiff's server queues them;
// without, SQLite's busy handler orders them, as in kine on its own.
func StartKine(ctx context.Context, dir string, writeQueue bool) (*Kine, error) {
	// kine logs its start-up at info level; keep the output to figures.
	logrus.SetLevel(logrus.WarnLevel)
	kctx, cancel := context.WithCancel(ctx)
	k := &Kine{cancel: cancel}
	b, err := kineconfig.Start(kctx, &k.wg, kineconfig.Config{DataDir: dir, NoWriteQueue: !writeQueue})
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
