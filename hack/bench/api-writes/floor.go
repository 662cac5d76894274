package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/skiff-io/skiff/hack/bench/internal/skiffproc"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// floorServer is the least an API server in front of skiff's datastore
// can do: it runs in this process on HTTPS with HTTP/2, as skiff serves,
// stores each ConfigMap body with the transactions skiff's storage uses in
// a kine reached in process as skiff runs it (group commit) and one watch open
// (as skiff's server reaches its own), and echoes the body back. No
// decoding beyond the name, no defaults, validation, managed fields or
// resourceVersion. client-go writing through it shows what concurrency 1
// could reach at best.
type floorServer struct {
	http   *httptest.Server
	api    *kubernetes.Clientset
	kine   *skiffproc.Kine
	cancel context.CancelFunc
	done   chan struct{} // the watch is drained

	mu   sync.Mutex
	revs map[string]int64 // key → mod revision of the last write
}

func startFloor(ctx context.Context, dir string) (*floorServer, error) {
	k, err := skiffproc.StartKine(ctx, dir, true)
	if err != nil {
		return nil, err
	}
	k.Backend.UseInProcess(k.Client)
	wctx, cancel := context.WithCancel(ctx)
	f := &floorServer{kine: k, cancel: cancel, done: make(chan struct{}), revs: map[string]int64{}}
	wch := k.Client.Watch(wctx, "/registry/", clientv3.WithPrefix(), clientv3.WithPrevKV())
	go func() {
		defer close(f.done)
		for range wch {
		}
	}()

	f.http = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.http.EnableHTTP2 = true
	f.http.StartTLS()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.http.Certificate().Raw})
	rc := &rest.Config{Host: f.http.URL, TLSClientConfig: rest.TLSClientConfig{CAData: ca}}
	if f.api, err = clientFor(rc, "application/json", 60*time.Second); err != nil {
		f.stop()
		return nil, err
	}
	return f, nil
}

func (f *floorServer) stop() {
	f.http.Close()
	f.cancel()
	<-f.done
	f.kine.Stop()
}

// serve answers POST .../namespaces, POST .../namespaces/<ns>/configmaps
// and PUT .../namespaces/<ns>/configmaps/<name>.
func (f *floorServer) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/") // api v1 namespaces <ns> configmaps [<name>]
	var key string
	switch {
	case r.Method == http.MethodPost && len(parts) == 3:
		f.reply(w, http.StatusCreated, body)
		return
	case r.Method == http.MethodPost && len(parts) == 5:
		var m struct {
			Metadata struct{ Name string } `json:"metadata"`
		}
		if err := json.Unmarshal(body, &m); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		key = configMapKey(parts[3], m.Metadata.Name)
	case r.Method == http.MethodPut && len(parts) == 6:
		key = configMapKey(parts[3], parts[5])
	default:
		http.Error(w, "not served", http.StatusNotFound)
		return
	}
	f.mu.Lock()
	rev := f.revs[key]
	f.mu.Unlock()
	txn := f.kine.Client.Txn(r.Context()).If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).Then(clientv3.OpPut(key, string(body)))
	if rev != 0 {
		txn = txn.Else(clientv3.OpGet(key))
	}
	resp, err := txn.Commit()
	switch {
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	case !resp.Succeeded:
		http.Error(w, "conflict", http.StatusConflict)
		return
	}
	f.mu.Lock()
	f.revs[key] = resp.Header.Revision
	f.mu.Unlock()
	code := http.StatusOK
	if rev == 0 {
		code = http.StatusCreated
	}
	f.reply(w, code, body)
}

func (f *floorServer) reply(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// floorWrites makes skiffWrites' writes through the floor server. Server
// and client share this process, so the CPU figure is both together.
func floorWrites(ctx context.Context, f *floorServer, ns string, n, conc int) (run, error) {
	r, err := apiWrites(ctx, f.api, func() (time.Duration, error) { return 0, nil }, os.Getpid(), ns, n, conc, nil)
	r.cpu, r.clientCPU = r.clientCPU, 0
	return r, err
}
