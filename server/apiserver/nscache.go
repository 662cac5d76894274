package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

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
	*prefixCache[corev1.NamespacePhase]
}

func newNamespaceCache(s *storage.Store) *namespaceCache {
	return &namespaceCache{newPrefixCache(s, nsPrefix, func(b []byte) (corev1.NamespacePhase, error) {
		return phaseOf(b), nil
	})}
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
	p, ok := c.get(ns)
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
