package tests

import (
	"bytes"
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// etcdServer is a real single-member etcd (Debian etcd-server) on loopback.
type etcdServer struct {
	endpoint string
	cmd      *exec.Cmd
	log      *bytes.Buffer
}

func startEtcd(t *testing.T) *etcdServer {
	t.Helper()
	needIntegration(t, "etcd")
	dir := t.TempDir()
	cport, pport := freePort(t), freePort(t)
	e := &etcdServer{endpoint: "http://127.0.0.1:" + strconv.Itoa(cport), log: &bytes.Buffer{}}
	e.cmd = exec.Command("etcd", "--name", "test", "--data-dir", dir,
		"--listen-client-urls", e.endpoint, "--advertise-client-urls", e.endpoint,
		"--listen-peer-urls", "http://127.0.0.1:"+strconv.Itoa(pport),
		"--initial-advertise-peer-urls", "http://127.0.0.1:"+strconv.Itoa(pport),
		"--initial-cluster", "test=http://127.0.0.1:"+strconv.Itoa(pport),
		"--log-level", "error")
	e.cmd.Stdout, e.cmd.Stderr = e.log, e.log
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = e.cmd.Process.Kill()
		_ = e.cmd.Wait()
		if t.Failed() {
			t.Logf("etcd log:\n%s", tail(e.log.String(), 3000))
		}
	})
	c := e.client(t)
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.Get(ctx, "health")
		cancel()
		if err == nil {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd not ready: %v\n%s", err, e.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (e *etcdServer) client(t *testing.T) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{e.endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestPlaintextEtcdRefused: a plaintext etcd endpoint stops the server
// with one readable line unless --datastore-insecure accepts it.
func TestPlaintextEtcdRefused(t *testing.T) {
	needIntegration(t)
	out, err := exec.Command(skiffBin, "server", "--data-dir", t.TempDir(), "--disable-agent", "--config", "",
		"--datastore-endpoint", "http://127.0.0.1:1").CombinedOutput()
	if err == nil {
		t.Fatalf("server started on plaintext etcd:\n%s", out)
	}
	if !strings.Contains(string(out), "is plaintext http") || !strings.Contains(string(out), "--datastore-insecure") {
		t.Fatalf("no readable refusal:\n%s", out)
	}
}

// clusterSecret is the --token every server on a test's shared etcd is
// given, as servers of one cluster must share it.
const clusterSecret = "skiff-test-cluster-secret"

// TestSharedKeySealed: the service-account signing key that servers share
// through etcd is sealed with the join secret: the datastore never holds
// it in the clear, and a server given another token refuses to start with
// one readable line.
func TestSharedKeySealed(t *testing.T) {
	needIntegration(t, "etcd")
	e := startEtcd(t)
	startServer(t, withArgs("--datastore-endpoint", e.endpoint, "--datastore-insecure", "--token", clusterSecret))
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{e.endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := c.Get(context.Background(), "/skiff/service-account.key")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("shared key: %v %v", resp, err)
	}
	if v := resp.Kvs[0].Value; bytes.Contains(v, []byte("PRIVATE KEY")) || !bytes.HasPrefix(v, []byte("skiff-sealed-v1:")) {
		t.Fatalf("the shared signing key is stored in the clear: %.60q", v)
	}

	out, err := exec.Command(skiffBin, "server", "--data-dir", t.TempDir(), "--disable-agent", "--config", "",
		"--https-listen-port", strconv.Itoa(freePort(t)), "--bind-address", "127.0.0.1",
		"--datastore-endpoint", e.endpoint, "--datastore-insecure", "--token", "another-secret").CombinedOutput()
	if err == nil {
		t.Fatalf("a server with another token started:\n%s", out)
	}
	if !strings.Contains(string(out), "start every server of the cluster with the same --token") {
		t.Fatalf("no readable refusal:\n%s", tail(string(out), 2000))
	}
}
