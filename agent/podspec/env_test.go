package podspec

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func ptr[T any](v T) *T { return &v }

func testPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "web-0", Namespace: "shop", UID: "uid-1",
			Labels:      map[string]string{"app": "web", "tier": "front"},
			Annotations: map[string]string{"note": "a \"quoted\" value"},
		},
		Spec: corev1.PodSpec{
			NodeName: "pi-1", ServiceAccountName: "web-sa",
			Containers: []corev1.Container{{
				Name: "app",
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{"cpu": resource.MustParse("250m"), "memory": resource.MustParse("64Mi")},
					Limits:   corev1.ResourceList{"memory": resource.MustParse("128Mi")},
				},
			}, {
				Name: "side",
				Resources: corev1.ResourceRequirements{
					Limits: corev1.ResourceList{"cpu": resource.MustParse("1500m")},
				},
			}},
		},
		Status: corev1.PodStatus{PodIPs: []corev1.PodIP{{IP: "10.42.0.7"}, {IP: "fd00::7"}}},
	}
}

func testSources() *StaticSources {
	return NewStaticSources(
		[]*corev1.ConfigMap{
			{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "cfg"}, Data: map[string]string{"MODE": "prod", "LEVEL": "3", "bad=key": "x"}},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "cfg2"}, Data: map[string]string{"MODE": "staging"}},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "elsewhere"}, Data: map[string]string{"K": "v"}},
		},
		[]*corev1.Secret{
			{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "creds"}, Data: map[string][]byte{"PASSWORD": []byte("hunter2"), "USER": []byte("admin")}},
		},
	)
}

var testNode = NodeInfo{
	Allocatable: corev1.ResourceList{"cpu": resource.MustParse("4"), "memory": resource.MustParse("2Gi"), "ephemeral-storage": resource.MustParse("10Gi")},
	HostIPs:     []string{"192.168.1.10", "fd00::10"},
}

func TestEnv(t *testing.T) {
	cmRef := func(name, key string, optional bool) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key, Optional: &optional}}
	}
	secRef := func(name, key string, optional bool) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key, Optional: &optional}}
	}
	field := func(p string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: p}}
	}
	res := func(container, r, divisor string) *corev1.EnvVarSource {
		sel := &corev1.ResourceFieldSelector{ContainerName: container, Resource: r}
		if divisor != "" {
			sel.Divisor = resource.MustParse(divisor)
		}
		return &corev1.EnvVarSource{ResourceFieldRef: sel}
	}
	cmFrom := func(name, prefix string, optional bool) corev1.EnvFromSource {
		return corev1.EnvFromSource{Prefix: prefix, ConfigMapRef: &corev1.ConfigMapEnvSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: name}, Optional: &optional}}
	}
	tests := []struct {
		name     string
		env      []corev1.EnvVar
		envFrom  []corev1.EnvFromSource
		mutate   func(*corev1.Pod)
		want     []string
		wantErr  string
		warnings int
	}{{
		name: "literals and expansion in declaration order",
		env: []corev1.EnvVar{
			{Name: "A", Value: "a"},
			{Name: "B", Value: "$(A)-b"},
			{Name: "C", Value: "$(D)-c"}, // D is defined later: stays verbatim
			{Name: "D", Value: "d"},
			{Name: "E", Value: "$$(A) $$$(A) $(UNSET) $A $("},
			{Name: "EMPTY"},
		},
		want: []string{"A=a", "B=a-b", "C=$(D)-c", "D=d", "E=$(A) $a $(UNSET) $A $(", "EMPTY="},
	}, {
		name: "a variable redefined later keeps its first position",
		env:  []corev1.EnvVar{{Name: "X", Value: "1"}, {Name: "Y", Value: "$(X)"}, {Name: "X", Value: "$(X)2"}},
		want: []string{"X=12", "Y=1"},
	}, {
		name:    "envFrom: later source overrides, env overrides envFrom, prefix, expansion sees envFrom",
		envFrom: []corev1.EnvFromSource{cmFrom("cfg", "", false), cmFrom("cfg2", "", false), cmFrom("cfg", "P_", false), {SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}}}},
		env:     []corev1.EnvVar{{Name: "LEVEL", Value: "level-$(LEVEL)-$(P_MODE)-$(USER)"}},
		want:    []string{"LEVEL=level-3-prod-admin", "MODE=staging", "P_LEVEL=3", "P_MODE=prod", "PASSWORD=hunter2", "USER=admin"},
		// "bad=key" from cfg, twice (plain and prefixed).
		warnings: 2,
	}, {
		name:    "optional missing envFrom is skipped",
		envFrom: []corev1.EnvFromSource{cmFrom("nope", "", true)},
		env:     []corev1.EnvVar{{Name: "A", Value: "a"}},
		want:    []string{"A=a"},
	}, {
		name:    "required missing envFrom configmap",
		envFrom: []corev1.EnvFromSource{cmFrom("nope", "", false)},
		wantErr: `configmap "nope" not found`,
	}, {
		name:    "required missing envFrom secret",
		envFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}}}},
		wantErr: `secret "gone" not found`,
	}, {
		name:    "configmap in another namespace is not visible",
		env:     []corev1.EnvVar{{Name: "K", ValueFrom: cmRef("elsewhere", "K", false)}},
		wantErr: `configmap "elsewhere" not found`,
	}, {
		name: "configMapKeyRef and secretKeyRef, not expanded",
		env: []corev1.EnvVar{
			{Name: "M", ValueFrom: cmRef("cfg", "MODE", false)},
			{Name: "P", ValueFrom: secRef("creds", "PASSWORD", false)},
			{Name: "OPT1", ValueFrom: cmRef("cfg", "NOKEY", true)},
			{Name: "OPT2", ValueFrom: cmRef("nocm", "K", true)},
			{Name: "OPT3", ValueFrom: secRef("nosecret", "K", true)},
		},
		want: []string{"M=prod", "P=hunter2"},
	}, {
		name:    "missing configmap key",
		env:     []corev1.EnvVar{{Name: "M", ValueFrom: cmRef("cfg", "NOKEY", false)}},
		wantErr: "couldn't find key NOKEY in ConfigMap shop/cfg",
	}, {
		name:    "missing secret key",
		env:     []corev1.EnvVar{{Name: "M", ValueFrom: secRef("creds", "NOKEY", false)}},
		wantErr: "couldn't find key NOKEY in Secret shop/creds",
	}, {
		name:    "missing required configmap for key ref",
		env:     []corev1.EnvVar{{Name: "M", ValueFrom: cmRef("nocm", "K", false)}},
		wantErr: `configmap "nocm" not found`,
	}, {
		name: "fieldRef",
		env: []corev1.EnvVar{
			{Name: "NAME", ValueFrom: field("metadata.name")},
			{Name: "NS", ValueFrom: field("metadata.namespace")},
			{Name: "UID", ValueFrom: field("metadata.uid")},
			{Name: "APP", ValueFrom: field("metadata.labels['app']")},
			{Name: "NOTE", ValueFrom: field("metadata.annotations['note']")},
			{Name: "NOLABEL", ValueFrom: field("metadata.labels['missing']")},
			{Name: "NODE", ValueFrom: field("spec.nodeName")},
			{Name: "SA", ValueFrom: field("spec.serviceAccountName")},
			{Name: "HOSTIP", ValueFrom: field("status.hostIP")},
			{Name: "HOSTIPS", ValueFrom: field("status.hostIPs")},
			{Name: "PODIP", ValueFrom: field("status.podIP")},
			{Name: "PODIPS", ValueFrom: field("status.podIPs")},
			{Name: "LABELS", ValueFrom: field("metadata.labels")},
		},
		want: []string{"NAME=web-0", "NS=shop", "UID=uid-1", "APP=web", `NOTE=a "quoted" value`, "NOLABEL=",
			"NODE=pi-1", "SA=web-sa", "HOSTIP=192.168.1.10", "HOSTIPS=192.168.1.10,fd00::10",
			"PODIP=10.42.0.7", "PODIPS=10.42.0.7,fd00::7", "LABELS=app=\"web\"\ntier=\"front\""},
	}, {
		name:    "unsupported fieldRef",
		env:     []corev1.EnvVar{{Name: "X", ValueFrom: field("spec.hostname")}},
		wantErr: "unsupported fieldPath: spec.hostname",
	}, {
		name:   "host network pod without status IPs gets the node's",
		mutate: func(p *corev1.Pod) { p.Spec.HostNetwork = true; p.Status = corev1.PodStatus{} },
		env:    []corev1.EnvVar{{Name: "PODIP", ValueFrom: field("status.podIP")}},
		want:   []string{"PODIP=192.168.1.10"},
	}, {
		name: "resourceFieldRef with divisors and node allocatable fallback",
		env: []corev1.EnvVar{
			{Name: "REQ_CPU", ValueFrom: res("", "requests.cpu", "")},                // 250m -> 1 (ceil)
			{Name: "REQ_CPU_M", ValueFrom: res("", "requests.cpu", "1m")},            // 250
			{Name: "LIM_CPU", ValueFrom: res("", "limits.cpu", "")},                  // unset -> allocatable 4
			{Name: "LIM_MEM", ValueFrom: res("", "limits.memory", "1Mi")},            // 128
			{Name: "REQ_MEM", ValueFrom: res("", "requests.memory", "")},             // 67108864
			{Name: "LIM_EPH", ValueFrom: res("", "limits.ephemeral-storage", "1Gi")}, // allocatable 10
			{Name: "REQ_EPH", ValueFrom: res("", "requests.ephemeral-storage", "")},  // 0
			{Name: "SIDE_CPU", ValueFrom: res("side", "limits.cpu", "1m")},           // 1500
			{Name: "SIDE_MEM", ValueFrom: res("side", "limits.memory", "1Gi")},       // allocatable 2
		},
		want: []string{"REQ_CPU=1", "REQ_CPU_M=250", "LIM_CPU=4", "LIM_MEM=128", "REQ_MEM=67108864",
			"LIM_EPH=10", "REQ_EPH=0", "SIDE_CPU=1500", "SIDE_MEM=2"},
	}, {
		name: "pod-level limits replace allocatable",
		mutate: func(p *corev1.Pod) {
			p.Spec.Resources = &corev1.ResourceRequirements{Limits: corev1.ResourceList{"cpu": resource.MustParse("2")}}
		},
		env:  []corev1.EnvVar{{Name: "LIM_CPU", ValueFrom: res("", "limits.cpu", "")}},
		want: []string{"LIM_CPU=2"},
	}, {
		name:    "resourceFieldRef to unknown container",
		env:     []corev1.EnvVar{{Name: "X", ValueFrom: res("ghost", "limits.cpu", "")}},
		wantErr: "container ghost not found",
	}, {
		name:    "unsupported resource",
		env:     []corev1.EnvVar{{Name: "X", ValueFrom: res("", "limits.gpu", "")}},
		wantErr: "unsupported container resource : limits.gpu",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := testPod()
			if tt.mutate != nil {
				tt.mutate(pod)
			}
			c := &pod.Spec.Containers[0]
			c.Env, c.EnvFrom = tt.env, tt.envFrom
			got, warnings, err := EnvWithWarnings(pod, c, testSources(), testNode)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("env (-want +got):\n%s", diff)
			}
			if len(warnings) != tt.warnings {
				t.Errorf("warnings = %q, want %d", warnings, tt.warnings)
			}
		})
	}
}

func TestEnvNotFoundIsClassified(t *testing.T) {
	pod := testPod()
	c := &pod.Spec.Containers[0]
	c.EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "x"}}}}
	_, err := Env(pod, c, testSources(), testNode)
	if !IsNotFound(err) {
		t.Fatalf("IsNotFound(%v) = false", err)
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "a", "EMPTY": "", "LONG": "x y"}
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"$(A)", "a"},
		{"$(A)$(A)", "aa"},
		{"pre-$(A)-post", "pre-a-post"},
		{"$(EMPTY)", ""},
		{"$(B)", "$(B)"},
		{"$$(A)", "$(A)"},
		{"$$$(A)", "$a"},
		{"$$$$", "$$"},
		{"$", "$"},
		{"a$", "a$"},
		{"$A", "$A"},
		{"$(", "$("},
		{"$(A", "$(A"},
		{"$()", "$()"},
		{"$(A)$(", "a$("},
		{"$($(A))", "$($(A))"},
		{"$(LONG)", "x y"},
		{"héllo $(A) ünï", "héllo a ünï"},
	}
	for _, tt := range tests {
		if got := Expand(tt.in, lookupIn(vars)); got != tt.want {
			t.Errorf("Expand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCommand(t *testing.T) {
	c := &corev1.Container{
		Command: []string{"/bin/$(SHELL)", "-c"},
		Args:    []string{"echo $(GREETING) $(NOPE) $$(GREETING)"},
	}
	cmd, args := Command(c, []string{"SHELL=sh", "GREETING=hi=there"})
	if diff := cmp.Diff([]string{"/bin/sh", "-c"}, cmd); diff != "" {
		t.Error(diff)
	}
	if diff := cmp.Diff([]string{"echo hi=there $(NOPE) $(GREETING)"}, args); diff != "" {
		t.Error(diff)
	}
	if cmd, args := Command(&corev1.Container{}, nil); cmd != nil || args != nil {
		t.Errorf("empty container: %q %q", cmd, args)
	}
}

func TestSubPath(t *testing.T) {
	env := []string{"POD=web-0", "EMPTY="}
	tests := []struct{ expr, want, err string }{
		{"logs/$(POD)", "logs/web-0", ""},
		{"$(MISSING)/$(EMPTY)/$(POD)", "", "missing value for EMPTY, MISSING"},
		{"plain", "plain", ""},
	}
	for _, tt := range tests {
		got, err := SubPath(tt.expr, env)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("SubPath(%q) err = %v, want %q", tt.expr, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("SubPath(%q) = %q, %v; want %q", tt.expr, got, err, tt.want)
		}
	}
}

func TestMetadataFieldValue(t *testing.T) {
	pod := testPod()
	tests := []struct{ path, want, err string }{
		{"metadata.annotations", `note="a \"quoted\" value"`, ""},
		{"metadata.labels['tier']", "front", ""},
		{"metadata.labels['Not Valid']", "", "invalid key subscript"},
		{"metadata.name['x']", "", "does not support subscript"},
		{"status.podIP", "", "unsupported fieldPath"},
	}
	for _, tt := range tests {
		got, err := MetadataFieldValue(pod, tt.path)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err = %v, want %q", tt.path, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s = %q, %v; want %q", tt.path, got, err, tt.want)
		}
	}
}
