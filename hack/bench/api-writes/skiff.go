package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/skiff-io/skiff/hack/bench/internal/skiffproc"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// newAPIClient builds a clientset from the server's admin kubeconfig,
// without client-side rate limiting, sending request bodies as
// contentType and accepting JSON.
func newAPIClient(kubeconfig, contentType string) (*kubernetes.Clientset, error) {
	return newClient(kubeconfig, contentType, 60*time.Second)
}

// newClient is newAPIClient with a request timeout; 0 means none, which a
// long-lived watch needs (an http.Client timeout bounds the whole body).
func newClient(kubeconfig, contentType string, timeout time.Duration) (*kubernetes.Clientset, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return clientFor(rc, contentType, timeout)
}

// clientFor is the benchmark's client of the server rc points at.
func clientFor(rc *rest.Config, contentType string, timeout time.Duration) (*kubernetes.Clientset, error) {
	rc.QPS, rc.Burst = 10000, 10000
	rc.ContentType = contentType
	rc.AcceptContentTypes = "application/json"
	rc.Timeout = timeout
	rc.UserAgent = "api-writes-bench"
	return kubernetes.NewForConfig(rc)
}

// skiffWrites creates namespace ns, then n ConfigMaps in it, then updates
// each once, with conc requests in flight.
//
// skiff's controllers answer a new namespace with writes of their own (its
// default ServiceAccount, the kube-root-ca.crt ConfigMap); the timed
// phases start once those are stored, so that neither their time nor
// their bytes count as the benchmark's writes. kube-apiserver runs
// without controllers and writes nothing of the kind.
func skiffWrites(ctx context.Context, api *kubernetes.Clientset, srv *skiffproc.Server, ns string, n, conc int) (run, error) {
	return apiWrites(ctx, api, func() (time.Duration, error) { return processCPU(srv.PID()) }, srv.PID(), ns, n, conc, namespaceSettled)
}

// namespaceSettled waits (up to 10 s) for what skiff's controllers write
// into a new namespace.
func namespaceSettled(ctx context.Context, api *kubernetes.Clientset, ns string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		_, errSA := api.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		_, errCM := api.CoreV1().ConfigMaps(ns).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		if errSA == nil && errCM == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("namespace %s: its ServiceAccount and root CA ConfigMap: %v, %v", ns, errSA, errCM)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// apiWrites is skiffWrites against any API server; serverCPU reads the
// server's CPU time so far, dbPID is the process that writes its
// SQLite file, and settled (nil: nothing) waits for the server's own
// writes into a new namespace.
func apiWrites(ctx context.Context, api *kubernetes.Clientset, serverCPU func() (time.Duration, error), dbPID int, ns string, n, conc int, settled func(context.Context, *kubernetes.Clientset, string) error) (run, error) {
	if _, err := api.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return run{}, fmt.Errorf("namespace %s: %w", ns, err)
	}
	if settled != nil {
		if err := settled(ctx, api, ns); err != nil {
			return run{}, err
		}
	}
	cms := api.CoreV1().ConfigMaps(ns)
	objs := make([]*corev1.ConfigMap, n)
	var r run
	cpu0, err := serverCPU()
	if err != nil {
		return run{}, err
	}
	self0 := selfCPU()

	err = measureWrites(dbPID, &r.createWriteBytes, func() (err error) {
		r.create, err = runPhase(ctx, n, conc, func(ctx context.Context, i int) error {
			cm := &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: cmName(i)},
				Data:       map[string]string{"payload": payload()},
			}
			out, err := cms.Create(ctx, cm, metav1.CreateOptions{})
			objs[i] = out
			return err
		})
		return err
	})
	if err != nil {
		return run{}, fmt.Errorf("create: %w", err)
	}
	r.update, err = runPhase(ctx, n, conc, func(ctx context.Context, i int) error {
		// objs[i] is ours alone (returned by Create), so it may be mutated.
		objs[i].Data["payload"] = payload()
		_, err := cms.Update(ctx, objs[i], metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return run{}, fmt.Errorf("update: %w", err)
	}

	cpu1, err := serverCPU()
	if err != nil {
		return run{}, err
	}
	r.cpu = cpu1 - cpu0
	r.clientCPU = selfCPU() - self0
	return r, nil
}

// probeProtobuf creates one ConfigMap with a protobuf request body and
// says how the server answered.
func probeProtobuf(ctx context.Context, kubeconfig string) string {
	api, err := newAPIClient(kubeconfig, "application/vnd.kubernetes.protobuf")
	if err != nil {
		return "not checked: " + err.Error()
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "protobuf-probe"}, Data: map[string]string{"payload": payload()}}
	out, err := api.CoreV1().ConfigMaps("bench-c1").Create(ctx, cm, metav1.CreateOptions{})
	if err != nil {
		return "rejected: " + err.Error()
	}
	if len(out.Data["payload"]) != payloadBytes {
		return "accepted, but the object came back without its data"
	}
	return "accepted (201 Created; the response is JSON, as skiff only serves JSON)"
}

// cpuProfile records the server's CPU profile for the first
// seconds of a run into path; the channel yields once it is written.
// A run shorter than that leaves idle time in the profile.
func cpuProfile(ctx context.Context, api *kubernetes.Clientset, path string, seconds int) <-chan error {
	done := make(chan error, 1)
	go func() {
		b, err := api.Discovery().RESTClient().Get().AbsPath("/debug/pprof/profile").
			Param("seconds", strconv.Itoa(seconds)).DoRaw(ctx)
		if err == nil {
			err = os.WriteFile(path, b, 0o644)
		}
		done <- err
	}()
	return done
}
