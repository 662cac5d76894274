package podspec

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestHostname(t *testing.T) {
	long := strings.Repeat("a", 60) + "-.-bcd"
	tests := []struct {
		name    string
		pod     corev1.Pod
		short   string
		uts     string
		domain  string
		wantErr string
	}{{
		name:  "pod name",
		pod:   corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "shop"}},
		short: "web-0", uts: "web-0",
	}, {
		name:  "spec.hostname and subdomain",
		pod:   corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "shop"}, Spec: corev1.PodSpec{Hostname: "db", Subdomain: "backend"}},
		short: "db", uts: "db", domain: "backend.shop.svc.cluster.local",
	}, {
		name:  "setHostnameAsFQDN",
		pod:   corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "shop"}, Spec: corev1.PodSpec{Subdomain: "backend", SetHostnameAsFQDN: ptr(true)}},
		short: "web-0", uts: "web-0.backend.shop.svc.cluster.local", domain: "backend.shop.svc.cluster.local",
	}, {
		name:    "FQDN too long",
		pod:     corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: strings.Repeat("x", 40), Namespace: "shop"}, Spec: corev1.PodSpec{Subdomain: "backend", SetHostnameAsFQDN: ptr(true)}},
		short:   strings.Repeat("x", 40),
		domain:  "backend.shop.svc.cluster.local",
		wantErr: "is too long (64 characters is the max, 71 characters requested)",
	}, {
		name:  "truncated to 63 without trailing - or .",
		pod:   corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: long, Namespace: "shop"}},
		short: strings.Repeat("a", 60), uts: strings.Repeat("a", 60),
	}, {
		name:  "hostnameOverride wins and drops the domain",
		pod:   corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "shop"}, Spec: corev1.PodSpec{Hostname: "db", Subdomain: "backend", HostnameOverride: ptr("my.host")}},
		short: "my.host", uts: "my.host",
	}, {
		name:  "host network keeps the node's",
		pod:   corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "shop"}, Spec: corev1.PodSpec{HostNetwork: true}},
		short: "web-0", uts: "",
	}, {
		name:    "invalid hostname",
		pod:     corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "shop"}, Spec: corev1.PodSpec{Hostname: "Not_Valid"}},
		short:   "Not_Valid",
		wantErr: `pod Hostname "Not_Valid" is not a valid DNS label`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Hostname(&tt.pod); got != tt.short {
				t.Errorf("Hostname = %q, want %q", got, tt.short)
			}
			if got := Domain(&tt.pod, "cluster.local"); got != tt.domain {
				t.Errorf("Domain = %q, want %q", got, tt.domain)
			}
			uts, err := UTSHostname(&tt.pod, "cluster.local")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || uts != tt.uts {
				t.Errorf("UTSHostname = %q, %v; want %q", uts, err, tt.uts)
			}
		})
	}
}

func TestHosts(t *testing.T) {
	aliases := []corev1.HostAlias{{IP: "10.0.0.1", Hostnames: []string{"foo", "foo.local"}}, {IP: "10.0.0.2", Hostnames: []string{"bar"}}}
	header := "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n"
	tests := []struct {
		name string
		spec corev1.PodSpec
		ips  []string
		want string
	}{{
		name: "plain",
		ips:  []string{"10.42.0.7"},
		want: header + "10.42.0.7\tweb-0\n",
	}, {
		name: "dual stack with subdomain and aliases",
		spec: corev1.PodSpec{Hostname: "db", Subdomain: "backend", HostAliases: aliases},
		ips:  []string{"10.42.0.7", "fd00::7"},
		want: header + "10.42.0.7\tdb.backend.shop.svc.cluster.local\tdb\nfd00::7\tdb.backend.shop.svc.cluster.local\tdb\n" +
			"\n# Entries added by HostAliases.\n10.0.0.1\tfoo\tfoo.local\n10.0.0.2\tbar\n",
	}, {
		name: "host network copies the node file",
		spec: corev1.PodSpec{HostNetwork: true, HostAliases: aliases[:1]},
		ips:  []string{"192.168.1.10"},
		want: "# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n192.168.1.10 pi-1\n" +
			"\n# Entries added by HostAliases.\n10.0.0.1\tfoo\tfoo.local\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "shop"}, Spec: tt.spec}
			got := Hosts(pod, tt.ips, []byte("127.0.0.1 localhost\n192.168.1.10 pi-1\n"), "cluster.local")
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("hosts (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolvConf(t *testing.T) {
	host := []byte("# generated\nnameserver 192.168.1.1\nnameserver 1.1.1.1\nsearch old.lan\nsearch home.lan. corp.example\noptions rotate\noptions timeout:2 attempts:3\n")
	longDomain := strings.Repeat("d", 254)
	many := func(n int) []string {
		var s []string
		for i := 0; i < n; i++ {
			s = append(s, fmt.Sprintf("%02d", i)+strings.Repeat("x", 58)+".example")
		}
		return s
	}
	tests := []struct {
		name       string
		spec       corev1.PodSpec
		hostResolv []byte
		clusterDNS []string
		want       string
		wantCfg    *DNSConfig
	}{{
		name:       "ClusterFirst with cluster DNS",
		spec:       corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirst},
		hostResolv: host, clusterDNS: []string{"10.43.0.10"},
		want: "search shop.svc.cluster.local svc.cluster.local cluster.local home.lan corp.example\nnameserver 10.43.0.10\noptions ndots:5\n",
	}, {
		name:       "ClusterFirst without cluster DNS falls back to the host",
		spec:       corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirst},
		hostResolv: host,
		want:       "search home.lan corp.example\nnameserver 192.168.1.1\nnameserver 1.1.1.1\noptions timeout:2 attempts:3\n",
	}, {
		name:       "empty policy is ClusterFirst",
		hostResolv: host, clusterDNS: []string{"10.43.0.10"},
		want: "search shop.svc.cluster.local svc.cluster.local cluster.local home.lan corp.example\nnameserver 10.43.0.10\noptions ndots:5\n",
	}, {
		name:       "ClusterFirst on host network behaves as Default",
		spec:       corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirst, HostNetwork: true},
		hostResolv: host, clusterDNS: []string{"10.43.0.10"},
		want: "search home.lan corp.example\nnameserver 192.168.1.1\nnameserver 1.1.1.1\noptions timeout:2 attempts:3\n",
	}, {
		name:       "ClusterFirstWithHostNet",
		spec:       corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirstWithHostNet, HostNetwork: true},
		hostResolv: host, clusterDNS: []string{"10.43.0.10"},
		want: "search shop.svc.cluster.local svc.cluster.local cluster.local home.lan corp.example\nnameserver 10.43.0.10\noptions ndots:5\n",
	}, {
		name:       "Default",
		spec:       corev1.PodSpec{DNSPolicy: corev1.DNSDefault},
		hostResolv: host, clusterDNS: []string{"10.43.0.10"},
		want: "search home.lan corp.example\nnameserver 192.168.1.1\nnameserver 1.1.1.1\noptions timeout:2 attempts:3\n",
	}, {
		name: "Default without a host resolv.conf uses localhost",
		spec: corev1.PodSpec{DNSPolicy: corev1.DNSDefault},
		want: "search .\nnameserver 127.0.0.1\n",
	}, {
		name: "None with dnsConfig only",
		spec: corev1.PodSpec{DNSPolicy: corev1.DNSNone, DNSConfig: &corev1.PodDNSConfig{
			Nameservers: []string{"9.9.9.9"}, Searches: []string{"a.example"},
			Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr("2")}, {Name: "edns0"}},
		}},
		hostResolv: host, clusterDNS: []string{"10.43.0.10"},
		want: "search a.example\nnameserver 9.9.9.9\noptions ndots:2 edns0\n",
	}, {
		name:       "None without dnsConfig is empty",
		spec:       corev1.PodSpec{DNSPolicy: corev1.DNSNone},
		hostResolv: host,
		want:       "",
	}, {
		name: "dnsConfig merged: dedupe, option override, 3 nameservers",
		spec: corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirst, DNSConfig: &corev1.PodDNSConfig{
			Nameservers: []string{"10.43.0.10", "9.9.9.9", "8.8.8.8", "8.8.4.4"},
			Searches:    []string{"svc.cluster.local", "extra.example"},
			Options:     []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr("1")}, {Name: "single-request"}},
		}},
		hostResolv: host, clusterDNS: []string{"10.43.0.10"},
		want: "search shop.svc.cluster.local svc.cluster.local cluster.local home.lan corp.example extra.example\n" +
			"nameserver 10.43.0.10\nnameserver 9.9.9.9\nnameserver 8.8.8.8\noptions ndots:1 single-request\n",
	}, {
		name: "search limits: 32 paths, 253 chars each, 2048 chars in all",
		spec: corev1.PodSpec{DNSPolicy: corev1.DNSNone, DNSConfig: &corev1.PodDNSConfig{
			Searches: append([]string{longDomain}, many(40)...),
		}},
		wantCfg: &DNSConfig{Searches: many(29)},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "shop"}, Spec: tt.spec}
			if tt.wantCfg != nil {
				cfg, err := PodDNS(pod, tt.hostResolv, tt.clusterDNS, "cluster.local")
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.wantCfg.Searches, cfg.Searches); diff != "" {
					t.Errorf("searches (-want +got):\n%s", diff)
				}
				if n := len(strings.Join(cfg.Searches, " ")); n > MaxSearchLineChars {
					t.Errorf("search line is %d chars", n)
				}
				return
			}
			got, err := ResolvConf(pod, tt.hostResolv, tt.clusterDNS, "cluster.local")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("resolv.conf (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseResolvConfRejectsEmptyNameserver(t *testing.T) {
	if _, err := ParseResolvConf([]byte("nameserver\n")); err == nil {
		t.Fatal("want an error")
	}
}
