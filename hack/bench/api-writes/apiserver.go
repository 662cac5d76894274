package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/skiff-io/skiff/hack/bench/internal/skiffproc"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// defaultKubeAPIServer is where hack/bench/build-kube-apiserver puts the
// binary, overridden by $SKIFF_BENCH_KUBE_APISERVER and -kube-apiserver.
func defaultKubeAPIServer() string {
	if p := os.Getenv("SKIFF_BENCH_KUBE_APISERVER"); p != "" {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".cache", "skiff-apiserver", "kube-apiserver")
}

// upstream is the real kube-apiserver on a single-node etcd, both as they
// ship (etcd's own quota and fsync defaults), started for the side-by-side
// column.
type upstream struct {
	etcd, apiserver *child
	api             *kubernetes.Clientset
	version         string // kube-apiserver --version and etcd --version, one line each
	idle            [2]skiffproc.Memory
}

// child is one process the benchmark started; it dies with the benchmark.
type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

func startChild(name, logPath, bin string, args ...string) (*child, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer lf.Close() // the child keeps its own descriptor
	c := &child{name: name, cmd: exec.Command(bin, args...), done: make(chan struct{}), log: logPath}
	c.cmd.Stdout, c.cmd.Stderr = lf, lf
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() {
		_ = c.cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// stop sends SIGTERM, then SIGKILL after 10s.
func (c *child) stop() { skiffproc.StopProcess(c.name, c.cmd.Process, c.done, 10*time.Second) }

func (c *child) logTail(lines int) string { return skiffproc.LogTail(c.name, c.log, lines) }

func (u *upstream) stop() {
	if u.apiserver != nil {
		u.apiserver.stop()
	}
	if u.etcd != nil {
		u.etcd.stop()
	}
}

// cpu is kube-apiserver's and etcd's CPU time together.
func (u *upstream) cpu() (time.Duration, error) {
	a, err := skiffproc.ProcessCPU(u.apiserver.pid())
	if err != nil {
		return 0, err
	}
	e, err := skiffproc.ProcessCPU(u.etcd.pid())
	return a + e, err
}

// startUpstream starts etcd with a fresh data dir and kube-apiserver on
// it, on free loopback ports, and waits for /readyz. Clients
// authenticate with a client certificate in system:masters (as skiff's
// admin kubeconfig does with its own CA), over ECDSA P-256 TLS as skiff
// serves.
func startUpstream(ctx context.Context, apiserverBin, etcdBin, dir string) (_ *upstream, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	u := &upstream{}
	defer func() {
		if err != nil {
			u.stop()
		}
	}()
	for _, v := range [][]string{{apiserverBin, "--version"}, {etcdBin, "--version"}} {
		out, _ := exec.CommandContext(ctx, v[0], v[1]).Output()
		line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		u.version += filepath.Base(v[0]) + ": " + line + "; "
	}
	u.version = strings.TrimSuffix(u.version, "; ")

	ports := make([]int, 3)
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return nil, err
		}
	}
	clientURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peerURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	u.etcd, err = startChild("etcd", filepath.Join(dir, "etcd.log"), etcdBin,
		"--name", "bench",
		"--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "bench="+peerURL,
	)
	if err != nil {
		return nil, err
	}

	pki, err := writeUpstreamPKI(dir)
	if err != nil {
		return nil, err
	}
	port := strconv.Itoa(ports[2])
	u.apiserver, err = startChild("kube-apiserver", filepath.Join(dir, "kube-apiserver.log"), apiserverBin,
		"--etcd-servers", clientURL,
		"--bind-address", "127.0.0.1",
		"--advertise-address", "127.0.0.1",
		// The kubernetes Service's endpoints may not be a loopback address;
		// nothing here needs them.
		"--endpoint-reconciler-type", "none",
		"--secure-port", port,
		"--tls-cert-file", pki.serverCert, "--tls-private-key-file", pki.serverKey,
		"--client-ca-file", pki.ca,
		"--service-account-key-file", pki.saKey,
		"--service-account-signing-key-file", pki.saKey,
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-cluster-ip-range", "10.43.0.0/16",
		"--authorization-mode", "Node,RBAC",
	)
	if err != nil {
		return nil, err
	}
	rc := &rest.Config{
		Host: "https://127.0.0.1:" + port,
		TLSClientConfig: rest.TLSClientConfig{
			CAFile: pki.ca, CertFile: pki.clientCert, KeyFile: pki.clientKey,
		},
	}
	if err := u.waitReady(ctx, rc); err != nil {
		return nil, err
	}
	if u.api, err = clientFor(rest.CopyConfig(rc), "application/json", 60*time.Second); err != nil {
		return nil, err
	}
	if err := skiffproc.Pause(ctx, idleSettle); err != nil {
		return nil, err
	}
	for i, pid := range []int{u.apiserver.pid(), u.etcd.pid()} {
		if u.idle[i], err = skiffproc.ReadMemory(pid); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// waitReady polls /readyz every 100 ms for up to two minutes (the first
// start creates the bootstrap RBAC roles and priority levels in etcd).
func (u *upstream) waitReady(ctx context.Context, rc *rest.Config) error {
	tc, err := rest.TLSConfigFor(rc)
	if err != nil {
		return err
	}
	tr := &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	deadline := time.NewTimer(2 * time.Minute)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := hc.Get(rc.Host + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-u.etcd.done:
			return fmt.Errorf("etcd exited (%v)\n%s", u.etcd.cmd.ProcessState, u.etcd.logTail(20))
		case <-u.apiserver.done:
			return fmt.Errorf("kube-apiserver exited (%v)\n%s", u.apiserver.cmd.ProcessState, u.apiserver.logTail(20))
		case <-deadline.C:
			return fmt.Errorf("kube-apiserver not ready after 2m\n%s", u.apiserver.logTail(20))
		case <-tick.C:
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// upstreamPKI are the files kube-apiserver and its client need.
type upstreamPKI struct {
	ca, serverCert, serverKey, clientCert, clientKey, saKey string
}

func writeUpstreamPKI(dir string) (upstreamPKI, error) {
	p := upstreamPKI{
		ca:         filepath.Join(dir, "ca.crt"),
		serverCert: filepath.Join(dir, "server.crt"), serverKey: filepath.Join(dir, "server.key"),
		clientCert: filepath.Join(dir, "admin.crt"), clientKey: filepath.Join(dir, "admin.key"),
		saKey: filepath.Join(dir, "sa.key"),
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return p, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return p, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return p, err
	}
	if err := writePEM(p.ca, "CERTIFICATE", caDER); err != nil {
		return p, err
	}
	leaf := func(serial int64, subject pkix.Name, usage x509.ExtKeyUsage, ips []net.IP, certPath, keyPath string) error {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: subject,
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: ips, DNSNames: []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			return err
		}
		kb, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return err
		}
		return errors.Join(writePEM(certPath, "CERTIFICATE", der), writePEM(keyPath, "EC PRIVATE KEY", kb))
	}
	if err := leaf(2, pkix.Name{CommonName: "kube-apiserver"}, x509.ExtKeyUsageServerAuth,
		[]net.IP{net.IPv4(127, 0, 0, 1), net.ParseIP("10.43.0.1")}, p.serverCert, p.serverKey); err != nil {
		return p, err
	}
	if err := leaf(3, pkix.Name{CommonName: "bench-admin", Organization: []string{"system:masters"}}, x509.ExtKeyUsageClientAuth,
		nil, p.clientCert, p.clientKey); err != nil {
		return p, err
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return p, err
	}
	kb, err := x509.MarshalECPrivateKey(saKey)
	if err != nil {
		return p, err
	}
	return p, writePEM(p.saKey, "EC PRIVATE KEY", kb)
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}

// upstreamWrites is skiffWrites against kube-apiserver: the same objects,
// client settings and phases; CPU is kube-apiserver's and etcd's
// together, storage writes are etcd's.
func upstreamWrites(ctx context.Context, u *upstream, ns string, n, conc int) (run, error) {
	return apiWrites(ctx, u.api, u.cpu, u.etcd.pid(), ns, n, conc, nil)
}

// lookUpstream says which binaries the side-by-side column can run, or
// why it is skipped.
func lookUpstream(apiserverBin, etcdBin string) (string, string, error) {
	if apiserverBin == "" {
		return "", "", errors.New("no -kube-apiserver path")
	}
	if _, err := os.Stat(apiserverBin); err != nil {
		return "", "", fmt.Errorf("kube-apiserver binary %s not found (build it with hack/bench/build-kube-apiserver, or pass -kube-apiserver)", apiserverBin)
	}
	e, err := exec.LookPath(etcdBin)
	if err != nil {
		return "", "", fmt.Errorf("etcd (%s) not found (Debian: apt-get install etcd-server)", etcdBin)
	}
	return apiserverBin, e, nil
}
