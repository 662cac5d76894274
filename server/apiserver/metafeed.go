package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/skiff-io/skiff/server/metafeed"
	"github.com/skiff-io/skiff/server/storage"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
)

// registryPrefix holds every served object's key.
const registryPrefix = "/registry/"

// feedPage bounds one list request of the feed. Each page costs kine a
// query and a count over the rest of the range, so a full listing costs
// pages × keys: with 15,000 keys, pages of 500 take 2.8 s, of 2,000 1.0 s
// (storage's BenchmarkListPages), for a few MB more held while a page is
// decoded.
const feedPage = 2000

// MetadataFeed returns a metafeed.Source over this server's datastore:
// one paginated list and one watch of every key under /registry/, of
// which each object's metadata alone is decoded.
func (s *Server) MetadataFeed() metafeed.Source {
	f := &metaFeed{store: s.store, byPlural: map[string]*resource{}}
	for _, r := range s.byGVR {
		if r.storage != nil || r.review != nil {
			continue // a view of another resource's keys (events.k8s.io), or nothing stored
		}
		f.byPlural[r.plural] = r
		f.resources = append(f.resources, metafeed.Resource{
			GVR:  r.gvk.GroupVersion().WithResource(r.plural),
			Kind: r.gvk.Kind, Namespaced: r.namespaced,
		})
	}
	return f
}

type metaFeed struct {
	store     *storage.Store
	byPlural  map[string]*resource
	resources []metafeed.Resource
}

func (f *metaFeed) Resources() []metafeed.Resource { return f.resources }

func (f *metaFeed) Run(ctx context.Context, h metafeed.Handler) error {
	for ctx.Err() == nil {
		rev, err := f.list(ctx, h)
		if err == nil {
			err = f.watch(ctx, h, rev)
		}
		if ctx.Err() != nil {
			return nil
		}
		klog.V(2).InfoS("metadata feed: starting over", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
	return nil
}

// list reads every object at one revision and hands them to h.Replace.
func (f *metaFeed) list(ctx context.Context, h metafeed.Handler) (int64, error) {
	var objs []metafeed.Object
	start, end := registryPrefix, prefixEnd(registryPrefix)
	var rev int64
	for {
		page, err := f.store.List(ctx, start, end, feedPage, rev)
		if err != nil {
			return 0, err
		}
		if rev == 0 {
			rev = page.Revision
		}
		for _, kv := range page.KVs {
			if o, ok := f.object(kv); ok {
				objs = append(objs, o)
			}
		}
		if !page.More || len(page.KVs) == 0 {
			break
		}
		start = page.KVs[len(page.KVs)-1].Key + "\x00"
	}
	h.Replace(objs)
	return rev, nil
}

// watch follows changes after rev until an error ends the stream.
func (f *metaFeed) watch(ctx context.Context, h metafeed.Handler, rev int64) error {
	for ev := range f.store.Watch(ctx, registryPrefix, rev) {
		switch {
		case ev.Err != nil:
			return ev.Err
		case ev.Type == storage.Progress:
		case ev.Type == storage.Deleted:
			prev := ev.Prev
			prev.ModRevision = ev.Revision
			if o, ok := f.object(prev); ok {
				h.Delete(o)
			}
		default:
			if o, ok := f.object(ev.KV); ok {
				h.Upsert(o)
			}
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return errors.New("watch ended")
}

// object decodes the metadata of a served object's key; other keys
// (allocations, views) are skipped.
func (f *metaFeed) object(kv storage.KV) (metafeed.Object, bool) {
	rest, ok := strings.CutPrefix(kv.Key, registryPrefix)
	if !ok || len(kv.Value) == 0 {
		return metafeed.Object{}, false
	}
	plural, _, _ := strings.Cut(rest, "/")
	r := f.byPlural[plural]
	if r == nil {
		return metafeed.Object{}, false
	}
	// Managed fields are most of an object's metadata and no in-process
	// follower needs them (a first listing of a large store would hold
	// them all): they are not decoded.
	var m feedMetadata
	if err := decodeMetadata(kv.Value, &m); err != nil {
		klog.ErrorS(err, "metadata feed: undecodable object", "key", kv.Key)
		return metafeed.Object{}, false
	}
	pm := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
		Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: strconv.FormatInt(kv.ModRevision, 10),
		Labels: m.Labels, Annotations: m.Annotations, OwnerReferences: m.OwnerReferences,
		Finalizers: m.Finalizers, DeletionTimestamp: m.DeletionTimestamp,
	}}
	pm.SetGroupVersionKind(r.gvk)
	return metafeed.Object{Resource: schema.GroupVersionResource{Group: r.gvk.Group, Version: r.gvk.Version, Resource: r.plural}, Meta: pm}, true
}

// feedMetadata is the part of an object's metadata the feed's followers
// read.
type feedMetadata struct {
	Name              string                  `json:"name"`
	Namespace         string                  `json:"namespace"`
	UID               types.UID               `json:"uid"`
	Labels            map[string]string       `json:"labels"`
	Annotations       map[string]string       `json:"annotations"`
	OwnerReferences   []metav1.OwnerReference `json:"ownerReferences"`
	Finalizers        []string                `json:"finalizers"`
	DeletionTimestamp *metav1.Time            `json:"deletionTimestamp"`
}

// decodeMetadata decodes the top-level "metadata" of a stored object into
// m, and reads no further: the rest of the object (a ConfigMap's data, a
// pod's spec) is most of its bytes and is neither decoded nor validated,
// only stepped over where it comes first (stored objects put metadata
// third, after kind and apiVersion). An object without metadata leaves m
// empty.
func decodeMetadata(value []byte, m *feedMetadata) error {
	s := shapeScan{b: value}
	s.ws()
	if s.i >= len(value) || value[s.i] != '{' {
		return fmt.Errorf("not a JSON object")
	}
	s.i++
	for first := true; ; first = false {
		s.ws()
		if s.i < len(value) && value[s.i] == '}' && first {
			return nil
		}
		if !first {
			if s.i >= len(value) || value[s.i] != ',' {
				if s.i < len(value) && value[s.i] == '}' {
					return nil
				}
				return errors.New("malformed JSON object")
			}
			s.i++
			s.ws()
		}
		k := s.i
		if k >= len(value) || value[k] != '"' || !s.str() {
			return errors.New("malformed JSON object")
		}
		name := value[k:s.i]
		if bytes.IndexByte(name, '\\') >= 0 {
			var unq string
			if err := json.Unmarshal(name, &unq); err != nil {
				return err
			}
			name = []byte(strconv.Quote(unq))
		}
		s.ws()
		if s.i >= len(value) || value[s.i] != ':' {
			return errors.New("malformed JSON object")
		}
		s.i++
		s.ws()
		v := s.i
		if !s.skip() {
			return errors.New("malformed JSON value")
		}
		if string(name) == `"metadata"` {
			return json.Unmarshal(withoutManagedFields(value[v:s.i]), m)
		}
	}
}

// withoutManagedFields returns a metadata object's JSON without its
// managedFields member when that is the last one, as json.Marshal writes
// it, so that decoding does not step through them (most of the bytes of
// a small object's metadata), else meta itself. What it leaves out is
// only checked for balanced brackets.
func withoutManagedFields(meta []byte) []byte {
	s := shapeScan{b: meta}
	if len(meta) == 0 || meta[0] != '{' {
		return meta
	}
	s.i = 1
	for first := true; ; first = false {
		s.ws()
		if s.i >= len(meta) || meta[s.i] == '}' {
			return meta
		}
		member := s.i
		if !first {
			if meta[s.i] != ',' {
				return meta
			}
			s.i++
			s.ws()
		}
		k := s.i
		if k >= len(meta) || meta[k] != '"' || !s.str() {
			return meta
		}
		name := meta[k:s.i]
		s.ws()
		if s.i >= len(meta) || meta[s.i] != ':' {
			return meta
		}
		s.i++
		if !s.skip() {
			return meta
		}
		if string(name) == `"managedFields"` {
			s.ws()
			if s.i >= len(meta) || meta[s.i] != '}' {
				return meta
			}
			out := make([]byte, 0, member+1)
			out = append(out, meta[:member]...)
			return append(out, '}')
		}
	}
}
