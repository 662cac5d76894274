package validation

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// Cases hack/difftest found where skiff and kube-apiserver v1.37.2 parted;
// each expects what kube does.
func TestKubeParity(t *testing.T) {
	pv := func(fn func(*corev1.PersistentVolume)) runtime.Object {
		v := validPV()
		fn(v)
		return v
	}
	upd := func(obj, old runtime.Object) func() string { return func() string { return joined(Update(obj, old)) } }
	crt := func(obj runtime.Object) func() string { return func() string { return joined(Create(obj)) } }
	prio := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high", ResourceVersion: "1"}, Value: 10}
	prioNS := prio.DeepCopy()
	prioNS.Namespace = "default"
	ns := validNamespace()
	nsGen := ns.DeepCopy()
	nsGen.GenerateName = "Team-"
	lease := validLease()
	leaseFin := lease.DeepCopy()
	leaseFin.Finalizers = []string{"cleanup"}
	tests := []struct {
		name string
		got  func() string
		want string // "" for accepted, else a substring of the errors
	}{
		{"second volume source named in kube's order", crt(mutate(validPod(), func(p *corev1.Pod) {
			p.Spec.Volumes[2].ConfigMap = &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "x"}}
		})), "spec.volumes[2].configMap: Forbidden: may not specify more than 1 volume type"},
		{"downwardAPI second, with kube's spelling", crt(mutate(validPod(), func(p *corev1.Pod) {
			p.Spec.Volumes[1].DownwardAPI = &corev1.DownwardAPIVolumeSource{}
		})), "spec.volumes[1].downwarAPI: Forbidden"},
		{"pv sources in kube's order", crt(pv(func(v *corev1.PersistentVolume) {
			v.Spec.NFS = &corev1.NFSVolumeSource{Server: "nas", Path: "/x"}
			v.Spec.Glusterfs = &corev1.GlusterfsPersistentVolumeSource{EndpointsName: "g", Path: "p"}
		})), "spec.glusterfs: Forbidden: may not specify more than 1 volume type, spec.nfs: Forbidden"},
		{"pdb name checked only as a path segment", crt(&policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "Web", Namespace: "default"}}), ""},
		{"pdb name that is no path segment", crt(&policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "a/b", Namespace: "default"}}),
			`metadata.name: Invalid value: "a/b"`},
		{"lease finalizers need only be qualified names", crt(leaseFin), ""},
		{"event namespace is not checked as a DNS subdomain by the event rules", crt(mutate(validCoreEvent(), func(e *corev1.Event) {
			e.Namespace, e.InvolvedObject.Namespace = "Team_A", "Team_A"
		})), `metadata.namespace: Invalid value: "Team_A"`},
		{"cluster-scoped object with a namespace, on update", upd(prioNS, prio), "metadata.namespace: Forbidden: not allowed on this type"},
		{"namespace metadata checked in full on update", upd(nsGen, ns), `metadata.generateName: Invalid value: "Team-"`},
		{"storage class binding mode is immutable", upd(func() runtime.Object {
			sc := validStorageClass()
			sc.VolumeBindingMode = ptr.To(storagev1.VolumeBindingWaitForFirstConsumer)
			return sc
		}(), validStorageClass()), "volumeBindingMode: Invalid value"},
		{"downward API divisor", crt(mutate(validPod(), func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "M", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{
				Resource: "limits.memory", Divisor: resource.MustParse("5Gi")}}}}
		})), "valueFrom.resourceFieldRef.divisor: Invalid value"},
		{"volume defaultUser", crt(mutate(validPod(), func(p *corev1.Pod) { p.Spec.Volumes[1].Secret.DefaultUser = ptr.To[int64](-1) })),
			"spec.volumes[1].secret.defaultUser: Invalid value: -1"},
		{"topology spread node policies", crt(mutate(validPod(), func(p *corev1.Pod) {
			p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "any key%",
				WhenUnsatisfiable: corev1.ScheduleAnyway, NodeTaintsPolicy: ptr.To[corev1.NodeInclusionPolicy]("Sometimes")}}
		})), "spec.topologySpreadConstraints[0].nodeTaintsPolicy: Unsupported value"},
		{"success policy needs an Indexed job", crt(mutate(validJob(), func(j *batchv1.Job) {
			j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededCount: ptr.To[int32](1)}}}
		})), "spec.successPolicy: Invalid value"},
		{"success policy indexes", crt(mutate(validJob(), func(j *batchv1.Job) {
			j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
			j.Spec.Completions = ptr.To[int32](4)
			j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededIndexes: ptr.To("0-2,2")}}}
		})), "error parsing succeededIndexes: non-increasing order, previous: 2, current: 2"},
		{"daemonset maxUnavailable that is no number counts as 0", crt(mutate(validDaemonSet(), func(d *appsv1.DaemonSet) {
			d.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromString("x")), MaxSurge: ptr.To(intstr.FromInt32(0))}
		})), "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"},
		{"template not checked when the selector does not parse", crt(mutate(validDeployment(), func(d *appsv1.Deployment) {
			d.Spec.Selector.MatchExpressions[0].Operator = "Near"
			d.Spec.Template.Spec.Containers[0].Image = ""
		})), "spec.selector: Invalid value"},
		{"statefulset serviceName is a DNS label", crt(mutate(validStatefulSet(), func(s *appsv1.StatefulSet) { s.Spec.ServiceName = "DB" })),
			`spec.serviceName: Invalid value: "DB"`},
		{"node pod CIDRs of one family, not a duplicate", crt(mutate(validNode(), func(n *corev1.Node) {
			n.Spec.PodCIDR, n.Spec.PodCIDRs = "", []string{"10.42.0.0/24", "10.42.0.0/24"}
		})), "may specify no more than one CIDR for each IP family"},
		{"container restart rules", crt(mutate(validPod(), func(p *corev1.Pod) {
			p.Spec.Containers[0].RestartPolicyRules = []corev1.ContainerRestartRule{{Action: "Retry"}}
		})), "spec.containers[0].restartPolicy: Required value: must specify restartPolicy when restart rules are used, " +
			`spec.containers[0].restartPolicyRules[0].action: Unsupported value: "Retry": supported values: "Restart", "RestartAllContainers", ` +
			"spec.containers[0].restartPolicyRules[0].exitCodes: Required value"},
		{"init container restart rules without a policy", crt(mutate(validPod(), func(p *corev1.Pod) {
			p.Spec.InitContainers[0].RestartPolicyRules = []corev1.ContainerRestartRule{{Action: "Retry"}}
		})), "spec.initContainers[0].restartPolicy: Required value"},
		{"lease update keeps its rules", upd(func() runtime.Object {
			l := lease.DeepCopy()
			l.Spec.LeaseDurationSeconds = ptr.To[int32](0)
			return l
		}(), lease), "spec.leaseDurationSeconds: Invalid value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.got()
			if tt.want == "" && got != "" {
				t.Fatalf("refused: %s", got)
			}
			if !strings.Contains(got, tt.want) {
				t.Fatalf("errors %q lack %q", got, tt.want)
			}
		})
	}
}

func joined(errs field.ErrorList) string {
	if agg := errs.ToAggregate(); agg != nil {
		return agg.Error()
	}
	return ""
}
