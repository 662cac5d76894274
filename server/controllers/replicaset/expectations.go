package replicaset

import (
	"sync"
	"time"
)

// expectationsTTL is how long unobserved creations or deletions hold a
// ReplicaSet back before the controller looks again anyway (a missed watch
// event must not stall it forever), kube-controller-manager's value.
const expectationsTTL = 5 * time.Minute

// Expectations remember, per ReplicaSet key, the pod creations and
// deletions a sync issued that the pod informer has not shown yet. While
// any are outstanding the controller does not create or delete again: the
// informer's view of the pods is behind its own writes. Safe for
// concurrent use.
type Expectations struct {
	mu sync.Mutex
	m  map[string]*expectation
}

type expectation struct {
	adds int
	dels map[string]bool
	at   time.Time
}

// NewExpectations returns empty Expectations.
func NewExpectations() *Expectations { return &Expectations{m: map[string]*expectation{}} }

// Satisfied reports whether key may create or delete pods at now.
func (e *Expectations) Satisfied(key string, now time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.m[key]
	return !ok || (x.adds <= 0 && len(x.dels) == 0) || now.Sub(x.at) > expectationsTTL
}

// ExpectCreations records that n pods are being created for key.
func (e *Expectations) ExpectCreations(key string, n int, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[key] = &expectation{adds: n, at: now}
}

// ExpectDeletions records that the pods podKeys are being deleted for key.
func (e *Expectations) ExpectDeletions(key string, podKeys []string, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	dels := make(map[string]bool, len(podKeys))
	for _, k := range podKeys {
		dels[k] = true
	}
	e.m[key] = &expectation{dels: dels, at: now}
}

// CreationObserved counts one expected creation of key as seen (or as
// never going to happen).
func (e *Expectations) CreationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		x.adds--
	}
}

// DeletionObserved counts the expected deletion of podKey for key as seen.
func (e *Expectations) DeletionObserved(key, podKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		delete(x.dels, podKey)
	}
}

// Forget drops key's expectations (the ReplicaSet is gone).
func (e *Expectations) Forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}
