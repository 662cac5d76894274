package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/skiff-io/skiff/server/storage"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// minWatchTimeout is kube-apiserver's --min-request-timeout: watches
// without timeoutSeconds end after a random time in [min, 2*min) so that
// clients spread their re-watches.
const minWatchTimeout = 30 * time.Minute

// bookmarkInterval is how often an idle watch that allows bookmarks is
// told how far the store has advanced.
const bookmarkInterval = time.Minute

// watchStream writes watch events as kube-apiserver does: one JSON
// WatchEvent per line, flushed as it happens.
type watchStream struct {
	w       http.ResponseWriter
	fl      http.Flusher
	s       *Server
	res     *resource
	r       *http.Request
	table   bool
	partial bool
	first   bool
	// stored: the client reads plain JSON objects of a resource stored as
	// served, so an event's object can be its stored bytes (storedEvent).
	stored bool
}

func (ws *watchStream) send(typ watch.EventType, obj runtime.Object) error {
	var raw []byte
	var err error
	switch {
	case ws.table && (typ == watch.Added || typ == watch.Modified || typ == watch.Deleted):
		t := ws.s.buildTable(ws.r, ws.res, []runtime.Object{obj}, metav1.ListMeta{})
		if !ws.first {
			// Column definitions are sent once, as kube-apiserver does.
			t.ColumnDefinitions = nil
		}
		ws.first = false
		raw, err = json.Marshal(t)
	case ws.partial && typ != watch.Error:
		raw, err = json.Marshal(partialMetadata(obj, ws.res))
	default:
		raw, err = json.Marshal(obj)
	}
	if err != nil {
		return err
	}
	return ws.sendRaw(typ, raw)
}

// sendRaw writes an event whose object is already encoded.
func (ws *watchStream) sendRaw(typ watch.EventType, raw []byte) error {
	if _, err := ws.w.Write(watchEventLine(typ, raw)); err != nil {
		return err
	}
	ws.fl.Flush()
	return nil
}

// watchEventLine frames raw, the compact JSON of an object, as the line of
// a metav1.WatchEvent. It is what json.Marshal of the WatchEvent writes,
// without the pass in which encoding/json validates and compacts the
// object's bytes again (a RawExtension is a json.Marshaler): every event
// goes to every watcher, and that pass cost a third of sending it.
func watchEventLine(typ watch.EventType, raw []byte) []byte {
	b := make([]byte, 0, len(typ)+len(raw)+24)
	b = append(b, `{"type":"`...)
	b = append(b, typ...)
	b = append(b, `","object":`...)
	b = append(b, raw...)
	return append(b, "}\n"...)
}

// watch serves ?watch=true.
func (s *Server) watch(w http.ResponseWriter, r *http.Request, res *resource, ri requestInfo) {
	gr := groupResource(res)
	out, err := negotiate(r)
	if err != nil {
		writeError(w, err, gr, "")
		return
	}
	o, err := parseListOptions(r, res)
	if err != nil {
		writeError(w, err, gr, "")
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, fmt.Errorf("streaming unsupported"), gr, "")
		return
	}
	timeout := time.Duration(o.timeoutSeconds) * time.Second
	if timeout == 0 {
		timeout = minWatchTimeout + time.Duration(rand.Int64N(int64(minWatchTimeout)))
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()

	// Where the stream starts, and whether it begins with the current state.
	initial := o.resourceVersion == "" || o.resourceVersion == "0"
	if o.sendInitialEvents != nil {
		initial = *o.sendInitialEvents
	}
	var startRev int64
	if o.resourceVersion != "" && o.resourceVersion != "0" {
		startRev, _ = strconv.ParseInt(o.resourceVersion, 10, 64)
	}
	var items []runtime.Object
	if initial {
		lo := o
		lo.limit, lo.continueTok = 0, ""
		if startRev > 0 {
			lo.resourceVersionMatch = string(metav1.ResourceVersionMatchExact)
		} else {
			lo.resourceVersion = ""
		}
		page, err := s.listObjects(r.WithContext(ctx), res, ri.namespace, lo)
		if err != nil {
			writeError(w, err, gr, "")
			return
		}
		items, startRev = page.items, page.rev
	} else if startRev == 0 {
		if startRev, err = s.store.Revision(ctx); err != nil {
			writeError(w, err, gr, "")
			return
		}
	}

	events := s.store.Watch(ctx, res.listPrefix(ri.namespace), startRev)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	fl.Flush()
	ws := &watchStream{w: w, fl: fl, s: s, res: res, r: r, table: out == outputTable, partial: out == outputPartial, first: true,
		stored: out == outputObject && res.storage == nil}

	for _, it := range items {
		if ws.send(watch.Added, it) != nil {
			return
		}
	}
	lastRev := startRev
	if o.sendInitialEvents != nil && *o.sendInitialEvents && o.allowBookmarks {
		bm := s.bookmark(res, lastRev)
		acc, _ := meta.Accessor(bm)
		acc.SetAnnotations(map[string]string{metav1.InitialEventsAnnotationKey: "true"})
		if ws.send(watch.Bookmark, bm) != nil {
			return
		}
	}

	ticker := time.NewTicker(bookmarkInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if o.allowBookmarks {
				_ = s.store.RequestProgress(ctx)
			}
		case ev, ok := <-events:
			if !ok {
				return
			}
			if ev.Err != nil {
				st := toStatus(ev.Err, gr, "")
				if isGone(ev.Err) {
					st = &apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%d)", startRev, lastRev)).ErrStatus
				}
				st.Kind, st.APIVersion = "Status", "v1"
				_ = ws.send(watch.Error, st)
				return
			}
			if ev.Type == storage.Progress {
				if o.allowBookmarks && ev.Revision > lastRev {
					lastRev = ev.Revision
					if ws.send(watch.Bookmark, s.bookmark(res, lastRev)) != nil {
						return
					}
				}
				continue
			}
			lastRev = ev.Revision
			if ws.stored {
				typ, raw, ok := s.storedEvent(res, ev, o.sel)
				if ok {
					if raw != nil && ws.sendRaw(typ, raw) != nil {
						return
					}
					continue
				}
			}
			typ, obj, err := s.translate(res, ev, o.sel, ws.partial && res.storage == nil && o.sel.metadataOnly())
			if err != nil || obj == nil {
				continue
			}
			if ws.send(typ, obj) != nil {
				return
			}
		}
	}
}

// translate turns a storage event into a watch event for a client whose
// selector may match the old object, the new one, or both. metaOnly says
// the client wants metadata and selects on it alone (the garbage
// collector's informers): only metadata is decoded.
func (s *Server) translate(res *resource, ev storage.Event, sel selector, metaOnly bool) (watch.EventType, runtime.Object, error) {
	if name, ok := sel.singleName(); ok && keyName(ev.KV.Key, ev.Prev.Key) != name {
		// The key ends with the name: an informer pinned to one object
		// (metadata.name=…) skips the others' events without decoding them.
		return "", nil, nil
	}
	decode, matches := res.decodeStored, sel.matches
	if metaOnly {
		decode = res.decodeStoredMetadata
		matches = func(obj runtime.Object, _ *resource) bool { return sel.matchesMetadata(obj) }
	}
	var cur, prev runtime.Object
	var err error
	if ev.Type == storage.Put && sel.empty() {
		// Without a selector the old value only decides ADDED vs MODIFIED;
		// skip decoding it (the common case for informers).
		if cur, err = decode(ev.KV); err != nil {
			return "", nil, err
		}
		if ev.Prev.ModRevision != 0 || len(ev.Prev.Value) > 0 {
			return watch.Modified, cur, nil
		}
		return watch.Added, cur, nil
	}
	if ev.Type == storage.Put {
		if cur, err = decode(ev.KV); err != nil {
			return "", nil, err
		}
	}
	if ev.Prev.ModRevision != 0 || len(ev.Prev.Value) > 0 {
		if prev, err = decode(ev.Prev); err != nil {
			return "", nil, err
		}
	}
	curOK := cur != nil && matches(cur, res)
	prevOK := prev != nil && matches(prev, res)
	switch {
	case ev.Type == storage.Deleted:
		if prev == nil || !prevOK {
			return "", nil, nil
		}
		// A deleted object is reported at the revision of its deletion.
		setRV(prev, ev.Revision)
		return watch.Deleted, prev, nil
	case curOK && prevOK:
		return watch.Modified, cur, nil
	case curOK:
		return watch.Added, cur, nil
	case prevOK:
		// Changed so that it no longer matches: gone for this client.
		setRV(prev, ev.Revision)
		return watch.Deleted, prev, nil
	}
	return "", nil, nil
}

// storedEvent is translate for a client that reads plain JSON objects of
// a resource stored as served: the event's object is sent as its stored
// bytes with the resourceVersion put back (storedWithRV), which is what
// json.Marshal of the decoded object writes. Every event goes to every
// watcher of its resource (the scheduler's, the controllers' and the
// nodes' informers, for pods), and decoding and encoding the object again
// for each was most of what a watcher cost the server. A value is decoded
// only when the selector must look at it. raw is nil for an event the
// client does not see; ok is false when the stored bytes cannot be used
// as they are (translate then does the work).
func (s *Server) storedEvent(res *resource, ev storage.Event, sel selector) (typ watch.EventType, raw []byte, ok bool) {
	if ev.Type == storage.Put && sel.empty() {
		raw, ok = storedWithRV(ev.KV.Value, res.gvk, strconv.FormatInt(ev.KV.ModRevision, 10))
		if !ok {
			return "", nil, false
		}
		if ev.Prev.ModRevision != 0 || len(ev.Prev.Value) > 0 {
			return watch.Modified, raw, true
		}
		return watch.Added, raw, true
	}
	if ev.Type == storage.Deleted && sel.empty() && len(ev.Prev.Value) > 0 {
		// translate reports the old object at the deletion's revision.
		raw, ok = storedWithRV(ev.Prev.Value, res.gvk, strconv.FormatInt(ev.Revision, 10))
		return watch.Deleted, raw, ok
	}
	typ, obj, err := s.translate(res, ev, sel, false)
	if err != nil || obj == nil {
		return "", nil, true // not for this client, or unreadable: skipped, as translate's callers do
	}
	value, rev := ev.KV.Value, ev.KV.ModRevision
	if typ == watch.Deleted {
		// translate reports the old object at the deletion's revision.
		value, rev = ev.Prev.Value, ev.Revision
	}
	if raw, ok = storedWithRV(value, res.gvk, strconv.FormatInt(rev, 10)); !ok {
		return "", nil, false
	}
	return typ, raw, true
}

// keyName is the object name at the end of a storage key.
func keyName(key, fallback string) string {
	if key == "" {
		key = fallback
	}
	return key[strings.LastIndexByte(key, '/')+1:]
}

// bookmark is an object of the watched kind carrying only a revision.
func (s *Server) bookmark(res *resource, rev int64) runtime.Object {
	obj := res.newObj()
	obj.GetObjectKind().SetGroupVersionKind(res.gvk)
	setRV(obj, rev)
	return obj
}
