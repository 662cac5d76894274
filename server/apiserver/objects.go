package apiserver

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/skiff-io/skiff/server/storage"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// key is the storage key of an object: /registry/<plural>/[<ns>/]<name>.
func (r *resource) key(ns, name string) string {
	if r.namespaced {
		return r.prefix + ns + "/" + name
	}
	return r.prefix + name
}

// listPrefix is the key prefix of a list in ns ("" for all namespaces).
func (r *resource) listPrefix(ns string) string {
	if r.namespaced && ns != "" {
		return r.prefix + ns + "/"
	}
	return r.prefix
}

// decodeStored turns a stored value into the served typed object with
// resourceVersion set from the revision.
func (r *resource) decodeStored(kv storage.KV) (runtime.Object, error) {
	var obj runtime.Object
	if r.storage != nil {
		obj = r.storage.newStored()
	} else {
		obj = r.newObj()
	}
	if err := json.Unmarshal(kv.Value, obj); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", kv.Key, err)
	}
	if r.storage != nil {
		obj = r.storage.fromStore(obj)
	}
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	acc.SetResourceVersion(strconv.FormatInt(kv.ModRevision, 10))
	obj.GetObjectKind().SetGroupVersionKind(r.gvk)
	return obj, nil
}

// decodeStoredMetadata is decodeStored for clients that asked for
// metadata only (PartialObjectMetadata): the rest of the value is skipped,
// not decoded. Only for resources stored as served (r.storage == nil).
func (r *resource) decodeStoredMetadata(kv storage.KV) (runtime.Object, error) {
	var stored struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
	}
	if err := json.Unmarshal(kv.Value, &stored); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", kv.Key, err)
	}
	pm := &metav1.PartialObjectMetadata{ObjectMeta: stored.Metadata}
	pm.ResourceVersion = strconv.FormatInt(kv.ModRevision, 10)
	pm.SetGroupVersionKind(r.gvk)
	return pm, nil
}

// encodeStored turns a typed object into the stored bytes. The
// resourceVersion is not stored: it is the key's mod revision.
func (r *resource) encodeStored(obj runtime.Object) ([]byte, error) {
	if r.storage != nil {
		obj = obj.DeepCopyObject()
		acc, err := meta.Accessor(obj)
		if err != nil {
			return nil, err
		}
		acc.SetResourceVersion("")
		obj = r.storage.toStored(obj)
		obj.GetObjectKind().SetGroupVersionKind(storedGVK(obj))
		return json.Marshal(obj)
	}
	// Blank the resourceVersion and set the kind for the encoding only,
	// rather than copying the object (a write's object belongs to its
	// request).
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	rv, gvk := acc.GetResourceVersion(), obj.GetObjectKind().GroupVersionKind()
	acc.SetResourceVersion("")
	obj.GetObjectKind().SetGroupVersionKind(r.gvk)
	defer func() {
		acc.SetResourceVersion(rv)
		obj.GetObjectKind().SetGroupVersionKind(gvk)
	}()
	return json.Marshal(obj)
}

func setRV(obj runtime.Object, rev int64) {
	if acc, err := meta.Accessor(obj); err == nil {
		acc.SetResourceVersion(strconv.FormatInt(rev, 10))
	}
}
