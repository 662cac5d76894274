package apiserver

import (
	"bytes"
	"io"
	"net/http"
	"strconv"

	"github.com/skiff-io/skiff/server/jsonscan"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// storedEncoding is what a write stored for the object it returns, so
// that the response can be made from those bytes instead of encoding the
// object a second time.
type storedEncoding struct {
	value []byte
	rev   int64
}

// keepStored records what a write stored, when its caller asked.
func (o writeOptions) keepStored(value []byte, rev int64) {
	if o.stored != nil {
		*o.stored = storedEncoding{value: value, rev: rev}
	}
}

// writeWritten answers a create or update with obj, which the write
// stored as enc. A plain JSON answer is enc with the resourceVersion put
// back (the bytes json.Marshal of obj gives); anything else, or an
// encoding this cannot splice, goes through writeObject.
func (s *Server) writeWritten(w http.ResponseWriter, r *http.Request, res *resource, out outputKind, code int, obj runtime.Object, enc storedEncoding) {
	if out == outputObject && res.storage == nil && enc.value != nil {
		rv := strconv.FormatInt(enc.rev, 10)
		if acc, err := meta.Accessor(obj); err == nil && acc.GetResourceVersion() == rv {
			if at, ok := rvInsertAt(enc.value, res.gvk); ok {
				obj.GetObjectKind().SetGroupVersionKind(res.gvk) // as encodeObject leaves it
				// Written in pieces into the response's buffer rather
				// than copied into a new slice first.
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("X-Content-Type-Options", "nosniff")
				w.WriteHeader(code)
				_, _ = w.Write(enc.value[:at])
				_, _ = io.WriteString(w, `,"resourceVersion":"`+rv+`"`)
				_, _ = w.Write(enc.value[at:])
				_, _ = w.Write(newline)
				return
			}
		}
	}
	s.writeObject(w, r, res, out, code, obj)
}

var newline = []byte("\n")

// rvInsertAt returns where "resourceVersion":rv goes into a stored
// object's JSON, which encodeStored wrote without it (with the comma
// before it). encoding/json writes ObjectMeta's fields in declaration
// order (name, generateName, namespace, selfLink, uid, resourceVersion,
// …) right after kind and apiVersion, so the field goes after uid.
// Anything else in that place (no uid, an unexpected field) is refused:
// the caller encodes instead.
func rvInsertAt(stored []byte, gvk schema.GroupVersionKind) (int, bool) {
	prefix := `{"kind":"` + gvk.Kind + `","apiVersion":"` + gvk.GroupVersion().String() + `","metadata":{`
	if !bytes.HasPrefix(stored, []byte(prefix)) {
		return 0, false
	}
	i := len(prefix)
	for {
		key, next, ok := jsonString(stored, i)
		if !ok || next >= len(stored) || stored[next] != ':' {
			return 0, false
		}
		end, ok := jsonscan.StringEnd(stored, next+1)
		if !ok {
			return 0, false
		}
		switch key {
		case "name", "generateName", "namespace", "selfLink":
			if end >= len(stored) || stored[end] != ',' {
				return 0, false
			}
			i = end + 1
			continue
		case "uid":
			return end, true
		}
		return 0, false
	}
}

// jsonString reads the JSON string starting at b[i] (field names here
// have no escapes) and returns it and the index after it.
func jsonString(b []byte, i int) (string, int, bool) {
	end, ok := jsonscan.StringEnd(b, i)
	if !ok {
		return "", 0, false
	}
	return string(b[i+1 : end-1]), end, true
}

// storedWithRV returns stored with "resourceVersion":rv inserted at
// rvInsertAt, in one new slice: what writeWritten answers in pieces, and
// what a watch event of the object carries.
func storedWithRV(stored []byte, gvk schema.GroupVersionKind, rv string) ([]byte, bool) {
	at, ok := rvInsertAt(stored, gvk)
	if !ok {
		return nil, false
	}
	out := append([]byte(nil), stored[:at]...)
	out = append(out, `,"resourceVersion":"`+rv+`"`...)
	return append(out, stored[at:]...), true
}
