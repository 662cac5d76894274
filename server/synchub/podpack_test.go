package synchub

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
)

func TestPackPodRoundTrip(t *testing.T) {
	p := dictPod()
	p.Name, p.Namespace, p.UID = "web-0", "shop", "7d3c2a4e-1111-2222-3333-444455556666"
	p.Spec.NodeName = "edge-17"
	p.Spec.Containers[0].Image = "registry.example/shop/web:v2.3.1"
	p.Spec.Containers[0].Args = []string{"--listen", ":8080"}
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	packed := packPod(raw)
	// The dictionary holds what pods repeat: a pod much like it packs to
	// a small fraction of its JSON (without the dictionary zstd gets
	// to about half).
	if len(packed)*5 > len(raw) {
		t.Errorf("packed %d bytes of JSON into %d: the dictionary does not help", len(raw), len(packed))
	}
	back, err := unpackPod(packed)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back, raw) {
		t.Fatalf("unpacked JSON differs:\n%s\nwant\n%s", back, raw)
	}

	e := &podEntry{packed: packed, rev: 42}
	got, err := e.decode()
	if err != nil {
		t.Fatal(err)
	}
	want := p.DeepCopy()
	want.ResourceVersion = "42"
	if !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("decoded pod differs from the one packed")
	}

	// A pod larger than the encoder's window (a long command line)
	// still round-trips.
	big := p.DeepCopy()
	big.Spec.Containers[0].Args = []string{strings.Repeat("0123456789abcdef", 3*podWindow/16)}
	rawBig, _ := json.Marshal(big)
	if back, err := unpackPod(packPod(rawBig)); err != nil || !bytes.Equal(back, rawBig) {
		t.Fatalf("a pod of %d bytes: %v", len(rawBig), err)
	}

	// Another pod shares nothing but the dictionary with the first.
	other := &corev1.Pod{}
	other.Name, other.Namespace = "solo", "default"
	raw2, _ := json.Marshal(other)
	if back, err := unpackPod(packPod(raw2)); err != nil || !bytes.Equal(back, raw2) {
		t.Fatalf("second pod: %v\n%s", err, back)
	}
}

// BenchmarkPackPod: what keeping a pod costs the hub per pod event, and
// what it keeps (bytes/pod).
func BenchmarkPackPod(b *testing.B) {
	p := dictPod()
	p.Name, p.Namespace, p.UID = "web-7f9c8d6b5-x2k4q", "shop", "7d3c2a4e-1111-2222-3333-444455556666"
	p.Spec.NodeName = "edge-17"
	p.Spec.Containers[0].Image = "registry.example/shop/web:v2.3.1"
	p.Status.Conditions = p.Status.Conditions[:5]
	raw, err := json.Marshal(p)
	if err != nil {
		b.Fatal(err)
	}
	var packed []byte
	b.Run("pack", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			packed = packPod(raw)
		}
		b.ReportMetric(float64(len(packed)), "bytes/pod")
		b.ReportMetric(float64(len(raw)), "json-bytes/pod")
	})
	b.Run("unpack", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := unpackPod(packed); err != nil {
				b.Fatal(err)
			}
		}
	})
}
