package apiserver

import (
	"net/http"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// get serves GET on one object.
func (s *Server) get(w http.ResponseWriter, r *http.Request, res *resource, ri requestInfo) {
	out, err := negotiate(r)
	if err != nil {
		writeError(w, err, res.gvr().GroupResource(), ri.name)
		return
	}
	kv, _, err := s.store.Get(r.Context(), res.key(ri.namespace, ri.name))
	if err != nil {
		writeError(w, err, res.gvr().GroupResource(), ri.name)
		return
	}
	obj, err := res.decodeStored(kv)
	if err != nil {
		writeError(w, err, res.gvr().GroupResource(), ri.name)
		return
	}
	s.writeObject(w, r, res, out, http.StatusOK, obj)
}

func groupResource(res *resource) schema.GroupResource { return res.gvr().GroupResource() }
