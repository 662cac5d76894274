package openapi

import (
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Resource describes one served resource.
type Resource struct {
	Group, Version, Kind string // Group "" for core
	Plural               string
	Namespaced           bool
	Verbs                []string     // subset of get list watch create update patch delete deletecollection
	Subresources         []string     // e.g. "status", "scale", "binding", "log", "token", "finalize", "eviction"
	Type                 reflect.Type // struct type, e.g. reflect.TypeOf(appsv1.Deployment{})
	ListType             reflect.Type // e.g. reflect.TypeOf(appsv1.DeploymentList{})
}

// Docs renders the documents lazily (first request per group-version) and caches the bytes.
type Docs struct {
	resources []Resource

	// mu serialises rendering, so at most one document's transient
	// structures are alive at a time.
	mu    sync.Mutex
	docs  map[string]*rendered // by index key; filled on first use
	index *indexDoc            // filled on first use
	v2    *v2Doc               // filled on first use
}

// indexDoc is the encoded index. It is small and every client fetches it,
// so it is kept uncompressed.
type indexDoc struct {
	json []byte
	hash string
}

// New returns Docs for resources. It only stores the table (which the
// caller must not modify afterwards): nothing is rendered until a client
// asks.
func New(resources []Resource) *Docs {
	return &Docs{resources: resources}
}

const servePrefix = "/openapi/v3"

// ServeHTTP serves GET /openapi/v3 (the index) and /openapi/v3/<api/v1 | apis/<group>/<version>>.
//
// Documents are always JSON. They are sent gzip-encoded (Content-Encoding:
// gzip) to clients that accept it, which is how they are stored; a
// compressing middleware in front must leave such responses alone.
func (d *Docs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, servePrefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	rest = strings.Trim(rest, "/")
	if rest == "" {
		d.serveIndex(w, r)
		return
	}
	doc, err := d.doc(rest)
	if err != nil {
		http.Error(w, "rendering OpenAPI document: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if doc == nil {
		http.NotFound(w, r)
		return
	}
	// Whatever the Accept header asks for (kubectl sometimes prefers
	// protobuf), the answer is JSON: skiff has no protobuf form of the v3
	// documents, and every client that asks for protobuf also accepts JSON.
	serveRendered(w, r, doc, "application/json")
}

// serveRendered answers r with doc, of media type contentType.
func serveRendered(w http.ResponseWriter, r *http.Request, doc *rendered, contentType string) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Etag", strconv.Quote(doc.hash))
	h.Add("Vary", "Accept")
	h.Add("Vary", "Accept-Encoding")
	if r.URL.Query().Get("hash") == doc.hash {
		// The URL names this exact content, so it can be cached forever.
		h.Set("Cache-Control", "public, immutable")
		h.Set("Expires", time.Now().AddDate(1, 0, 0).UTC().Format(http.TimeFormat))
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if etagMatches(r.Header.Get("If-None-Match"), doc.hash) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		h.Set("Content-Length", strconv.Itoa(len(doc.gz)))
		if r.Method == http.MethodGet {
			w.Write(doc.gz)
		}
		return
	}
	h.Set("Content-Length", strconv.Itoa(doc.size))
	if r.Method == http.MethodHead {
		return
	}
	zr, err := gzip.NewReader(bytes.NewReader(doc.gz))
	if err != nil {
		// Headers are out; nothing better to do than cut the body short.
		return
	}
	io.Copy(w, zr)
}

// serveIndex serves the list of group-version documents with their hashes.
func (d *Docs) serveIndex(w http.ResponseWriter, r *http.Request) {
	idx, err := d.renderIndex()
	if err != nil {
		http.Error(w, "rendering OpenAPI index: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Etag", strconv.Quote(idx.hash))
	h.Set("Cache-Control", "no-cache")
	if etagMatches(r.Header.Get("If-None-Match"), idx.hash) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(idx.json)))
	if r.Method == http.MethodGet {
		w.Write(idx.json)
	}
}

// keys lists the index keys of the served group-versions, sorted.
func (d *Docs) keys() []string {
	seen := map[string]bool{}
	var keys []string
	for _, r := range d.resources {
		k := gvKey(r.Group, r.Version)
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// doc returns the rendered document for key, rendering it on first use, or
// nil when no served resource belongs to key.
func (d *Docs) doc(key string) (*rendered, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.docLocked(key)
}

func (d *Docs) docLocked(key string) (*rendered, error) {
	if doc, ok := d.docs[key]; ok {
		return doc, nil
	}
	known := false
	for _, r := range d.resources {
		if gvKey(r.Group, r.Version) == key {
			known = true
			break
		}
	}
	if !known {
		return nil, nil
	}
	doc, err := render(key, d.resources)
	if err != nil {
		return nil, err
	}
	if d.docs == nil {
		d.docs = map[string]*rendered{}
	}
	d.docs[key] = doc
	return doc, nil
}

// indexEntry is one group-version of the index, as handler3 shapes it.
type indexEntry struct {
	ServerRelativeURL string `json:"serverRelativeURL"`
}

// renderIndex returns the index, rendering every document once to learn
// its hash.
func (d *Docs) renderIndex() (*indexDoc, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.index != nil {
		return d.index, nil
	}
	paths := map[string]indexEntry{}
	for _, k := range d.keys() {
		doc, err := d.docLocked(k)
		if err != nil {
			return nil, err
		}
		u := url.URL{Path: servePrefix + "/" + k, RawQuery: url.Values{"hash": {doc.hash}}.Encode()}
		paths[k] = indexEntry{ServerRelativeURL: u.String()}
	}
	data, err := json.Marshal(map[string]any{"paths": paths})
	if err != nil {
		return nil, err
	}
	sum := sha512.Sum512(data)
	d.index = &indexDoc{json: data, hash: strings.ToUpper(hex.EncodeToString(sum[:]))}
	return d.index, nil
}

// etagMatches reports whether an If-None-Match header names hash.
func etagMatches(header, hash string) bool {
	if header == "" {
		return false
	}
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimSpace(tag)
		tag = strings.TrimPrefix(tag, "W/")
		if tag == "*" || strings.Trim(tag, `"`) == hash {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
		if !ok {
			return true
		}
		v, err := strconv.ParseFloat(q, 64)
		return err == nil && v > 0
	}
	return false
}
