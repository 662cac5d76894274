package apiserver

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// continueToken is the opaque ?continue= value: where the next page starts
// and the revision the whole list is read at.
type continueToken struct {
	APIVersion string `json:"v"`
	Revision   int64  `json:"rv"`
	Start      string `json:"start"`
}

func encodeContinue(rev int64, nextKey, prefix string) string {
	b, _ := json.Marshal(continueToken{APIVersion: "meta.k8s.io/v1", Revision: rev, Start: strings.TrimPrefix(nextKey, prefix)})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeContinue(s, prefix string) (continueToken, error) {
	var t continueToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return t, apierrors.NewBadRequest("continue key is not valid: " + err.Error())
	}
	// Revision -1 is the token of an inconsistent continuation (see
	// expiredContinue): the rest of the list at the current revision.
	if err := json.Unmarshal(b, &t); err != nil || t.APIVersion != "meta.k8s.io/v1" || (t.Revision <= 0 && t.Revision != -1) || strings.Contains(t.Start, "..") {
		return t, apierrors.NewBadRequest("continue key is not valid")
	}
	t.Start = prefix + t.Start
	return t, nil
}

// listOptions are the parsed query parameters of list and watch.
type listOptions struct {
	sel                  selector
	resourceVersion      string
	resourceVersionMatch string
	limit                int64
	continueTok          string
	timeoutSeconds       int64
	allowBookmarks       bool
	sendInitialEvents    *bool
}

func parseListOptions(r *http.Request, res *resource) (listOptions, error) {
	q := r.URL.Query()
	var o listOptions
	var err error
	if o.sel, err = parseSelector(q.Get("labelSelector"), q.Get("fieldSelector"), res); err != nil {
		return o, err
	}
	o.resourceVersion = q.Get("resourceVersion")
	o.resourceVersionMatch = q.Get("resourceVersionMatch")
	if l := q.Get("limit"); l != "" {
		if o.limit, err = strconv.ParseInt(l, 10, 64); err != nil || o.limit < 0 {
			return o, apierrors.NewBadRequest(fmt.Sprintf("invalid limit %q", l))
		}
	}
	o.continueTok = q.Get("continue")
	if t := q.Get("timeoutSeconds"); t != "" {
		if o.timeoutSeconds, err = strconv.ParseInt(t, 10, 64); err != nil || o.timeoutSeconds < 0 {
			return o, apierrors.NewBadRequest(fmt.Sprintf("invalid timeoutSeconds %q", t))
		}
	}
	o.allowBookmarks = isSet(q, "allowWatchBookmarks")
	if b, ok := queryBool(q, "sendInitialEvents"); ok {
		o.sendInitialEvents = &b
	}
	if o.resourceVersion != "" {
		if _, err := strconv.ParseUint(o.resourceVersion, 10, 64); err != nil {
			return o, apierrors.NewBadRequest(fmt.Sprintf("invalid resourceVersion %q: must be a number", o.resourceVersion))
		}
	}
	switch o.resourceVersionMatch {
	case "", string(metav1.ResourceVersionMatchExact), string(metav1.ResourceVersionMatchNotOlderThan):
	default:
		return o, apierrors.NewBadRequest(fmt.Sprintf("invalid resourceVersionMatch %q", o.resourceVersionMatch))
	}
	if o.resourceVersionMatch != "" && o.resourceVersion == "" {
		return o, apierrors.NewBadRequest("resourceVersionMatch is forbidden unless resourceVersion is provided")
	}
	if o.continueTok != "" && o.resourceVersion != "" && o.resourceVersion != "0" {
		return o, apierrors.NewBadRequest("specifying resource version is not allowed when using continue")
	}
	return o, nil
}

// list serves GET on a collection.
func (s *Server) list(w http.ResponseWriter, r *http.Request, res *resource, ri requestInfo) {
	gr := groupResource(res)
	out, err := negotiate(r)
	if err != nil {
		writeError(w, err, gr, "")
		return
	}
	opts, err := parseListOptions(r, res)
	if err != nil {
		writeError(w, err, gr, "")
		return
	}
	page, err := s.listObjects(r, res, ri.namespace, opts)
	if err != nil {
		writeError(w, err, gr, "")
		return
	}
	if out == outputTable {
		writeObjectJSON(w, http.StatusOK, s.buildTable(r, res, page.items, page.listMeta()))
		return
	}
	if out == outputPartial {
		pl := &metav1.PartialObjectMetadataList{TypeMeta: metav1.TypeMeta{Kind: "PartialObjectMetadataList", APIVersion: "meta.k8s.io/v1"}}
		pl.ListMeta = page.listMeta()
		for _, it := range page.items {
			pl.Items = append(pl.Items, *partialMetadata(it, res))
		}
		writeObjectJSON(w, http.StatusOK, pl)
		return
	}
	list := res.newList()
	if err := meta.SetList(list, page.items); err != nil {
		writeError(w, err, gr, "")
		return
	}
	lm, _ := meta.ListAccessor(list)
	lm.SetResourceVersion(strconv.FormatInt(page.rev, 10))
	lm.SetContinue(page.cont)
	lm.SetRemainingItemCount(page.remaining)
	// Items inside a list carry no apiVersion/kind, as kube-apiserver's.
	for _, it := range page.items {
		it.GetObjectKind().SetGroupVersionKind(res.gvk.GroupVersion().WithKind(""))
	}
	b, err := encodeObject(list, res.gvk.GroupVersion().WithKind(res.gvk.Kind+"List"))
	if err != nil {
		writeError(w, err, gr, "")
		return
	}
	writeJSON(w, http.StatusOK, b)
}

// listPage is what one list request returns.
type listPage struct {
	items []runtime.Object
	rev   int64  // the revision every item was read at
	cont  string // where the next page starts; empty on the last page
	// remaining counts the objects after this page, set only when no
	// selector filters them (the datastore's count would be wrong then),
	// as kube-apiserver sets metadata.remainingItemCount.
	remaining *int64
}

func (p listPage) listMeta() metav1.ListMeta {
	return metav1.ListMeta{ResourceVersion: strconv.FormatInt(p.rev, 10), Continue: p.cont, RemainingItemCount: p.remaining}
}

// listObjects reads matching objects page by page: a page is filled up to
// the limit with objects that pass the selectors.
func (s *Server) listObjects(r *http.Request, res *resource, ns string, o listOptions) (listPage, error) {
	ctx := r.Context()
	prefix := res.listPrefix(ns)
	start, end := prefix, prefixEnd(prefix)
	var rev int64
	if o.continueTok != "" {
		t, err := decodeContinue(o.continueTok, prefix)
		if err != nil {
			return listPage{}, err
		}
		start, rev = t.Start, max(t.Revision, 0)
	} else if o.resourceVersion != "" && o.resourceVersion != "0" {
		want, _ := strconv.ParseInt(o.resourceVersion, 10, 64)
		cur, err := s.store.Revision(ctx)
		if err != nil {
			return listPage{}, err
		}
		if want > cur {
			return listPage{}, apierrors.NewTimeoutError(fmt.Sprintf("Too large resource version: %d, current: %d", want, cur), 1)
		}
		if o.resourceVersionMatch == string(metav1.ResourceVersionMatchExact) {
			rev = want
		}
	}
	// One name selected: read just that key.
	if name, ok := o.sel.singleName(); ok && o.continueTok == "" {
		if ns == "" && res.namespaced {
			// All namespaces: fall through to a scan.
		} else {
			start = res.key(ns, name)
			end = start + "\x00"
		}
	}
	from := start
	var items []runtime.Object
	pageSize := o.limit
	if pageSize > 0 && !o.sel.empty() && pageSize < 100 {
		pageSize = 100
	}
	for {
		page, err := s.store.List(ctx, start, end, pageSize, rev)
		if err != nil {
			if apierrors.IsResourceExpired(err) || isGone(err) {
				if o.continueTok != "" {
					return listPage{}, expiredContinue(from, prefix)
				}
				return listPage{}, apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d", rev))
			}
			return listPage{}, err
		}
		if rev == 0 {
			rev = page.Revision
		}
		for i, kv := range page.KVs {
			obj, err := res.decodeStored(kv)
			if err != nil {
				return listPage{}, err
			}
			if !o.sel.matches(obj, res) {
				continue
			}
			items = append(items, obj)
			if o.limit > 0 && int64(len(items)) >= o.limit && (i < len(page.KVs)-1 || page.More) {
				p := listPage{items: items, rev: rev, cont: encodeContinue(rev, kv.Key+"\x00", prefix)}
				// Without a selector every key is an item, and the
				// page's count runs from its first key to the end.
				if n := page.Count - int64(i+1); o.sel.empty() && n > 0 {
					p.remaining = &n
				}
				return p, nil
			}
		}
		if !page.More || len(page.KVs) == 0 {
			return listPage{items: items, rev: rev}, nil
		}
		start = page.KVs[len(page.KVs)-1].Key + "\x00"
	}
}

// expiredContinue is the 410 for a continue token whose revision has been
// compacted away. As kube-apiserver's, it carries a token that lists the
// rest at the current revision, for clients that accept an inconsistent
// list (the "resourceVersion: -1" continuation).
func expiredContinue(start, prefix string) error {
	err := apierrors.NewResourceExpired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.")
	err.ErrStatus.ListMeta.Continue = encodeContinue(-1, start, prefix)
	return err
}

// prefixEnd is the first key after every key with the prefix.
func prefixEnd(p string) string {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return "\x00"
}

func partialMetadata(obj runtime.Object, res *resource) *metav1.PartialObjectMetadata {
	pm := &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{Kind: "PartialObjectMetadata", APIVersion: "meta.k8s.io/v1"}}
	if ma, ok := obj.(metav1.ObjectMetaAccessor); ok {
		if om, ok := ma.GetObjectMeta().(*metav1.ObjectMeta); ok {
			pm.ObjectMeta = *om
		}
	}
	return pm
}
