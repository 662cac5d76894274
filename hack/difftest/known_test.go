package difftest

import (
	"regexp"
	"slices"
)

// knownDifference is a deliberate difference from kube-apiserver, listed
// with its reason here and in docs/control-plane.md ("Validation and
// defaults"). A disagreement is known when every one of its items matches
// an entry.
type knownDifference struct {
	kind   string         // the kind's name; empty for any
	op     string         // create, update or default; empty for any
	side   string         // skiff, upstream or both; empty for any
	typ    string         // the error type; empty for any
	path   *regexp.Regexp // matches the item's field path
	reason string
}

// pod is the path of a pod spec in any kind that holds one.
const podPath = `^(spec\.jobTemplate\.spec\.template\.spec|spec\.template\.spec|template\.spec|spec)`

func re(s string) *regexp.Regexp { return regexp.MustCompile(s) }

var knownDifferences = []knownDifference{
	{kind: "Service", op: "default", side: "skiff", path: re(`^spec\.(ipFamilyPolicy|ipFamilies|clusterIPs)(\[\d+\])?$`),
		reason: "Service IP family fields and clusterIPs are set by kube's service allocator, not its defaulter; skiff sets them in server/defaults (single-stack IPv4), so the stored objects agree"},
	{kind: "Service", side: "upstream", path: re(`^spec\.healthCheckNodePort$`),
		reason: "kube allocates node ports before it validates a Service, skiff after (a 0 healthCheckNodePort means allocate one), so kube's Required never reaches a client of either"},
	{kind: "DaemonSet", op: "default", side: "upstream", path: re(`^metadata\.annotations(\.deprecated\.daemonset\.template\.generation)?$`),
		reason: "the deprecated.daemonset.template.generation annotation is kube's registry bookkeeping (its internal spec.templateGeneration), not a default; skiff does not set it"},
	{kind: "Lease", side: "skiff", path: re(`^spec\.(strategy|preferredHolder)$`),
		reason: "skiff has no feature gates: Lease strategy and preferredHolder (kube's CoordinatedLeaderElection, off by default) are kept and validated, where kube drops them"},
	{kind: "Pod", op: "update", side: "skiff", path: re(`^spec$`),
		reason: "skiff has no feature gates: a container's lifecycle.stopSignal (kube's ContainerStopSignals, off by default) is kept, so changing it is a pod spec change skiff refuses, where kube drops the field"},
	{kind: "PersistentVolume", side: "skiff", path: re(`^spec\.flexVolume$`),
		reason: "kube counts a PersistentVolume's flexVolume but never reports it as a second source, so it accepts flexVolume beside another source; skiff refuses the ambiguous volume"},
	{kind: "StatefulSet", path: re(`^spec\.template\.spec\.volumes\[\d+\]`),
		reason: "kube validates a StatefulSet's pod template with its claim templates' volumes put first, so its spec.template.spec.volumes[i] paths are off by their number; skiff reports the real index"},
	{kind: "CronJob", side: "upstream", path: re(`^spec\.timeZone$`),
		reason: "skiff checks a CronJob time zone's form only: whether it exists needs the time zone database, which the pure validation package does not read (the CronJob controller reports unknown zones)"},
	{kind: "PersistentVolumeClaim", side: "skiff", path: re(`^spec(\.dataSource\.apiGroup)?$`),
		reason: "kube's PersistentVolumeClaim registry drops a dataSource of another kind than PersistentVolumeClaim or VolumeSnapshot, and copies dataSource and dataSourceRef into each other, before it validates; skiff's API server keeps and checks the fields as sent"},
	{kind: "Node", side: "upstream", typ: "InternalError", path: re(`^spec\.podCIDRs$`),
		reason: "for a pod CIDR that does not parse, kube adds an internal error to the Invalid ones; skiff reports the Invalid ones only"},
	{side: "upstream", path: re(podPath + `\.(initContainers|containers|ephemeralContainers)\[\d+\]\.env\[\d+\]\.valueFrom\.fileKeyRef`),
		reason: "not yet validated by skiff: env values from files (fileKeyRef, kube's EnvFiles feature)"},
	{side: "upstream", path: re(podPath + `(\.(securityContext|(initContainers|containers|ephemeralContainers)\[\d+\]\.securityContext)\.(windowsOptions|privileged)|\.hostNetwork|)$|windowsOptions`),
		reason: "not validated by skiff, whose nodes run Linux: Windows pod options (windowsOptions, hostProcess and the rules that follow from it)"},
	{side: "upstream", path: re(`(matchLabelKeys|mismatchLabelKeys)(\[\d+\])?$`),
		reason: "not yet validated by skiff: matchLabelKeys and mismatchLabelKeys of pod affinity terms and topology spread constraints"},
	{side: "upstream", path: re(podPath + `\.resourceClaims\[\d+\]\.(resourceClaimName|resourceClaimTemplateName)$`),
		reason: "not yet validated by skiff: the names in pod resourceClaims (dynamic resource allocation, which skiff does not serve)"},
	{side: "upstream", path: re(podPath + `\.volumes\[\d+\]\.(iscsi|fc|quobyte|flocker|awsElasticBlockStore|gcePersistentDisk|persistentDisk|flexVolume|rbd|cephFS|cinder|azureDisk|azureFile|glusterfs|portworxVolume|scaleIO|storageos|photonPersistentDisk|vsphereVolume)(\.|$)`),
		reason: "skiff checks the in-tree volume plugins it cannot mount (iSCSI, FC, Quobyte, cloud disks…) only for being the one source of a volume, not their fields"},
}

// knownIndex returns the entries that cover every item of d, or nil when
// some item is not covered.
func knownIndex(d disagreement) []int {
	var hits []int
	for _, it := range d.items {
		found := -1
		for i, kd := range knownDifferences {
			if (kd.kind == "" || kd.kind == d.kind) && (kd.op == "" || kd.op == it.op) &&
				(kd.side == "" || kd.side == it.side) && (kd.typ == "" || kd.typ == it.typ) && kd.path.MatchString(it.path) {
				found = i
				break
			}
		}
		if found < 0 {
			return nil
		}
		if !slices.Contains(hits, found) {
			hits = append(hits, found)
		}
	}
	return hits
}
