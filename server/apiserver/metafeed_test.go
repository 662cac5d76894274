package apiserver

import (
	"context"
	"encoding/json"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/skiff-io/skiff/server/metafeed"
)

// recorder is a metafeed.Handler that writes down what it is told.
type recorder struct {
	mu       sync.Mutex
	replaced [][]string
	events   []string
}

func (r *recorder) Replace(objs []metafeed.Object) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var names []string
	for _, o := range objs {
		names = append(names, o.Resource.Resource+"/"+o.Meta.Namespace+"/"+o.Meta.Name)
	}
	r.replaced = append(r.replaced, names)
}

func (r *recorder) Upsert(o metafeed.Object) {
	r.add("upsert " + o.Resource.Resource + "/" + o.Meta.Name + " " + string(o.Meta.UID))
}
func (r *recorder) Delete(o metafeed.Object) {
	r.add("delete " + o.Resource.Resource + "/" + o.Meta.Name + " " + string(o.Meta.UID))
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.events = append(r.events, s)
	r.mu.Unlock()
}

func (r *recorder) snapshot() ([][]string, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]string(nil), r.replaced...), append([]string(nil), r.events...)
}

// The feed lists every served object (not other keys under /registry/),
// then reports changes with the objects' metadata, deletions included.
func TestMetadataFeed(t *testing.T) {
	s, store, ctx := kineServer(t, false)
	put := func(key, value string) {
		t.Helper()
		if _, err := store.Create(ctx, key, []byte(value), 0); err != nil {
			t.Fatal(err)
		}
	}
	put("/registry/configmaps/ns/a", `{"metadata":{"name":"a","namespace":"ns","uid":"ua"},"data":{"k":"v"}}`)
	put("/registry/persistentvolumes/pv", `{"metadata":{"name":"pv","uid":"upv"}}`)
	put("/registry/ranges/serviceips", `not an object`)

	rec := &recorder{}
	feedCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = s.MetadataFeed().Run(feedCtx, rec); close(done) }()
	defer func() { stop(); <-done }()

	waitFor := func(what string, ok func([][]string, []string) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if ok(rec.snapshot()) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		r, e := rec.snapshot()
		t.Fatalf("%s: replaced %v, events %v", what, r, e)
	}
	waitFor("initial listing", func(r [][]string, _ []string) bool {
		return len(r) == 1 && len(r[0]) == 2 && r[0][0] == "configmaps/ns/a" && r[0][1] == "persistentvolumes//pv"
	})
	put("/registry/configmaps/ns/b", `{"metadata":{"name":"b","namespace":"ns","uid":"ub","ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"a","uid":"ua"}]}}`)
	kv, _, err := store.Get(ctx, "/registry/configmaps/ns/a")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.Delete(ctx, "/registry/configmaps/ns/a", kv.ModRevision); err != nil {
		t.Fatal(err)
	}
	waitFor("create and delete", func(_ [][]string, e []string) bool {
		return len(e) == 2 && e[0] == "upsert configmaps/b ub" && e[1] == "delete configmaps/a ua"
	})
	if len(s.MetadataFeed().Resources()) < 20 {
		t.Fatalf("feed reports %d resources", len(s.MetadataFeed().Resources()))
	}
	for _, r := range s.MetadataFeed().Resources() {
		if r.GVR.Group == "events.k8s.io" {
			t.Fatal("the events.k8s.io view is reported beside the core events it shows")
		}
	}
}

// TestDecodeMetadata checks that decoding only the metadata gives what
// decoding the whole object gives, whatever follows it.
func TestDecodeMetadata(t *testing.T) {
	for _, v := range []string{
		`{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"a","namespace":"ns","uid":"u","labels":{"k":"v"},"annotations":{"a":"b"},"ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"o","uid":"ou"}],"finalizers":["f"],"deletionTimestamp":"2024-01-01T00:00:00Z","managedFields":[{"manager":"m"}]},"data":{"x":"y"}}`,
		`{"metadata":{"name":"first"},"spec":{"metadata":{"name":"nested"}}}`,
		`{"kind":"Pod","spec":{"containers":[{"name":"c"}]},"metadata":{"name":"late","namespace":"n"}}`,
		`{"kind":"Thing","data":[1,2,{"a":null}]}`,
		`{"metadata":null}`,
		`{"metadata":{"managedFields":[{"manager":"m","fieldsV1":{"f:data":{"f:]}\"":{}}}}]}}`,
		`{"metadata":{"name":"ws" , "managedFields" : [{"manager":"m"}] } }`,
		`{"metadata":{"name":"mf-not-last","managedFields":[{"manager":"m"}],"labels":{"a":"b"}}}`,
	} {
		var got feedMetadata
		if err := decodeMetadata([]byte(v), &got); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		var whole struct {
			Metadata feedMetadata `json:"metadata"`
		}
		if err := json.Unmarshal([]byte(v), &whole); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, whole.Metadata) {
			t.Fatalf("%s:\n got %+v\nwant %+v", v, got, whole.Metadata)
		}
	}
	// Managed fields written last, as json.Marshal does, are cut off
	// before decoding.
	if got := withoutManagedFields([]byte(`{"name":"a","managedFields":[{"manager":"m"}]}`)); string(got) != `{"name":"a"}` {
		t.Errorf("managed fields not left out: %s", got)
	}
	for _, bad := range []string{``, `[]`, `{"metadata":{"name":1}}`, `{"metadata":`, `{"metadata":{"name":1,"managedFields":[]}}`} {
		var m feedMetadata
		if err := decodeMetadata([]byte(bad), &m); err == nil {
			t.Errorf("%q decoded without error", bad)
		}
	}
}
