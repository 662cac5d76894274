package runtime

import (
	"bytes"
	"context"
	"sync"

	"github.com/containerd/containerd/content"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// maxCachedBlob is the largest blob blobCache keeps: indexes, manifests
// and image configs are a few KiB; layers are never read by the agent.
const maxCachedBlob = 256 << 10

// maxCachedBlobs bounds the cache: a node runs a handful of images, each
// read through two or three small blobs.
const maxCachedBlobs = 256

// blobCache is containerd's content store with the small blobs the agent
// reads kept in memory. Starting a container reads its image's manifest
// and config about five times (unpacked check, config, snapshot parent,
// spec), two round trips each; blobs are addressed by their digest, so a
// copy never goes stale.
type blobCache struct {
	content.Store

	mu    sync.Mutex
	blobs map[string][]byte
}

func newBlobCache(s content.Store) *blobCache {
	return &blobCache{Store: s, blobs: map[string][]byte{}}
}

// ReaderAt serves small blobs from memory, reading and checking them once.
func (c *blobCache) ReaderAt(ctx context.Context, desc ocispec.Descriptor) (content.ReaderAt, error) {
	if desc.Size <= 0 || desc.Size > maxCachedBlob || desc.Digest.Validate() != nil {
		return c.Store.ReaderAt(ctx, desc)
	}
	key := desc.Digest.String()
	c.mu.Lock()
	b, ok := c.blobs[key]
	c.mu.Unlock()
	if ok {
		return blobReader{bytes.NewReader(b)}, nil
	}
	b, err := content.ReadBlob(ctx, c.Store, desc)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) != desc.Size || desc.Digest.Algorithm().FromBytes(b) != desc.Digest {
		// Not what the descriptor names: hand it out, never keep it.
		return blobReader{bytes.NewReader(b)}, nil
	}
	c.mu.Lock()
	if len(c.blobs) >= maxCachedBlobs {
		for k := range c.blobs { // drop any one; images rarely change
			delete(c.blobs, k)
			break
		}
	}
	c.blobs[key] = b
	c.mu.Unlock()
	return blobReader{bytes.NewReader(b)}, nil
}

// blobReader is a content.ReaderAt over bytes in memory.
type blobReader struct{ *bytes.Reader }

func (r blobReader) Close() error { return nil }
