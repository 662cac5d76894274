package printers

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
)

// Printer renders one kind as table rows.
type Printer struct {
	// Columns are the table's column definitions; wide-only columns have
	// Priority 1.
	Columns []metav1.TableColumnDefinition
	// Row returns one cell per column for obj, a pointer to the kind's typed
	// k8s.io/api struct. Ages are measured back from now. A nil pointer or
	// an object of another type renders as the zero object rather than
	// panicking, because a table must always have a row per item.
	Row func(obj runtime.Object, now time.Time) []interface{}
}

// registry holds every kind with a printer of its own. The core group is "".
var registry = map[schema.GroupKind]Printer{
	{Group: "", Kind: "ConfigMap"}:                     configMapPrinter,
	{Group: "", Kind: "PodTemplate"}:                   podTemplatePrinter,
	{Group: "", Kind: "Endpoints"}:                     endpointsPrinter,
	{Group: "", Kind: "Event"}:                         eventPrinter,
	{Group: "", Kind: "Namespace"}:                     namespacePrinter,
	{Group: "", Kind: "Node"}:                          nodePrinter,
	{Group: "", Kind: "PersistentVolume"}:              persistentVolumePrinter,
	{Group: "", Kind: "PersistentVolumeClaim"}:         persistentVolumeClaimPrinter,
	{Group: "", Kind: "Pod"}:                           podPrinter,
	{Group: "", Kind: "ReplicationController"}:         replicationControllerPrinter,
	{Group: "", Kind: "Secret"}:                        secretPrinter,
	{Group: "", Kind: "Service"}:                       servicePrinter,
	{Group: "", Kind: "ServiceAccount"}:                serviceAccountPrinter,
	{Group: "apps", Kind: "ControllerRevision"}:        controllerRevisionPrinter,
	{Group: "apps", Kind: "DaemonSet"}:                 daemonSetPrinter,
	{Group: "apps", Kind: "Deployment"}:                deploymentPrinter,
	{Group: "apps", Kind: "ReplicaSet"}:                replicaSetPrinter,
	{Group: "apps", Kind: "StatefulSet"}:               statefulSetPrinter,
	{Group: "batch", Kind: "CronJob"}:                  cronJobPrinter,
	{Group: "batch", Kind: "Job"}:                      jobPrinter,
	{Group: "coordination.k8s.io", Kind: "Lease"}:      leasePrinter,
	{Group: "discovery.k8s.io", Kind: "EndpointSlice"}: endpointSlicePrinter,
	{Group: "events.k8s.io", Kind: "Event"}:            eventsV1Printer,
	{Group: "networking.k8s.io", Kind: "Ingress"}:      ingressPrinter,
	{Group: "storage.k8s.io", Kind: "StorageClass"}:    storageClassPrinter,
}

// For returns the printer for a group/kind (core group is ""). ok is false
// for kinds that have none; use Default for those.
func For(gk schema.GroupKind) (p Printer, ok bool) {
	p, ok = registry[gk]
	if ok {
		// Callers may append to or edit the columns of a table they build.
		p.Columns = slices.Clone(p.Columns)
	}
	return p, ok
}

// Default is the printer for kinds without their own. It is what
// kube-apiserver's default table convertor serves for built-in kinds with
// no printer (Role, ClusterRole, LimitRange…): Name, and
// "Created At" as an RFC 3339 UTC date, which kubectl shows as NAME and
// CREATED AT. Not an Age column: kube shows those kinds with an absolute
// date, and so does skiff. It works for any object with metadata, typed or
// unstructured. (Custom resources are different in kube: their convertor
// reads additionalPrinterColumns and falls back to NAME and AGE.)
func Default() Printer {
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			{Name: "Created At", Type: "date", Description: objectMetaDoc["creationTimestamp"]},
		},
		Row: func(obj runtime.Object, _ time.Time) []interface{} {
			if isNil(obj) {
				return []interface{}{"", time.Time{}.UTC().Format(time.RFC3339)}
			}
			m, err := meta.Accessor(obj)
			if err != nil {
				return []interface{}{"", time.Time{}.UTC().Format(time.RFC3339)}
			}
			return []interface{}{m.GetName(), m.GetCreationTimestamp().UTC().Format(time.RFC3339)}
		},
	}
}

var objectMetaDoc = metav1.ObjectMeta{}.SwaggerDoc()

// Columns that most kinds share.
var (
	nameColumn = metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name", Description: objectMetaDoc["name"]}
	ageColumn  = metav1.TableColumnDefinition{Name: "Age", Type: "string", Description: objectMetaDoc["creationTimestamp"]}

	containersColumn = metav1.TableColumnDefinition{Name: "Containers", Type: "string", Priority: 1, Description: "Names of each container in the template."}
	imagesColumn     = metav1.TableColumnDefinition{Name: "Images", Type: "string", Priority: 1, Description: "Images referenced by each container in the template."}
)

// rowOf adapts a printer for one typed kind to Printer.Row. The object is
// never nil inside f.
func rowOf[T any](f func(obj *T, now time.Time) []interface{}) func(runtime.Object, time.Time) []interface{} {
	return func(obj runtime.Object, now time.Time) []interface{} {
		o, ok := any(obj).(*T)
		if !ok || o == nil {
			o = new(T)
		}
		return f(o, now)
	}
}

func isNil(obj runtime.Object) bool {
	if obj == nil {
		return true
	}
	v := reflect.ValueOf(obj)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// age is the AGE cell: how long before now t was, or "<unknown>".
func age(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// microAge is age for MicroTime fields.
func microAge(t metav1.MicroTime, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// orDefault returns s, or def when s is empty. kube-apiserver defaults these
// fields before anything is stored, so its printers never see them empty;
// showing the default keeps skiff's output identical for the same input.
func orDefault[S ~string](s S, def S) string {
	if s == "" {
		return string(def)
	}
	return string(s)
}

// replicas dereferences a replicas field, which kube defaults to 1.
func replicas(r *int32) int64 {
	if r == nil {
		return 1
	}
	return int64(*r)
}

// withMore joins up to three items and says how many were left out, the
// way kube's printers abbreviate lists ("a,b,c + 2 more...").
func withMore(list []string, total int) string {
	s := strings.Join(list, ",")
	if total > len(list) {
		return fmt.Sprintf("%s + %d more...", s, total-len(list))
	}
	return s
}
