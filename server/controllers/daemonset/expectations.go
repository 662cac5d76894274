package daemonset

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// expectations remember, per DaemonSet, the pod creations and deletions
// the controller made that its informer has not shown yet, so that a pass
// on a stale cache does not create a second pod on a node or delete again.
type expectations struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]*pending
}

type pending struct {
	adds    int
	deletes map[types.UID]bool
	at      time.Time
}

func newExpectations(now func() time.Time) *expectations {
	return &expectations{now: now, m: map[string]*pending{}}
}

func (e *expectations) expect(key string, adds int, deletes []*corev1.Pod) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := &pending{adds: adds, deletes: map[types.UID]bool{}, at: e.now()}
	for _, pod := range deletes {
		p.deletes[pod.UID] = true
	}
	e.m[key] = p
}

func (e *expectations) created(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p := e.m[key]; p != nil && p.adds > 0 {
		p.adds--
	}
}

func (e *expectations) deleted(key string, uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p := e.m[key]; p != nil {
		delete(p.deletes, uid)
	}
}

func (e *expectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}

func (e *expectations) satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.m[key]
	return p == nil || (p.adds <= 0 && len(p.deletes) == 0) || e.now().Sub(p.at) > expectationTTL
}
