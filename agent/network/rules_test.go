package network

import (
	"database/sql"
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
)

func TestHostPortRules(t *testing.T) {
	ip := netip.MustParseAddr("10.42.3.7")
	for _, tc := range []struct {
		name    string
		ports   []HostPort
		want    []string // rules joined with spaces
		wantErr string
	}{
		{
			name:  "tcp on all addresses",
			ports: []HostPort{{Protocol: "TCP", HostPort: 8080, ContainerPort: 80}},
			want:  []string{`-p tcp -m tcp --dport 8080 -m comment --comment skiff pod u1 hostPort 8080 -j DNAT --to-destination 10.42.3.7:80`},
		},
		{
			name:  "udp on one address, protocol defaults, container port defaults",
			ports: []HostPort{{Protocol: "UDP", HostPort: 53, HostIP: "192.168.1.10"}, {HostPort: 81}},
			want: []string{
				`-p udp -m udp --dport 53 -d 192.168.1.10/32 -m comment --comment skiff pod u1 hostPort 53 -j DNAT --to-destination 10.42.3.7:53`,
				`-p tcp -m tcp --dport 81 -m comment --comment skiff pod u1 hostPort 81 -j DNAT --to-destination 10.42.3.7:81`,
			},
		},
		{
			name:  "sctp, duplicates dropped, IPv6 host IP skipped, :: means all",
			ports: []HostPort{{Protocol: "SCTP", HostPort: 9000, ContainerPort: 9}, {Protocol: "SCTP", HostPort: 9000, ContainerPort: 10}, {HostPort: 7, HostIP: "fd00::1"}, {HostPort: 8, HostIP: "::"}},
			want: []string{
				`-p sctp -m sctp --dport 9000 -m comment --comment skiff pod u1 hostPort 9000 -j DNAT --to-destination 10.42.3.7:9`,
				`-p tcp -m tcp --dport 8 -m comment --comment skiff pod u1 hostPort 8 -j DNAT --to-destination 10.42.3.7:8`,
			},
		},
		{name: "bad protocol", ports: []HostPort{{Protocol: "ICMP", HostPort: 1}}, wantErr: "unknown protocol"},
		{name: "port out of range", ports: []HostPort{{HostPort: 70000}}, wantErr: "out of range"},
		{name: "bad host IP", ports: []HostPort{{HostPort: 1, HostIP: "nope"}}, wantErr: "hostIP"},
		{name: "none", ports: nil, want: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rules, err := hostPortRules("u1", ip, tc.ports)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rules {
				got = append(got, strings.Join(r, " "))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestPostroutingRulesOrder(t *testing.T) {
	rules := postroutingRules("skiff0", netip.MustParsePrefix("10.42.3.0/24"), netip.MustParsePrefix("10.42.0.0/16"), false)
	var targets []string
	for _, r := range rules {
		targets = append(targets, r[len(r)-1])
	}
	// Hairpin masquerade must come before the pod-to-pod RETURN, which
	// must come before the egress masquerade.
	if got := strings.Join(targets, ","); got != "MASQUERADE,MASQUERADE,RETURN,MASQUERADE" {
		t.Fatalf("targets %s", got)
	}
	if last := strings.Join(rules[3], " "); !strings.HasPrefix(last, "-s 10.42.3.0/24 ! -d 224.0.0.0/4") {
		t.Fatalf("egress rule %q", last)
	}
}

func TestNames(t *testing.T) {
	uid := "0b6c6a3e-8d52-4c3c-9e0e-1f1b3c0f5a11"
	if v := vethName(uid); len(v) != 15 || !strings.HasPrefix(v, "veth") || v != vethName(uid) {
		t.Fatalf("vethName = %q", v)
	}
	if c := hostPortChain(uid); len(c) > 28 || !strings.HasPrefix(c, hostPortChainPrefix) {
		t.Fatalf("hostPortChain = %q", c)
	}
	if vethName(uid) == vethName(uid+"x") {
		t.Fatal("two pods share a veth name")
	}
	for _, bad := range []string{"", ".", "..", "a/b"} {
		if checkPodUID(bad) == nil {
			t.Errorf("pod uid %q accepted", bad)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	good := Config{Bridge: "skiff0", PodCIDR: "10.42.3.0/24", ClusterCIDR: "10.42.0.0/16", NetNSDir: "/run/skiff/netns"}
	db, err := sql.Open("sqlite3", filepath.Join(t.TempDir(), "agent.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The good config passes the checks (it may still fail without an
	// iptables binary, but not as an invalid config).
	if _, err := New(good, db); errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("good config refused: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"bridge name too long", func(c *Config) { c.Bridge = "a-very-long-bridge" }},
		{"bridge name with a slash", func(c *Config) { c.Bridge = "../x" }},
		{"pod CIDR not a CIDR", func(c *Config) { c.PodCIDR = "10.42.3.0" }},
		{"pod CIDR IPv6", func(c *Config) { c.PodCIDR = "fd00::/64" }},
		{"pod CIDR too small", func(c *Config) { c.PodCIDR = "10.42.3.0/31" }},
		{"pod CIDR outside the cluster CIDR", func(c *Config) { c.PodCIDR = "10.43.3.0/24" }},
		{"pod CIDR wider than the cluster CIDR", func(c *Config) { c.PodCIDR = "10.0.0.0/8" }},
		{"relative netns dir", func(c *Config) { c.NetNSDir = "netns" }},
		{"negative MTU", func(c *Config) { c.MTU = -1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			if _, err := New(c, db); !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("New: %v, want ErrInvalidConfig", err)
			}
		})
	}
}
