package openapi

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
)

// gvKey is the index key of a group-version: "api/v1" for the core group,
// "apis/<group>/<version>" otherwise.
func gvKey(group, version string) string {
	if group == "" {
		return "api/" + version
	}
	return "apis/" + group + "/" + version
}

// rendered is one encoded document. Only the gzip form is kept: documents
// are mostly repeated descriptions and compress about tenfold, and the
// server's memory budget is tight.
type rendered struct {
	gz   []byte
	size int    // length of the uncompressed JSON
	hash string // upper-case hex SHA-512 of the uncompressed JSON
}

// render encodes the document of the group-version with index key key.
// The JSON is streamed through the hash and the compressor, so the whole
// uncompressed document never sits in memory.
func render(key string, resources []Resource) (doc *rendered, err error) {
	defer func() {
		// A Go type reflection cannot describe must cost one failed
		// request, not the server.
		if p := recover(); p != nil {
			doc, err = nil, fmt.Errorf("describing %s: %v", key, p)
		}
	}()
	return encode(func(w *bufio.Writer) error { return writeDoc(w, key, resources) })
}

// encode compresses and hashes what write writes.
func encode(write func(*bufio.Writer) error) (*rendered, error) {
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	h := sha512.New()
	cw := &countingWriter{w: io.MultiWriter(h, zw)}
	bw := bufio.NewWriterSize(cw, 32<<10)
	if err := write(bw); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return &rendered{
		gz:   bytes.Clone(gz.Bytes()),
		size: cw.n,
		hash: strings.ToUpper(hex.EncodeToString(h.Sum(nil))),
	}, nil
}

type countingWriter struct {
	w io.Writer
	n int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += n
	return n, err
}

// writeDoc writes the OpenAPI v3 document of one group-version to w, keys
// in sorted order so identical inputs give identical bytes (and hashes).
func writeDoc(w *bufio.Writer, key string, all []Resource) error {
	var group, version string
	var mine []Resource
	for _, r := range all {
		if gvKey(r.Group, r.Version) == key {
			group, version = r.Group, r.Version
			mine = append(mine, r)
		}
	}
	schemas := newSchemaSet(kindsOf(all))
	b := newDocBuilder(group, version, schemas)
	for _, r := range mine {
		b.addResource(r)
	}
	b.finish()
	schemas.build()

	enc := newEncoder(w)
	w.WriteString(`{"components":{"schemas":{`)
	for i, name := range schemas.sortedNames() {
		if i > 0 {
			w.WriteByte(',')
		}
		if err := enc.keyValue(name, schemas.schemas[name]); err != nil {
			return err
		}
	}
	w.WriteString(`}},"info":{"title":"Kubernetes","version":"unversioned"},"openapi":"3.0.0","paths":{`)
	paths := make([]string, 0, len(b.paths))
	for p := range b.paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for i, p := range paths {
		if i > 0 {
			w.WriteByte(',')
		}
		if err := enc.keyValue(p, b.paths[p]); err != nil {
			return err
		}
	}
	_, err := w.WriteString("}}")
	return err
}

// encoder writes "key":value pairs without escaping <, > and &, which
// appear throughout the API descriptions.
type encoder struct {
	w   *bufio.Writer
	buf bytes.Buffer
	enc *json.Encoder
}

func newEncoder(w *bufio.Writer) *encoder {
	e := &encoder{w: w}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}

func (e *encoder) keyValue(key string, v any) error {
	e.buf.Reset()
	if err := e.enc.Encode(key); err != nil {
		return err
	}
	e.buf.Truncate(e.buf.Len() - 1) // Encode's trailing newline
	e.buf.WriteByte(':')
	if err := e.enc.Encode(v); err != nil {
		return err
	}
	e.buf.Truncate(e.buf.Len() - 1)
	_, err := e.w.Write(e.buf.Bytes())
	return err
}

// kindsOf maps every Go type that kube-apiserver would tag with
// x-kubernetes-group-version-kind to its kinds: the served kinds and their
// lists, the subresource kinds, and the meta kinds every group shares.
func kindsOf(all []Resource) map[reflect.Type][]gvk {
	m := map[reflect.Type][]gvk{}
	add := func(t reflect.Type, k gvk) {
		if t == nil {
			return
		}
		for _, have := range m[t] {
			if have == k {
				return
			}
		}
		m[t] = append(m[t], k)
	}
	groups := map[gvk]bool{{Version: "v1"}: true}
	for _, r := range all {
		add(r.Type, gvk{Group: r.Group, Kind: r.Kind, Version: r.Version})
		add(r.ListType, gvk{Group: r.Group, Kind: r.Kind + "List", Version: r.Version})
		groups[gvk{Group: r.Group, Version: r.Version}] = true
	}
	add(scaleType, gvk{Group: "autoscaling", Kind: "Scale", Version: "v1"})
	add(bindingType, gvk{Kind: "Binding", Version: "v1"})
	add(evictionType, gvk{Group: "policy", Kind: "Eviction", Version: "v1"})
	add(tokenRequestType, gvk{Group: "authentication.k8s.io", Kind: "TokenRequest", Version: "v1"})
	add(statusType, gvk{Kind: "Status", Version: "v1"})
	add(resourceListType, gvk{Kind: "APIResourceList", Version: "v1"})
	// DeleteOptions and WatchEvent are registered in every group-version.
	for g := range groups {
		add(deleteOptsType, gvk{Group: g.Group, Kind: "DeleteOptions", Version: g.Version})
		add(watchEventType, gvk{Group: g.Group, Kind: "WatchEvent", Version: g.Version})
	}
	for _, ks := range m {
		sort.Slice(ks, func(i, j int) bool {
			if ks[i].Group != ks[j].Group {
				return ks[i].Group < ks[j].Group
			}
			if ks[i].Version != ks[j].Version {
				return ks[i].Version < ks[j].Version
			}
			return ks[i].Kind < ks[j].Kind
		})
	}
	return m
}
