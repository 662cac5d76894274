package runtime

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// buildBusyboxImage writes an OCI image-layout tarball of one layer holding
// the host's static busybox and a link per applet, named name, whose
// entrypoint is entrypoint (none: its cmd is sh).
func buildBusyboxImage(t *testing.T, path, name string, entrypoint ...string) {
	t.Helper()
	bb, err := os.ReadFile("/usr/bin/busybox")
	if err != nil {
		t.Skipf("integration test needs Debian's busybox-static at /usr/bin/busybox: %v", err)
	}
	list, err := exec.Command("/usr/bin/busybox", "--list").Output()
	if err != nil {
		t.Fatalf("busybox --list: %v", err)
	}

	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	mtime := time.Unix(1700000000, 0)
	for _, d := range []string{"bin/", "etc/", "tmp/", "proc/", "sys/", "dev/", "data/"} {
		mode := int64(0o755)
		if d == "tmp/" {
			mode = 0o1777
		}
		must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: mode, ModTime: mtime}))
	}
	must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: int64(len(bb)), ModTime: mtime}))
	_, err = tw.Write(bb)
	must(t, err)
	for _, applet := range strings.Fields(string(list)) {
		if applet == "busybox" {
			continue
		}
		must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + applet, Linkname: "busybox", ModTime: mtime}))
	}
	must(t, tw.Close())

	blobs := map[digest.Digest][]byte{}
	add := func(b []byte) digest.Digest {
		d := digest.FromBytes(b)
		blobs[d] = b
		return d
	}
	layerDigest := add(layer.Bytes())
	cmd := []string{"sh"}
	if len(entrypoint) > 0 {
		cmd = nil
	}
	cfg := ocispec.Image{
		Platform: ocispec.Platform{Architecture: goruntime.GOARCH, OS: "linux"},
		Config: ocispec.ImageConfig{
			Env:        []string{"PATH=/bin"},
			Cmd:        cmd,
			Entrypoint: entrypoint,
		},
		RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{layerDigest}},
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
	idx := ocispec.Index{
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{{
			MediaType: ocispec.MediaTypeImageManifest, Digest: manDigest, Size: int64(len(manJSON)),
			Annotations: map[string]string{
				"io.containerd.image.name": name,
				ocispec.AnnotationRefName:  "test",
			},
		}},
	}
	idx.SchemaVersion = 2
	idxJSON, _ := json.Marshal(idx)

	f, err := os.Create(path)
	must(t, err)
	defer f.Close()
	out := tar.NewWriter(f)
	file := func(name string, b []byte) {
		must(t, out.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: mtime}))
		_, err := out.Write(b)
		must(t, err)
	}
	file(ocispec.ImageLayoutFile, []byte(`{"imageLayoutVersion":"1.0.0"}`))
	file("index.json", idxJSON)
	for d, b := range blobs {
		file("blobs/sha256/"+d.Encoded(), b)
	}
	must(t, out.Close())
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
