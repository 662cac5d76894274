package printers

import (
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
)

func TestIngressHosts(t *testing.T) {
	rules := func(hosts ...string) []networkingv1.IngressRule {
		out := make([]networkingv1.IngressRule, len(hosts))
		for i, h := range hosts {
			out[i].Host = h
		}
		return out
	}
	tests := []struct {
		name  string
		rules []networkingv1.IngressRule
		want  string
	}{
		{"no rules", nil, "*"},
		{"only default backend rules", rules("", ""), "*"},
		{"three", rules("a", "b", "c"), "a,b,c"},
		{"five", rules("a", "b", "c", "d", "e"), "a,b,c + 2 more..."},
		// kube counts rules, not hosts, in the "more" figure.
		{"blank after three", rules("a", "b", "c", ""), "a,b,c + 1 more..."},
		{"blank among first", rules("a", "", "b", "c"), "a,b,c"},
	}
	for _, tt := range tests {
		if got := ingressHosts(tt.rules); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
