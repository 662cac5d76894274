package apiserver

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/skiff-io/skiff/server/printers"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// writeObject writes one object in the negotiated form.
func (s *Server) writeObject(w http.ResponseWriter, r *http.Request, res *resource, out outputKind, code int, obj runtime.Object) {
	switch out {
	case outputTable:
		t := s.buildTable(r, res, []runtime.Object{obj}, metav1.ListMeta{})
		writeObjectJSON(w, code, t)
		return
	case outputPartial:
		writeObjectJSON(w, code, partialMetadata(obj, res))
		return
	}
	if st, ok := obj.(*metav1.Status); ok {
		writeObjectJSON(w, code, st)
		return
	}
	b, err := encodeObject(obj, res.gvk)
	if err != nil {
		writeStatus(w, &apierrors.NewInternalError(err).ErrStatus)
		return
	}
	writeJSON(w, code, b)
}

// buildTable renders objects with the kind's printer. Each row carries the
// object's metadata (includeObject=Metadata, the default), the whole object
// (Object) or nothing (None).
func (s *Server) buildTable(r *http.Request, res *resource, items []runtime.Object, lm metav1.ListMeta) *metav1.Table {
	p, ok := printers.For(res.gvk.GroupKind())
	if !ok {
		p = printers.Default()
	}
	include := r.URL.Query().Get("includeObject")
	t := &metav1.Table{TypeMeta: metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"}, ColumnDefinitions: p.Columns}
	t.ListMeta = lm
	now := time.Now()
	t.Rows = make([]metav1.TableRow, 0, len(items))
	for _, it := range items {
		row := metav1.TableRow{Cells: p.Row(it, now)}
		switch include {
		case "None":
		case "Object":
			b, _ := encodeObject(it.DeepCopyObject(), res.gvk)
			row.Object = runtime.RawExtension{Raw: b}
		default:
			b, _ := json.Marshal(partialMetadata(it, res))
			row.Object = runtime.RawExtension{Raw: b}
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}
