package printers

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

var namespacePrinter = Printer{
	Columns: []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Status", Type: "string", Description: "The status of the namespace"},
		ageColumn,
	},
	Row: rowOf(func(ns *corev1.Namespace, now time.Time) []interface{} {
		return []interface{}{ns.Name, orDefault(ns.Status.Phase, corev1.NamespaceActive), age(ns.CreationTimestamp, now)}
	}),
}

var configMapPrinter = Printer{
	Columns: []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Data", Type: "string", Description: corev1.ConfigMap{}.SwaggerDoc()["data"]},
		ageColumn,
	},
	Row: rowOf(func(cm *corev1.ConfigMap, now time.Time) []interface{} {
		return []interface{}{cm.Name, int64(len(cm.Data) + len(cm.BinaryData)), age(cm.CreationTimestamp, now)}
	}),
}

var secretPrinter = Printer{
	Columns: []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Type", Type: "string", Description: corev1.Secret{}.SwaggerDoc()["type"]},
		{Name: "Data", Type: "string", Description: corev1.Secret{}.SwaggerDoc()["data"]},
		ageColumn,
	},
	Row: rowOf(func(s *corev1.Secret, now time.Time) []interface{} {
		// stringData is folded into data on write, so only data is counted.
		return []interface{}{s.Name, orDefault(s.Type, corev1.SecretTypeOpaque), int64(len(s.Data)), age(s.CreationTimestamp, now)}
	}),
}

var serviceAccountPrinter = Printer{
	Columns: []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Secrets", Type: "string", Description: corev1.ServiceAccount{}.SwaggerDoc()["secrets"]},
		ageColumn,
	},
	Row: rowOf(func(sa *corev1.ServiceAccount, now time.Time) []interface{} {
		return []interface{}{sa.Name, int64(len(sa.Secrets)), age(sa.CreationTimestamp, now)}
	}),
}

var endpointsPrinter = Printer{
	Columns: []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Endpoints", Type: "string", Description: corev1.Endpoints{}.SwaggerDoc()["subsets"]},
		ageColumn,
	},
	Row: rowOf(func(ep *corev1.Endpoints, now time.Time) []interface{} {
		return []interface{}{ep.Name, formatEndpoints(ep.Subsets), age(ep.CreationTimestamp, now)}
	}),
}

// formatEndpoints lists the first three address:port pairs (bare addresses
// for a subset without ports, as headless services have).
func formatEndpoints(subsets []corev1.EndpointSubset) string {
	if len(subsets) == 0 {
		return "<none>"
	}
	var list []string
	total := 0
	add := func(s string) {
		total++
		if len(list) < 3 {
			list = append(list, s)
		}
	}
	for _, ss := range subsets {
		if len(ss.Ports) == 0 {
			for _, a := range ss.Addresses {
				add(a.IP)
			}
			continue
		}
		for _, p := range ss.Ports {
			for _, a := range ss.Addresses {
				add(hostPort(a.IP, p.Port))
			}
		}
	}
	return withMore(list, total)
}

// hostPort is net.JoinHostPort, written out so that this pure package need
// not import net: IPv6 addresses are bracketed.
func hostPort(ip string, port int32) string {
	if strings.Contains(ip, ":") {
		return "[" + ip + "]:" + strconv.Itoa(int(port))
	}
	return ip + ":" + strconv.Itoa(int(port))
}

var serviceDoc = corev1.ServiceSpec{}.SwaggerDoc()

var servicePrinter = Printer{
	Columns: []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Type", Type: "string", Description: serviceDoc["type"]},
		{Name: "Cluster-IP", Type: "string", Description: serviceDoc["clusterIP"]},
		{Name: "External-IP", Type: "string", Description: serviceDoc["externalIPs"]},
		{Name: "Port(s)", Type: "string", Description: serviceDoc["ports"]},
		ageColumn,
		{Name: "Selector", Type: "string", Priority: 1, Description: serviceDoc["selector"]},
	},
	Row: rowOf(func(svc *corev1.Service, now time.Time) []interface{} {
		svcType := corev1.ServiceType(orDefault(svc.Spec.Type, corev1.ServiceTypeClusterIP))
		clusterIP := "<none>"
		switch {
		case len(svc.Spec.ClusterIPs) > 0:
			clusterIP = svc.Spec.ClusterIPs[0]
		case svc.Spec.ClusterIP != "":
			// kube fills clusterIPs from clusterIP before printing.
			clusterIP = svc.Spec.ClusterIP
		}
		ports := servicePorts(svc.Spec.Ports)
		if ports == "" {
			ports = "<none>"
		}
		return []interface{}{
			svc.Name, string(svcType), clusterIP, serviceExternalIP(svc, svcType), ports,
			age(svc.CreationTimestamp, now), labels.FormatLabels(svc.Spec.Selector),
		}
	}),
}

// serviceExternalIP is the EXTERNAL-IP cell. The server always renders the
// untruncated (wide) form, as kube-apiserver does.
func serviceExternalIP(svc *corev1.Service, svcType corev1.ServiceType) string {
	switch svcType {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		if len(svc.Spec.ExternalIPs) > 0 {
			return strings.Join(svc.Spec.ExternalIPs, ",")
		}
		return "<none>"
	case corev1.ServiceTypeLoadBalancer:
		lb := loadBalancerAddresses(svc.Status.LoadBalancer.Ingress)
		if len(svc.Spec.ExternalIPs) > 0 {
			return strings.Join(append(lb, svc.Spec.ExternalIPs...), ",")
		}
		if len(lb) > 0 {
			return strings.Join(lb, ",")
		}
		return "<pending>"
	case corev1.ServiceTypeExternalName:
		return svc.Spec.ExternalName
	}
	return "<unknown>"
}

// loadBalancerAddresses is the sorted set of ingress IPs, or hostnames
// where there is no IP.
func loadBalancerAddresses(ingress []corev1.LoadBalancerIngress) []string {
	var out []string
	for _, in := range ingress {
		switch {
		case in.IP != "":
			out = append(out, in.IP)
		case in.Hostname != "":
			out = append(out, in.Hostname)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// servicePorts renders ports as "80/TCP" or, with a node port,
// "80:30080/TCP".
func servicePorts(ports []corev1.ServicePort) string {
	pieces := make([]string, len(ports))
	for i, p := range ports {
		proto := orDefault(p.Protocol, corev1.ProtocolTCP)
		if p.NodePort > 0 {
			pieces[i] = fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, proto)
		} else {
			pieces[i] = fmt.Sprintf("%d/%s", p.Port, proto)
		}
	}
	return strings.Join(pieces, ",")
}

var (
	nodeInfoDoc   = corev1.NodeSystemInfo{}.SwaggerDoc()
	nodeStatusDoc = corev1.NodeStatus{}.SwaggerDoc()
)

var nodePrinter = Printer{
	Columns: []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Status", Type: "string", Description: "The status of the node"},
		{Name: "Roles", Type: "string", Description: "The roles of the node"},
		ageColumn,
		{Name: "Version", Type: "string", Description: nodeInfoDoc["kubeletVersion"]},
		{Name: "Internal-IP", Type: "string", Priority: 1, Description: nodeStatusDoc["addresses"]},
		{Name: "External-IP", Type: "string", Priority: 1, Description: nodeStatusDoc["addresses"]},
		{Name: "OS-Image", Type: "string", Priority: 1, Description: nodeInfoDoc["osImage"]},
		{Name: "Kernel-Version", Type: "string", Priority: 1, Description: nodeInfoDoc["kernelVersion"]},
		{Name: "Container-Runtime", Type: "string", Priority: 1, Description: nodeInfoDoc["containerRuntimeVersion"]},
	},
	Row: rowOf(func(n *corev1.Node, now time.Time) []interface{} {
		info := n.Status.NodeInfo
		return []interface{}{
			n.Name, nodeStatus(n), nodeRoles(n.Labels), age(n.CreationTimestamp, now), info.KubeletVersion,
			nodeAddress(n, corev1.NodeInternalIP), nodeAddress(n, corev1.NodeExternalIP),
			orDefault(info.OSImage, "<unknown>"), orDefault(info.KernelVersion, "<unknown>"),
			orDefault(info.ContainerRuntimeVersion, "<unknown>"),
		}
	}),
}

// nodeStatus is Ready, NotReady or Unknown (no Ready condition yet), with
// ",SchedulingDisabled" for a cordoned node.
func nodeStatus(n *corev1.Node) string {
	status := "Unknown"
	// The last Ready condition wins, should a buggy writer have added two.
	for _, c := range n.Status.Conditions {
		if c.Type != corev1.NodeReady {
			continue
		}
		status = "Not" + string(corev1.NodeReady)
		if c.Status == corev1.ConditionTrue {
			status = string(corev1.NodeReady)
		}
	}
	if n.Spec.Unschedulable {
		status += ",SchedulingDisabled"
	}
	return status
}

const (
	nodeRolePrefix = "node-role.kubernetes.io/"
	// nodeRoleLabel is the older spelling: kubernetes.io/role=<role>.
	nodeRoleLabel = "kubernetes.io/role"
)

// nodeRoles is the sorted, comma-separated set of roles named by
// node-role.kubernetes.io/<role> and kubernetes.io/role=<role> labels.
func nodeRoles(nodeLabels map[string]string) string {
	var roles []string
	for k, v := range nodeLabels {
		switch {
		case strings.HasPrefix(k, nodeRolePrefix) && len(k) > len(nodeRolePrefix):
			roles = append(roles, strings.TrimPrefix(k, nodeRolePrefix))
		case k == nodeRoleLabel && v != "":
			roles = append(roles, v)
		}
	}
	if len(roles) == 0 {
		return "<none>"
	}
	slices.Sort(roles)
	return strings.Join(slices.Compact(roles), ",")
}

// nodeAddress is the node's first address of type t, or "<none>".
func nodeAddress(n *corev1.Node, t corev1.NodeAddressType) string {
	for _, a := range n.Status.Addresses {
		if a.Type == t {
			return a.Address
		}
	}
	return "<none>"
}

var (
	pvSpecDoc    = corev1.PersistentVolumeSpec{}.SwaggerDoc()
	pvStatusDoc  = corev1.PersistentVolumeStatus{}.SwaggerDoc()
	pvcSpecDoc   = corev1.PersistentVolumeClaimSpec{}.SwaggerDoc()
	pvcStatusDoc = corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()
)

var persistentVolumePrinter = Printer{
	Columns: []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Capacity", Type: "string", Description: pvSpecDoc["capacity"]},
		{Name: "Access Modes", Type: "string", Description: pvSpecDoc["accessModes"]},
		{Name: "Reclaim Policy", Type: "string", Description: pvSpecDoc["persistentVolumeReclaimPolicy"]},
		{Name: "Status", Type: "string", Description: pvStatusDoc["phase"]},
		{Name: "Claim", Type: "string", Description: pvSpecDoc["claimRef"]},
		{Name: "StorageClass", Type: "string", Description: "StorageClass of the pv"},
		{Name: "VolumeAttributesClass", Type: "string", Description: "VolumeAttributesClass of the pv"},
		{Name: "Reason", Type: "string", Description: pvStatusDoc["reason"]},
		ageColumn,
		{Name: "VolumeMode", Type: "string", Priority: 1, Description: pvSpecDoc["volumeMode"]},
	},
	Row: rowOf(func(pv *corev1.PersistentVolume, now time.Time) []interface{} {
		claim := ""
		if ref := pv.Spec.ClaimRef; ref != nil {
			claim = ref.Namespace + "/" + ref.Name
		}
		size := pv.Spec.Capacity[corev1.ResourceStorage]
		phase := orDefault(pv.Status.Phase, corev1.VolumePending)
		if pv.DeletionTimestamp != nil {
			phase = "Terminating"
		}
		class := pv.Spec.StorageClassName
		if a, ok := pv.Annotations[corev1.BetaStorageClassAnnotation]; ok {
			class = a
		}
		vac := "<unset>"
		if pv.Spec.VolumeAttributesClassName != nil {
			vac = *pv.Spec.VolumeAttributesClassName
		}
		return []interface{}{
			pv.Name, size.String(), accessModes(pv.Spec.AccessModes),
			orDefault(pv.Spec.PersistentVolumeReclaimPolicy, corev1.PersistentVolumeReclaimRetain),
			phase, claim, class, vac, pv.Status.Reason, age(pv.CreationTimestamp, now),
			volumeMode(pv.Spec.VolumeMode),
		}
	}),
}

var persistentVolumeClaimPrinter = Printer{
	Columns: []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Status", Type: "string", Description: pvcStatusDoc["phase"]},
		{Name: "Volume", Type: "string", Description: pvcSpecDoc["volumeName"]},
		{Name: "Capacity", Type: "string", Description: pvcStatusDoc["capacity"]},
		{Name: "Access Modes", Type: "string", Description: pvcStatusDoc["accessModes"]},
		{Name: "StorageClass", Type: "string", Description: "StorageClass of the pvc"},
		{Name: "VolumeAttributesClass", Type: "string", Description: "VolumeAttributesClass of the pvc"},
		ageColumn,
		{Name: "VolumeMode", Type: "string", Priority: 1, Description: pvcSpecDoc["volumeMode"]},
	},
	Row: rowOf(func(pvc *corev1.PersistentVolumeClaim, now time.Time) []interface{} {
		phase := orDefault(pvc.Status.Phase, corev1.ClaimPending)
		if pvc.DeletionTimestamp != nil {
			phase = "Terminating"
		}
		// Capacity and modes are the bound volume's, so only shown once bound.
		capacity, modes := "", ""
		if pvc.Spec.VolumeName != "" {
			q := pvc.Status.Capacity[corev1.ResourceStorage]
			capacity, modes = q.String(), accessModes(pvc.Status.AccessModes)
		}
		class := ""
		if a, ok := pvc.Annotations[corev1.BetaStorageClassAnnotation]; ok {
			class = a
		} else if pvc.Spec.StorageClassName != nil {
			class = *pvc.Spec.StorageClassName
		}
		vac := "<unset>"
		if pvc.Spec.VolumeAttributesClassName != nil {
			vac = *pvc.Spec.VolumeAttributesClassName
		}
		return []interface{}{
			pvc.Name, phase, pvc.Spec.VolumeName, capacity, modes, class, vac,
			age(pvc.CreationTimestamp, now), volumeMode(pvc.Spec.VolumeMode),
		}
	}),
}

// accessModes abbreviates access modes in kube's fixed order, RWO, ROX, RWX,
// RWOP, each once whatever the input order.
func accessModes(modes []corev1.PersistentVolumeAccessMode) string {
	var out []string
	for _, m := range []struct {
		mode  corev1.PersistentVolumeAccessMode
		short string
	}{
		{corev1.ReadWriteOnce, "RWO"},
		{corev1.ReadOnlyMany, "ROX"},
		{corev1.ReadWriteMany, "RWX"},
		{corev1.ReadWriteOncePod, "RWOP"},
	} {
		if slices.Contains(modes, m.mode) {
			out = append(out, m.short)
		}
	}
	return strings.Join(out, ",")
}

// volumeMode is the VOLUMEMODE cell; kube defaults a missing mode to
// Filesystem.
func volumeMode(m *corev1.PersistentVolumeMode) string {
	if m == nil {
		return string(corev1.PersistentVolumeFilesystem)
	}
	return string(*m)
}

var (
	rcSpecDoc   = corev1.ReplicationControllerSpec{}.SwaggerDoc()
	rcStatusDoc = corev1.ReplicationControllerStatus{}.SwaggerDoc()
)

var replicationControllerPrinter = Printer{
	Columns: []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Desired", Type: "integer", Description: rcSpecDoc["replicas"]},
		{Name: "Current", Type: "integer", Description: rcStatusDoc["replicas"]},
		{Name: "Ready", Type: "integer", Description: rcStatusDoc["readyReplicas"]},
		ageColumn,
		containersColumn,
		imagesColumn,
		{Name: "Selector", Type: "string", Priority: 1, Description: rcSpecDoc["selector"]},
	},
	Row: rowOf(func(rc *corev1.ReplicationController, now time.Time) []interface{} {
		var containers []corev1.Container
		if rc.Spec.Template != nil {
			containers = rc.Spec.Template.Spec.Containers
		}
		names, images := containerCells(containers)
		return []interface{}{
			rc.Name, replicas(rc.Spec.Replicas), int64(rc.Status.Replicas), int64(rc.Status.ReadyReplicas),
			age(rc.CreationTimestamp, now), names, images, labels.FormatLabels(rc.Spec.Selector),
		}
	}),
}

// containerCells is the CONTAINERS and IMAGES cells of a pod template.
func containerCells(containers []corev1.Container) (names, images string) {
	n := make([]string, len(containers))
	i := make([]string, len(containers))
	for k, c := range containers {
		n[k], i[k] = c.Name, c.Image
	}
	return strings.Join(n, ","), strings.Join(i, ",")
}

var podTemplatePrinter = Printer{
	Columns: []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Containers", Type: "string", Description: "Names of each container in the template."},
		{Name: "Images", Type: "string", Description: "Images referenced by each container in the template."},
		{Name: "Pod Labels", Type: "string", Description: "The labels for the pod template."},
	},
	Row: rowOf(func(pt *corev1.PodTemplate, now time.Time) []interface{} {
		names, images := containerCells(pt.Template.Spec.Containers)
		return []interface{}{pt.Name, names, images, labels.FormatLabels(pt.Template.Labels)}
	}),
}
