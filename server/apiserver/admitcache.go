package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/skiff-io/skiff/server/errdefs"
	"github.com/skiff-io/skiff/server/storage"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
)

// Pod admission reads a ServiceAccount (ServiceAccount admission) and the
// PriorityClasses (Priority admission: all of them, for the globalDefault
// one, when the pod names none) on every pod create. kube-apiserver's
// plugins read them from informers; so does skiff, from watch-fed
// caches of the little each plugin needs: a datastore read and a list
// decoded per pod were ~10% of the server's CPU per pod a Deployment
// created. As in kube-apiserver, a name the cache has not seen yet is
// read from the datastore, so an object created a moment ago is found.

// pendingWrite bounds how long a PriorityClass write admitted by this
// server keeps the default class from being answered from the cache:
// until the cache has seen that class's event, or, if the write failed or
// changed nothing, this long.
const pendingWrite = 10 * time.Second

// prefixCache keeps a digest (T) of every object under a key prefix,
// fed by a datastore watch.
type prefixCache[T any] struct {
	store  *storage.Store
	prefix string
	digest func([]byte) (T, error)

	mu     sync.RWMutex
	loaded bool         // items holds the whole prefix (after the first list)
	items  map[string]T // key without the prefix
	// pending: names this server is about to write, until their events
	// arrive (see notePending).
	pending map[string]time.Time
}

func newPrefixCache[T any](s *storage.Store, prefix string, digest func([]byte) (T, error)) *prefixCache[T] {
	return &prefixCache[T]{store: s, prefix: prefix, digest: digest, items: map[string]T{}, pending: map[string]time.Time{}}
}

// run lists and then follows the prefix until ctx ends, listing again
// after a watch error (a compaction, say).
func (c *prefixCache[T]) run(ctx context.Context) error {
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

func (c *prefixCache[T]) load(ctx context.Context) (int64, error) {
	page, err := c.store.List(ctx, c.prefix, prefixEnd(c.prefix), 0, 0)
	if err != nil {
		return 0, err
	}
	m := make(map[string]T, len(page.KVs))
	for _, kv := range page.KVs {
		if d, err := c.digest(kv.Value); err == nil {
			m[strings.TrimPrefix(kv.Key, c.prefix)] = d
		}
	}
	c.mu.Lock()
	c.items, c.loaded = m, true
	c.mu.Unlock()
	return page.Revision, nil
}

func (c *prefixCache[T]) follow(ctx context.Context, rev int64) error {
	for ev := range c.store.Watch(ctx, c.prefix, rev) {
		if ev.Err != nil {
			return ev.Err
		}
		if ev.Type == storage.Progress {
			continue
		}
		name := strings.TrimPrefix(ev.KV.Key, c.prefix)
		var d T
		var err error
		if ev.Type == storage.Put {
			d, err = c.digest(ev.KV.Value)
		}
		c.mu.Lock()
		delete(c.pending, name)
		if ev.Type == storage.Put && err == nil {
			c.items[name] = d
		} else {
			delete(c.items, name)
		}
		c.mu.Unlock()
	}
	return nil
}

// get returns the digest of the object named name; ok is false when the
// cache does not know it (not listed yet, or not there).
func (c *prefixCache[T]) get(name string) (d T, ok bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	d, ok = c.items[name]
	return d, ok
}

// all calls f with every digest and returns true, or returns false when
// the cache cannot answer for the whole prefix: before its first list,
// or while a write this server admitted is not in it yet.
func (c *prefixCache[T]) all(now time.Time, f func(T)) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.loaded {
		return false
	}
	for _, until := range c.pending {
		if now.Before(until) {
			return false
		}
	}
	for _, d := range c.items {
		f(d)
	}
	return true
}

// notePending records that this server is about to write the object
// named name: all answers from the datastore until its event arrives.
func (c *prefixCache[T]) notePending(name string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for n, until := range c.pending {
		if !now.Before(until) {
			delete(c.pending, n)
		}
	}
	c.pending[name] = now.Add(pendingWrite)
}

// accountDigest is what ServiceAccount admission reads of an account.
type accountDigest struct {
	automount *bool
}

func digestAccount(b []byte) (accountDigest, error) {
	var sa struct {
		AutomountServiceAccountToken *bool `json:"automountServiceAccountToken"`
	}
	if err := json.Unmarshal(b, &sa); err != nil {
		return accountDigest{}, err
	}
	return accountDigest{automount: sa.AutomountServiceAccountToken}, nil
}

// classDigest is what Priority admission reads of a PriorityClass.
type classDigest struct {
	name          string
	value         int32
	globalDefault bool
	policy        *corev1.PreemptionPolicy
}

func digestClass(b []byte) (classDigest, error) {
	var pc schedulingv1.PriorityClass
	if err := json.Unmarshal(b, &pc); err != nil {
		return classDigest{}, err
	}
	return classDigest{name: pc.Name, value: pc.Value, globalDefault: pc.GlobalDefault, policy: pc.PreemptionPolicy}, nil
}

func (d classDigest) class() *schedulingv1.PriorityClass {
	pc := &schedulingv1.PriorityClass{Value: d.value, GlobalDefault: d.globalDefault}
	pc.Name = d.name
	if d.policy != nil {
		p := *d.policy
		pc.PreemptionPolicy = &p
	}
	return pc
}
