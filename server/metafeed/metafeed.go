// Package metafeed is how in-process controllers follow the metadata of
// every stored object through one datastore list and watch, instead of one
// API list and watch per resource. The garbage collector needs exactly
// that (owners, finalizers, deletion timestamps of everything); through
// the API it would hold some thirty watches, each with its goroutines and
// buffers on both sides of the loopback connection, and pay a JSON
// encode, TLS and decode per change. The API server provides the Source
// (apiserver.Server.MetadataFeed); controllers only see this package.
package metafeed

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Resource is one resource the feed reports, as discovery names it.
type Resource struct {
	GVR        schema.GroupVersionResource
	Kind       string
	Namespaced bool
}

// Object is one object's metadata (uid, name, namespace,
// resourceVersion, labels, annotations, owner references, finalizers,
// deletion timestamp; not managed fields) and its resource.
type Object struct {
	Resource schema.GroupVersionResource
	Meta     *metav1.PartialObjectMetadata
}

// Handler receives the feed. Calls come from one goroutine, in the order
// of the datastore's revisions.
type Handler interface {
	// Replace gives every object at one revision: first when the feed
	// starts, again whenever it had to start over (the datastore
	// compacted the revisions it was about to read). Anything the handler
	// knew that is not in objs is gone.
	Replace(objs []Object)
	// Upsert reports a created or changed object.
	Upsert(obj Object)
	// Delete reports a deleted object, with its last metadata.
	Delete(obj Object)
}

// Source is a feed of object metadata.
type Source interface {
	// Resources lists what the feed reports.
	Resources() []Resource
	// Run lists and then watches, calling h, until ctx ends; it starts
	// over by itself after a compaction or a datastore error.
	Run(ctx context.Context, h Handler) error
}
