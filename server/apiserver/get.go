package apiserver

import (
	"context"
	"net/http"

	"github.com/skiff-io/skiff/server/storage"
	"k8s.io/apimachinery/pkg/runtime"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// get serves GET on one object.
func (s *Server) get(w http.ResponseWriter, r *http.Request, res *resource, ri requestInfo) {
	out, err := negotiate(r)
	if err != nil {
		writeError(w, err, res.gvr().GroupResource(), ri.name)
		return
	}
	_, obj, err := s.load(r.Context(), res, ri.namespace, ri.name)
	if err != nil {
		writeError(w, err, res.gvr().GroupResource(), ri.name)
		return
	}
	s.writeObject(w, r, res, out, http.StatusOK, obj)
}

func groupResource(res *resource) schema.GroupResource { return res.gvr().GroupResource() }

// load reads one object and decodes it.
func (s *Server) load(ctx context.Context, res *resource, ns, name string) (storage.KV, runtime.Object, error) {
	kv, _, err := s.store.Get(ctx, res.key(ns, name))
	if err != nil {
		return kv, nil, err
	}
	obj, err := res.decodeStored(kv)
	return kv, obj, err
}
