package app

import (
	"strings"
	"testing"
	"time"
)

func TestParseEvictionHard(t *testing.T) {
	ths, err := ParseEvictionHard(DefaultEvictionHard)
	if err != nil || len(ths) != 5 {
		t.Fatalf("the default: %v %v", ths, err)
	}
	if ths[0] != (Threshold{signal: sigMemory, value: 100 << 20}) || ths[1] != (Threshold{signal: sigNodeFS, percent: 10}) {
		t.Fatalf("parsed %+v", ths)
	}
	if ths, err := ParseEvictionHard(""); err != nil || len(ths) != 0 {
		t.Fatalf("empty: %v %v", ths, err)
	}
	for in, want := range map[string]string{
		"memory.available":       "want signal<quantity",
		"memory.free<1Gi":        `unknown signal "memory.free"`,
		"nodefs.available<0%":    "percentage must be in (0, 100]",
		"nodefs.available<abc%":  "percentage must be in (0, 100]",
		"memory.available<lots":  `"lots" is not a quantity`,
		"pid.available<-5":       `"-5" is not a quantity`,
		"imagefs.available<101%": "percentage must be in (0, 100]",
	} {
		if _, err := ParseEvictionHard(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", in, err, want)
		}
	}
}

func TestPressures(t *testing.T) {
	ths, _ := ParseEvictionHard(DefaultEvictionHard + ",pid.available<1000")
	gi := int64(1 << 30)
	tests := []struct {
		name string
		obs  map[string]observation
		want [pressureKinds]bool
	}{
		{"plenty", map[string]observation{sigMemory: {4 * gi, 8 * gi}, sigNodeFS: {50 * gi, 100 * gi}, sigPID: {30000, 32768}}, [pressureKinds]bool{}},
		{"memory under 100Mi", map[string]observation{sigMemory: {99 << 20, 8 * gi}}, [pressureKinds]bool{memoryPressure: true}},
		{"memory exactly at the threshold is fine", map[string]observation{sigMemory: {100 << 20, 8 * gi}}, [pressureKinds]bool{}},
		{"nodefs under 10%", map[string]observation{sigNodeFS: {9 * gi, 100 * gi}}, [pressureKinds]bool{diskPressure: true}},
		{"imagefs under 15%", map[string]observation{sigImageFS: {14 * gi, 100 * gi}}, [pressureKinds]bool{diskPressure: true}},
		{"inodes under 5%", map[string]observation{sigNodeFSInodes: {4, 100}}, [pressureKinds]bool{diskPressure: true}},
		{"PIDs", map[string]observation{sigPID: {999, 32768}}, [pressureKinds]bool{pidPressure: true}},
		{"an unread signal is fine", map[string]observation{}, [pressureKinds]bool{}},
	}
	for _, tt := range tests {
		if got := pressures(ths, tt.obs); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestPressureStateTransition(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var p pressureState
	on := [pressureKinds]bool{diskPressure: true}
	if !p.update(on, t0) || !p.on[diskPressure] || !p.since[diskPressure].Equal(t0) {
		t.Fatalf("pressure seen: %+v", p)
	}
	if p.update([pressureKinds]bool{}, t0.Add(4*time.Minute)) || !p.on[diskPressure] {
		t.Fatalf("cleared within the transition period: %+v", p)
	}
	if !p.update([pressureKinds]bool{}, t0.Add(5*time.Minute)) || p.on[diskPressure] {
		t.Fatalf("still on after the transition period: %+v", p)
	}
	if p.on[memoryPressure] || p.on[pidPressure] {
		t.Fatalf("other kinds: %+v", p)
	}
}
