package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	containerd "github.com/containerd/containerd"
	"github.com/containerd/containerd/archive/compression"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/images"
	"github.com/containerd/containerd/remotes/docker"
	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"
)

// Image is an image in containerd, as the node status lists it.
type Image struct {
	ID    string   // digest of the image's manifest (or index)
	Names []string // references naming it, e.g. docker.io/library/busybox:latest
	Size  int64    // bytes of content in the store
}

// NormalizeImage turns a docker-style short reference into a full one:
// "busybox" becomes "docker.io/library/busybox:latest".
func NormalizeImage(ref string) (string, error) {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return "", fmt.Errorf("invalid image reference %q: %w", ref, err)
	}
	return named.String(), nil
}

// imageID names an image the way pod status does: repository@digest.
func imageID(name string, img images.Image) string {
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return img.Target.Digest.String()
	}
	return reference.TrimNamed(named).String() + "@" + img.Target.Digest.String()
}

// ImportImages imports every image tarball (docker save or OCI layout; .tar,
// optionally gzip or zstd compressed) in dir and unpacks it. A missing dir is
// no error.
func (r *Runtime) ImportImages(ctx context.Context, dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("runtime: read images dir: %w", err)
	}
	// A record of what was imported lets a restart skip unchanged tarballs
	// whose images containerd still has: imports are slow on small nodes.
	recordPath := filepath.Join(r.opts.Dir, "imported-images.json")
	record := map[string]importRecord{}
	if b, err := os.ReadFile(recordPath); err == nil {
		json.Unmarshal(b, &record)
	}
	changed := false
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !(strings.HasSuffix(name, ".tar") || strings.Contains(name, ".tar.") || strings.HasSuffix(name, ".tgz")) {
			continue
		}
		path := filepath.Join(dir, name)
		fi, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("runtime: import %s: %w", path, err)
		}
		if rec, ok := record[path]; ok && rec.Size == fi.Size() && rec.ModTime.Equal(fi.ModTime()) && r.haveImages(ctx, rec.Images) {
			continue
		}
		names, err := r.importFile(ctx, path)
		if err != nil {
			return err
		}
		record[path] = importRecord{Size: fi.Size(), ModTime: fi.ModTime(), Images: names}
		changed = true
	}
	if changed {
		if b, err := json.Marshal(record); err == nil {
			tmp := recordPath + ".tmp"
			if os.WriteFile(tmp, b, 0o600) == nil {
				os.Rename(tmp, recordPath)
			}
		}
	}
	return nil
}

// importRecord is what an image tarball held when it was imported.
type importRecord struct {
	Size    int64     `json:"size"`
	ModTime time.Time `json:"modTime"`
	Images  []string  `json:"images"`
}

func (r *Runtime) haveImages(ctx context.Context, names []string) bool {
	for _, n := range names {
		img, err := r.client.ImageService().Get(ctx, n)
		if err != nil {
			return false
		}
		if ok, err := containerd.NewImage(r.client, img).IsUnpacked(ctx, r.snapshotter()); err != nil || !ok {
			return false
		}
	}
	return true
}

func (r *Runtime) importFile(ctx context.Context, path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("runtime: import %s: %w", path, err)
	}
	defer f.Close()
	rd, err := compression.DecompressStream(f)
	if err != nil {
		return nil, fmt.Errorf("runtime: import %s: %w", path, err)
	}
	defer rd.Close()
	imgs, err := r.client.Import(ctx, rd, containerd.WithImageRefTranslator(func(ref string) string {
		// An OCI ref.name that is only a tag names no repository.
		if !strings.ContainsAny(ref, "/:") {
			return ""
		}
		n, err := NormalizeImage(ref)
		if err != nil {
			return ""
		}
		return n
	}))
	if err != nil {
		return nil, fmt.Errorf("runtime: import %s: %w", path, err)
	}
	var names []string
	for _, img := range imgs {
		if err := r.unpack(ctx, img); err != nil {
			return nil, fmt.Errorf("runtime: import %s: unpack %s: %w", path, img.Name, err)
		}
		names = append(names, img.Name)
	}
	return names, nil
}

func (r *Runtime) unpack(ctx context.Context, img images.Image) error {
	i := containerd.NewImage(r.client, img)
	ok, err := i.IsUnpacked(ctx, r.snapshotter())
	if err != nil || ok {
		return err
	}
	return i.Unpack(ctx, r.snapshotter())
}

func (r *Runtime) snapshotter() string {
	if r.opts.Snapshotter != "" {
		return r.opts.Snapshotter
	}
	return containerd.DefaultSnapshotter
}

// EnsureImage makes ref present and unpacked according to policy and
// returns its image ID (repository@digest), and whether it asked the
// registry for it (a pull, even one that found every layer present).
// onPull, when not nil, is called just before a pull starts (the kubelet's
// "Pulling" event). An empty policy means the Kubernetes default: Always
// for :latest or untagged refs, IfNotPresent otherwise. Errors are
// ErrImagePull or ErrImageNeverPull.
func (r *Runtime) EnsureImage(ctx context.Context, ref string, policy corev1.PullPolicy, pullSecrets []corev1.Secret, onPull func()) (id string, pulled bool, err error) {
	name, err := NormalizeImage(ref)
	if err != nil {
		return "", false, fmt.Errorf("%w: %v", ErrImagePull, err)
	}
	if policy == "" {
		policy = corev1.PullIfNotPresent
		if strings.HasSuffix(name, ":latest") {
			policy = corev1.PullAlways
		}
	}
	img, err := r.client.ImageService().Get(ctx, name)
	present := err == nil
	if err != nil && !errdefs.IsNotFound(err) {
		return "", false, fmt.Errorf("%w: image %q: %v", ErrImagePull, ref, err)
	}
	switch {
	case policy == corev1.PullNever && !present:
		return "", false, fmt.Errorf("%w: image %q is not present with pull policy of Never", ErrImageNeverPull, ref)
	case present && policy != corev1.PullAlways:
		if err := r.unpack(ctx, img); err != nil {
			return "", false, fmt.Errorf("%w: image %q: unpack: %v", ErrImagePull, ref, err)
		}
		return imageID(name, img), false, nil
	}
	if onPull != nil {
		onPull()
	}
	resolver := docker.NewResolver(docker.ResolverOptions{Hosts: r.regs.hosts(pullSecretCredentials(pullSecrets))})
	got, err := r.client.Pull(ctx, name,
		containerd.WithResolver(resolver),
		containerd.WithPullUnpack,
		containerd.WithPullSnapshotter(r.snapshotter()),
	)
	if err != nil {
		return "", true, fmt.Errorf("%w: failed to pull image %q: %v", ErrImagePull, ref, err)
	}
	return imageID(name, got.Metadata()), true, nil
}

// Images lists the images in containerd, one entry per manifest.
func (r *Runtime) Images(ctx context.Context) ([]Image, error) {
	list, err := r.client.ImageService().List(ctx)
	if err != nil {
		return nil, fmt.Errorf("runtime: list images: %w", err)
	}
	byDigest := map[string]*Image{}
	var out []*Image
	for _, img := range list {
		d := img.Target.Digest.String()
		im, ok := byDigest[d]
		if !ok {
			size, err := containerd.NewImage(r.client, img).Size(ctx)
			if err != nil {
				continue // content partly missing: not a usable image
			}
			im = &Image{ID: d, Size: size}
			byDigest[d] = im
			out = append(out, im)
		}
		im.Names = append(im.Names, img.Name)
	}
	res := make([]Image, 0, len(out))
	for _, im := range out {
		sort.Strings(im.Names)
		res = append(res, *im)
	}
	return res, nil
}
