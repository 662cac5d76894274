package apiserver

import (
	"context"
	"sync"
	"testing"
	"time"

	kineconfig "github.com/skiff-io/skiff/kine-config"
	"github.com/skiff-io/skiff/server/storage"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// kineServer is a server on kineStoreWith(t, inProcess), with the context
// its requests carry: an admin's (system:masters), cancelled when the test
// ends.
func kineServer(t testing.TB, inProcess bool) (*Server, *storage.Store, context.Context) {
	t.Helper()
	store := kineStoreWith(t, inProcess)
	s, err := New(Config{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return s, store, context.WithValue(ctx, userKey{}, &User{Name: "admin", Groups: []string{"system:masters"}})
}

// kineStore starts a real embedded kine on a SQLite file in t.TempDir()
// and returns a store on it; both stop when the test ends. Tests that
// need it are skipped with -short.
func kineStore(t testing.TB) *storage.Store { return kineStoreWith(t, false) }

// kineStoreWith is kineStore; with inProcess the store calls kine in
// process, as the server does, instead of over its socket.
func kineStoreWith(t testing.TB, inProcess bool) *storage.Store {
	t.Helper()
	if testing.Short() {
		t.Skip("starts kine")
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	b, err := kineconfig.Start(ctx, &wg, kineconfig.Config{DataDir: t.TempDir()})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: b.Endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		cancel()
		wg.Wait()
		t.Fatal(err)
	}
	if inProcess {
		b.UseInProcess(c)
	}
	t.Cleanup(func() { c.Close(); cancel(); wg.Wait() })
	return storage.New(c)
}
