package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/skiff-io/skiff/server/errdefs"
	"github.com/skiff-io/skiff/server/storage"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

const nsPrefix = "/registry/namespaces/"

// namespaceCache answers "may objects be created in this namespace" without
// a datastore read on every write. It is fed by a watch; a name it has not
// seen yet is read from the store, so a namespace created a moment ago is
// never refused.
type namespaceCache struct {
	store *storage.Store
	mu    sync.RWMutex
	phase map[string]corev1.NamespacePhase
}

func newNamespaceCache(s *storage.Store) *namespaceCache {
	return &namespaceCache{store: s, phase: map[string]corev1.NamespacePhase{}}
}

func (c *namespaceCache) run(ctx context.Context) error {
	for ctx.Err() == nil {
		rev, err := c.load(ctx)
		if err == nil {
			err = c.follow(ctx, rev)
		}
		if ctx.Err() != nil {
			return nil
		}
		if err != nil && !errors.Is(err, errdefs.ErrGone) {
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
	return nil
}

func (c *namespaceCache) load(ctx context.Context) (int64, error) {
	page, err := c.store.List(ctx, nsPrefix, prefixEnd(nsPrefix), 0, 0)
	if err != nil {
		return 0, err
	}
	m := map[string]corev1.NamespacePhase{}
	for _, kv := range page.KVs {
		m[strings.TrimPrefix(kv.Key, nsPrefix)] = phaseOf(kv.Value)
	}
	c.mu.Lock()
	c.phase = m
	c.mu.Unlock()
	return page.Revision, nil
}

func (c *namespaceCache) follow(ctx context.Context, rev int64) error {
	for ev := range c.store.Watch(ctx, nsPrefix, rev) {
		if ev.Err != nil {
			return ev.Err
		}
		name := strings.TrimPrefix(ev.KV.Key, nsPrefix)
		c.mu.Lock()
		switch ev.Type {
		case storage.Put:
			c.phase[name] = phaseOf(ev.KV.Value)
		case storage.Deleted:
			delete(c.phase, name)
		}
		c.mu.Unlock()
	}
	return nil
}

func phaseOf(b []byte) corev1.NamespacePhase {
	var ns struct {
		Status corev1.NamespaceStatus `json:"status"`
	}
	_ = json.Unmarshal(b, &ns)
	if ns.Status.Phase == "" {
		return corev1.NamespaceActive
	}
	return ns.Status.Phase
}

// admit returns nil when new objects may be created in ns.
func (c *namespaceCache) admit(ctx context.Context, ns string, gr schema.GroupResource, name string) error {
	c.mu.RLock()
	p, ok := c.phase[ns]
	c.mu.RUnlock()
	if !ok {
		kv, _, err := c.store.Get(ctx, nsPrefix+ns)
		if errors.Is(err, errdefs.ErrNotFound) {
			return apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, ns)
		}
		if err != nil {
			return err
		}
		p = phaseOf(kv.Value)
	}
	if p == corev1.NamespaceTerminating {
		err := apierrors.NewForbidden(gr, name, fmt.Errorf("unable to create new content in namespace %s because it is being terminated", ns))
		err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{
			Type:    corev1.NamespaceTerminatingCause,
			Message: fmt.Sprintf("namespace %s is being terminated", ns),
			Field:   "metadata.namespace",
		})
		return err
	}
	return nil
}
