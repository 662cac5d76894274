// Package testimage builds the container image skiff's tests run: an OCI
// image-layout tarball of one layer holding the host's static busybox
// (Debian's busybox-static) and a link per applet. Tests never pull from
// the internet; this image is made at test time.
//
// Only tests import it; the skiff binary does not link it.
package testimage

import (
	"archive/tar"
	"bytes"
	_ "crypto/sha256" // go-digest hashes with it once it is linked
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Busybox is where Debian's busybox-static installs its binary.
const Busybox = "/usr/bin/busybox"

// image is the test image's content: its blobs by digest and its manifest.
type image struct {
	blobs       map[digest.Digest][]byte
	manifest    []byte
	manifestDig digest.Digest
}

func newImage(entrypoint []string) (*image, error) {
	bb, err := os.ReadFile(Busybox)
	if err != nil {
		return nil, fmt.Errorf("the test image needs busybox-static at %s: %w", Busybox, err)
	}
	list, err := exec.Command(Busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox --list: %w", err)
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	mtime := time.Unix(1700000000, 0)
	for _, d := range []string{"bin/", "etc/", "tmp/", "proc/", "sys/", "dev/", "data/", "www/"} {
		mode := int64(0o755)
		if d == "tmp/" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: mode, ModTime: mtime}); err != nil {
			return nil, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: int64(len(bb)), ModTime: mtime}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(bb); err != nil {
		return nil, err
	}
	for _, applet := range strings.Fields(string(list)) {
		if applet == "busybox" {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + applet, Linkname: "busybox", ModTime: mtime}); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}

	blobs := map[digest.Digest][]byte{}
	add := func(b []byte) digest.Digest {
		d := digest.FromBytes(b)
		blobs[d] = b
		return d
	}
	layerDigest := add(layer.Bytes())
	cfg := ocispec.Image{
		Platform: ocispec.Platform{Architecture: goruntime.GOARCH, OS: "linux"},
		Config:   ocispec.ImageConfig{Env: []string{"PATH=/bin"}, Cmd: []string{"sh"}},
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{layerDigest}},
	}
	if len(entrypoint) > 0 {
		cfg.Config.Entrypoint, cfg.Config.Cmd = entrypoint, nil
	}
	cfgJSON, _ := json.Marshal(cfg)
	cfgDigest := add(cfgJSON)
	man := ocispec.Manifest{
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: cfgDigest, Size: int64(len(cfgJSON))},
		Layers:    []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageLayer, Digest: layerDigest, Size: int64(layer.Len())}},
	}
	man.SchemaVersion = 2
	manJSON, _ := json.Marshal(man)
	manDigest := add(manJSON)
	return &image{blobs: blobs, manifest: manJSON, manifestDig: manDigest}, nil
}

// Build writes the image, named name (a full reference such as
// docker.io/library/busybox:latest), to the tarball at path, in the form
// containerd imports (and skiff imports from <data-dir>/agent/images). Its
// command is sh, or entrypoint when given (a pause image: sleep forever).
func Build(path, name string, entrypoint ...string) error {
	img, err := newImage(entrypoint)
	if err != nil {
		return err
	}
	mtime := time.Unix(1700000000, 0)
	idx := ocispec.Index{
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{{
			MediaType: ocispec.MediaTypeImageManifest, Digest: img.manifestDig, Size: int64(len(img.manifest)),
			Annotations: map[string]string{"io.containerd.image.name": name, ocispec.AnnotationRefName: "test"},
		}},
	}
	idx.SchemaVersion = 2
	idxJSON, _ := json.Marshal(idx)

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	out := tar.NewWriter(f)
	file := func(name string, b []byte) error {
		if err := out.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: mtime}); err != nil {
			return err
		}
		_, err := out.Write(b)
		return err
	}
	if err := file(ocispec.ImageLayoutFile, []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		f.Close()
		return err
	}
	if err := file("index.json", idxJSON); err != nil {
		f.Close()
		return err
	}
	for d, b := range img.blobs {
		if err := file("blobs/sha256/"+d.Encoded(), b); err != nil {
			f.Close()
			return err
		}
	}
	if err := out.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Push uploads the image to the registry at addr (host:port, plain HTTP,
// as Debian's docker-registry serves on loopback) as repo:tag, through the
// OCI distribution API.
func Push(addr, repo, tag string) error {
	img, err := newImage(nil)
	if err != nil {
		return err
	}
	base := "http://" + addr + "/v2/" + repo
	for d, b := range img.blobs {
		resp, err := http.Post(base+"/blobs/uploads/", "application/octet-stream", nil)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("push %s: starting an upload: %s", repo, resp.Status)
		}
		loc, err := resp.Location()
		if err != nil {
			return err
		}
		q := loc.Query()
		q.Set("digest", d.String())
		loc.RawQuery = q.Encode()
		req, _ := http.NewRequest(http.MethodPut, loc.String(), bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/octet-stream")
		if resp, err = http.DefaultClient.Do(req); err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("push %s: blob %s: %s", repo, d, resp.Status)
		}
	}
	req, _ := http.NewRequest(http.MethodPut, base+"/manifests/"+tag, bytes.NewReader(img.manifest))
	req.Header.Set("Content-Type", ocispec.MediaTypeImageManifest)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("push %s: manifest: %s", repo, resp.Status)
	}
	return nil
}
