package runtime

import (
	"bytes"
	"context"
	"testing"

	"github.com/containerd/containerd/content"
	"github.com/containerd/containerd/content/local"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestBlobCache(t *testing.T) {
	ctx := context.Background()
	store, err := local.NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	blob := []byte(`{"config":"small"}`)
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(blob), Size: int64(len(blob))}
	if err := content.WriteBlob(ctx, store, "ref", bytes.NewReader(blob), desc); err != nil {
		t.Fatal(err)
	}
	c := newBlobCache(store)
	for i := 0; i < 2; i++ {
		got, err := content.ReadBlob(ctx, c, desc)
		if err != nil || string(got) != string(blob) {
			t.Fatalf("read %d: %q %v", i, got, err)
		}
		// Once read, the blob comes from memory: gone from the store, it
		// is still served.
		if i == 0 {
			if err := store.Delete(ctx, desc.Digest); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Large blobs are never kept.
	big := ocispec.Descriptor{Digest: digest.FromString("absent"), Size: maxCachedBlob + 1}
	if _, err := c.ReaderAt(ctx, big); err == nil {
		t.Error("a large blob absent from the store was served")
	}
	if len(c.blobs) != 1 {
		t.Errorf("%d blobs cached, want 1", len(c.blobs))
	}
}
