package validation

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// --- Ingress ---------------------------------------------------------------

const annotationIngressClass = "kubernetes.io/ingress.class"

var (
	supportedPathTypes    = sets.New(networkingv1.PathTypeExact, networkingv1.PathTypePrefix, networkingv1.PathTypeImplementationSpecific)
	invalidPathSequences  = []string{"//", "/./", "/../", "%2f", "%2F"}
	invalidPathSuffixes   = []string{"/..", "/."}
	ingressBackendMissing = "resource or service backend is required"
)

// ingressOpts relaxes checks on update for values an older server accepted.
type ingressOpts struct {
	allowInvalidSecretName       bool
	allowInvalidWildcardHostRule bool
}

func validateIngressCreate(ing *networkingv1.Ingress) field.ErrorList {
	errs := validateIngress(ing, ingressOpts{})
	if v, ok := ing.Annotations[annotationIngressClass]; ok && ing.Spec.IngressClassName != nil && v != *ing.Spec.IngressClassName {
		// kube builds this path with Child, so the key's dots show as-is.
		errs = append(errs, field.Invalid(field.NewPath("annotations").Child(annotationIngressClass), v, "must match `ingressClassName` when both are specified"))
	}
	return errs
}

func validateIngressUpdate(ing, old *networkingv1.Ingress) field.ErrorList {
	errs := metaUpdate(&ing.ObjectMeta, &old.ObjectMeta)
	opts := ingressOpts{
		allowInvalidSecretName:       len(ingressTLS(&old.Spec, field.NewPath("spec", "tls"), ingressOpts{})) > 0,
		allowInvalidWildcardHostRule: len(ingressRules(old.Spec.Rules, field.NewPath("spec", "rules"), ingressOpts{})) > 0,
	}
	return append(errs, validateIngress(ing, opts)...)
}

func validateIngress(ing *networkingv1.Ingress, opts ingressOpts) field.ErrorList {
	errs := objectMeta(&ing.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, metaPath)
	s := &ing.Spec
	if len(s.Rules) == 0 && s.DefaultBackend == nil {
		errs = append(errs, field.Invalid(specPath, s.Rules, "either `defaultBackend` or `rules` must be specified"))
	}
	if s.DefaultBackend != nil {
		errs = append(errs, ingressBackend(s.DefaultBackend, specPath.Child("defaultBackend"))...)
	}
	if len(s.Rules) > 0 {
		errs = append(errs, ingressRules(s.Rules, specPath.Child("rules"), opts)...)
	}
	if len(s.TLS) > 0 {
		errs = append(errs, ingressTLS(s, specPath.Child("tls"), opts)...)
	}
	if s.IngressClassName != nil {
		errs = append(errs, nameErrs(apivalidation.NameIsDNSSubdomain, *s.IngressClassName, specPath.Child("ingressClassName"))...)
	}
	return errs
}

func ingressRules(rules []networkingv1.IngressRule, fldPath *field.Path, opts ingressOpts) field.ErrorList {
	var errs field.ErrorList
	for i, r := range rules {
		p := fldPath.Index(i)
		wildcard := false
		if r.Host != "" {
			hp := p.Child("host")
			if _, err := netip.ParseAddr(r.Host); err == nil {
				errs = append(errs, field.Invalid(hp, r.Host, "must be a DNS name, not an IP address"))
			}
			if strings.Contains(r.Host, "*") {
				for _, msg := range utilvalidation.IsWildcardDNS1123Subdomain(r.Host) {
					errs = append(errs, field.Invalid(hp, r.Host, msg))
				}
				wildcard = true
			} else {
				errs = append(errs, dns1123Subdomain(r.Host, hp)...)
			}
		}
		if (!wildcard || !opts.allowInvalidWildcardHostRule) && r.HTTP != nil {
			hp := p.Child("http")
			if len(r.HTTP.Paths) == 0 {
				errs = append(errs, field.Required(hp.Child("paths"), ""))
			}
			for j := range r.HTTP.Paths {
				errs = append(errs, ingressPath(&r.HTTP.Paths[j], hp.Child("paths").Index(j))...)
			}
		}
	}
	return errs
}

func ingressPath(p *networkingv1.HTTPIngressPath, fldPath *field.Path) field.ErrorList {
	if p.PathType == nil {
		return field.ErrorList{field.Required(fldPath.Child("pathType"), "pathType must be specified")}
	}
	var errs field.ErrorList
	pp := fldPath.Child("path")
	switch *p.PathType {
	case networkingv1.PathTypeExact, networkingv1.PathTypePrefix:
		if !strings.HasPrefix(p.Path, "/") {
			errs = append(errs, field.Invalid(pp, p.Path, "must be an absolute path"))
		}
		if p.Path != "" {
			for _, seq := range invalidPathSequences {
				if strings.Contains(p.Path, seq) {
					errs = append(errs, field.Invalid(pp, p.Path, fmt.Sprintf("must not contain '%s'", seq)))
				}
			}
			for _, suf := range invalidPathSuffixes {
				if strings.HasSuffix(p.Path, suf) {
					errs = append(errs, field.Invalid(pp, p.Path, fmt.Sprintf("cannot end with '%s'", suf)))
				}
			}
		}
	case networkingv1.PathTypeImplementationSpecific:
		if p.Path != "" && !strings.HasPrefix(p.Path, "/") {
			errs = append(errs, field.Invalid(pp, p.Path, "must be an absolute path"))
		}
	default:
		errs = append(errs, field.NotSupported(fldPath.Child("pathType"), *p.PathType, sets.List(supportedPathTypes)))
	}
	return append(errs, ingressBackend(&p.Backend, fldPath.Child("backend"))...)
}

func ingressBackend(b *networkingv1.IngressBackend, fldPath *field.Path) field.ErrorList {
	switch {
	case b.Resource != nil && b.Service != nil:
		return field.ErrorList{field.Invalid(fldPath, "", "cannot set both resource and service backends")}
	case b.Resource != nil:
		return typedLocalObjectReference(b.Resource, fldPath.Child("resource"))
	case b.Service != nil:
		var errs field.ErrorList
		sp := fldPath.Child("service")
		if b.Service.Name == "" {
			errs = append(errs, field.Required(sp.Child("name"), ""))
		} else {
			errs = append(errs, nameErrs(apivalidation.NameIsDNS1035Label, b.Service.Name, sp.Child("name"))...)
		}
		port := b.Service.Port
		switch {
		case port.Name != "" && port.Number != 0:
			errs = append(errs, field.Invalid(fldPath, "", "cannot set both port name & port number"))
		case port.Name != "":
			for _, msg := range utilvalidation.IsValidPortName(port.Name) {
				errs = append(errs, field.Invalid(sp.Child("port", "name"), port.Name, msg))
			}
		case port.Number != 0:
			for _, msg := range utilvalidation.IsValidPortNum(int(port.Number)) {
				errs = append(errs, field.Invalid(sp.Child("port", "number"), port.Number, msg))
			}
		default:
			errs = append(errs, field.Required(fldPath, "port name or number is required"))
		}
		return errs
	default:
		return field.ErrorList{field.Invalid(fldPath, "", ingressBackendMissing)}
	}
}

func typedLocalObjectReference(r *corev1.TypedLocalObjectReference, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if r.APIGroup != nil {
		errs = append(errs, dns1123Subdomain(*r.APIGroup, fldPath.Child("apiGroup"))...)
	}
	if r.Kind == "" {
		errs = append(errs, field.Required(fldPath.Child("kind"), "kind is required"))
	} else {
		for _, msg := range content.IsPathSegmentName(r.Kind) {
			errs = append(errs, field.Invalid(fldPath.Child("kind"), r.Kind, msg))
		}
	}
	if r.Name == "" {
		errs = append(errs, field.Required(fldPath.Child("name"), "name is required"))
	} else {
		for _, msg := range content.IsPathSegmentName(r.Name) {
			errs = append(errs, field.Invalid(fldPath.Child("name"), r.Name, msg))
		}
	}
	return errs
}

func ingressTLS(s *networkingv1.IngressSpec, fldPath *field.Path, opts ingressOpts) field.ErrorList {
	var errs field.ErrorList
	for i, t := range s.TLS {
		for j, h := range t.Hosts {
			hp := fldPath.Index(i).Child("hosts").Index(j)
			if strings.Contains(h, "*") {
				for _, msg := range utilvalidation.IsWildcardDNS1123Subdomain(h) {
					errs = append(errs, field.Invalid(hp, h, msg))
				}
				continue
			}
			errs = append(errs, dns1123Subdomain(h, hp)...)
		}
		if !opts.allowInvalidSecretName && t.SecretName != "" {
			errs = append(errs, nameErrs(apivalidation.NameIsDNSSubdomain, t.SecretName, fldPath.Index(i).Child("secretName"))...)
		}
	}
	return errs
}

// --- EndpointSlice ---------------------------------------------------------

// Limits kube puts on EndpointSlices to keep them small enough to watch.
const (
	maxEndpoints      = 1000
	maxAddresses      = 100
	maxPorts          = 20000
	maxTopologyLabels = 16
	maxZoneHints      = 8
	maxNodeHints      = 8
)

var supportedAddressTypes = sets.New(discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6, discoveryv1.AddressTypeFQDN)

func validateEndpointSlice(s, old *discoveryv1.EndpointSlice) field.ErrorList {
	errs := objectMeta(&s.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, metaPath)
	ap := field.NewPath("addressType")
	if s.AddressType == "" {
		errs = append(errs, field.Required(ap, ""))
	} else if !supportedAddressTypes.Has(s.AddressType) {
		errs = append(errs, field.NotSupported(ap, s.AddressType, sets.List(supportedAddressTypes)))
	}
	errs = append(errs, sliceEndpoints(s.Endpoints, s.AddressType, field.NewPath("endpoints"))...)
	return append(errs, slicePorts(s.Ports, field.NewPath("ports"))...)
}

func validateEndpointSliceUpdate(s, old *discoveryv1.EndpointSlice) field.ErrorList {
	errs := metaUpdate(&s.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateEndpointSlice(s, old)...)
	return append(errs, immutable(s.AddressType, old.AddressType, field.NewPath("addressType"))...)
}

func sliceEndpoints(eps []discoveryv1.Endpoint, addrType discoveryv1.AddressType, fldPath *field.Path) field.ErrorList {
	if len(eps) > maxEndpoints {
		return field.ErrorList{field.TooMany(fldPath, len(eps), maxEndpoints)}
	}
	var errs field.ErrorList
	for i, ep := range eps {
		p := fldPath.Index(i)
		ap := p.Child("addresses")
		if len(ep.Addresses) == 0 {
			errs = append(errs, field.Required(ap, "must contain at least 1 address"))
		} else if len(ep.Addresses) > maxAddresses {
			errs = append(errs, field.TooMany(ap, len(ep.Addresses), maxAddresses))
		}
		for j, a := range ep.Addresses {
			errs = append(errs, sliceAddress(a, addrType, ap, j)...)
		}
		if ep.NodeName != nil {
			errs = append(errs, nameErrs(apivalidation.NameIsDNSSubdomain, *ep.NodeName, p.Child("nodeName"))...)
		}
		tp := p.Child("deprecatedTopology")
		if len(ep.DeprecatedTopology) > maxTopologyLabels {
			errs = append(errs, field.TooMany(tp, len(ep.DeprecatedTopology), maxTopologyLabels))
		}
		if ep.Hostname != nil {
			errs = append(errs, dns1123Label(*ep.Hostname, p.Child("hostname"))...)
		}
		if h := ep.Hints; h != nil {
			hp := p.Child("hints")
			if len(h.ForZones) > maxZoneHints {
				errs = append(errs, field.TooMany(hp.Child("forZones"), len(h.ForZones), maxZoneHints))
			}
			zones := sets.New[string]()
			for j, z := range h.ForZones {
				zp := hp.Child("forZones").Index(j).Child("name")
				if zones.Has(z.Name) {
					errs = append(errs, field.Duplicate(zp, z.Name))
				}
				zones.Insert(z.Name)
				for _, msg := range content.IsLabelValue(z.Name) {
					errs = append(errs, field.Invalid(zp, z.Name, msg))
				}
			}
			if len(h.ForNodes) > maxNodeHints {
				errs = append(errs, field.TooMany(hp.Child("forNodes"), len(h.ForNodes), maxNodeHints))
			}
			nodes := sets.New[string]()
			for j, n := range h.ForNodes {
				np := hp.Child("forNodes").Index(j).Child("name")
				if nodes.Has(n.Name) {
					errs = append(errs, field.Duplicate(np, n.Name))
				}
				nodes.Insert(n.Name)
				errs = append(errs, nameErrs(apivalidation.NameIsDNSSubdomain, n.Name, np)...)
			}
		}
	}
	return errs
}

// sliceAddress checks addresses[i]; kube reports a wrong family on the list.
func sliceAddress(a string, addrType discoveryv1.AddressType, listPath *field.Path, i int) field.ErrorList {
	fldPath := listPath.Index(i)
	switch addrType {
	case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6:
		if errs := utilvalidation.IsValidIP(fldPath, a); len(errs) > 0 {
			return errs
		}
		var errs field.ErrorList
		addr, _ := netip.ParseAddr(a)
		if addrType == discoveryv1.AddressTypeIPv4 && !addr.Is4() {
			errs = append(errs, field.Invalid(listPath, a, "must be an IPv4 address"))
		}
		if addrType == discoveryv1.AddressTypeIPv6 && !addr.Is6() {
			errs = append(errs, field.Invalid(listPath, a, "must be an IPv6 address"))
		}
		return append(errs, nonSpecialIP(a, fldPath)...)
	case discoveryv1.AddressTypeFQDN:
		return utilvalidation.IsFullyQualifiedDomainName(fldPath, a)
	}
	// Unknown types are reported on addressType already.
	return nil
}

func slicePorts(ports []discoveryv1.EndpointPort, fldPath *field.Path) field.ErrorList {
	if len(ports) > maxPorts {
		return field.ErrorList{field.TooMany(fldPath, len(ports), maxPorts)}
	}
	var errs field.ErrorList
	names := sets.New[string]()
	for i, port := range ports {
		p := fldPath.Index(i)
		name := ""
		if port.Name != nil {
			name = *port.Name
		}
		if name != "" {
			errs = append(errs, dns1123Label(name, p.Child("name"))...)
		}
		if names.Has(name) {
			errs = append(errs, field.Duplicate(p.Child("name"), name))
		} else {
			names.Insert(name)
		}
		if port.Protocol == nil {
			errs = append(errs, field.Required(p.Child("protocol"), ""))
		} else if !supportedPortProtocols.Has(*port.Protocol) {
			errs = append(errs, field.NotSupported(p.Child("protocol"), *port.Protocol, sets.List(supportedPortProtocols)))
		}
		if port.AppProtocol != nil {
			errs = append(errs, qualifiedName(*port.AppProtocol, p.Child("appProtocol"))...)
		}
	}
	return errs
}

// --- Lease -----------------------------------------------------------------

var validLeaseStrategies = []coordinationv1.CoordinatedLeaseStrategy{coordinationv1.OldestEmulationVersion}

// validateLease checks the metadata with apimachinery's rules, which unlike
// core's accept any qualified finalizer name.
func validateLease(l *coordinationv1.Lease) field.ErrorList {
	errs := apivalidation.ValidateObjectMeta(&l.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, metaPath)
	return append(errs, leaseSpec(&l.Spec)...)
}

func leaseSpec(s *coordinationv1.LeaseSpec) field.ErrorList {
	var errs field.ErrorList
	if s.LeaseDurationSeconds != nil && *s.LeaseDurationSeconds <= 0 {
		errs = append(errs, field.Invalid(specPath.Child("leaseDurationSeconds"), s.LeaseDurationSeconds, "must be greater than 0"))
	}
	if s.LeaseTransitions != nil && *s.LeaseTransitions < 0 {
		errs = append(errs, field.Invalid(specPath.Child("leaseTransitions"), s.LeaseTransitions, "must be greater than or equal to 0"))
	}
	if s.Strategy != nil {
		sp := specPath.Child("strategy")
		if !strings.Contains(string(*s.Strategy), "/") {
			// Unprefixed strategies are reserved for Kubernetes.
			if !slices.Contains(validLeaseStrategies, *s.Strategy) {
				errs = append(errs, field.NotSupported(sp, *s.Strategy, validLeaseStrategies))
			}
		} else {
			errs = append(errs, qualifiedName(string(*s.Strategy), sp)...)
		}
	}
	if s.PreferredHolder != nil && *s.PreferredHolder != "" && (s.Strategy == nil || *s.Strategy == "") {
		errs = append(errs, field.Forbidden(specPath.Child("preferredHolder"), "may only be specified if `strategy` is defined"))
	}
	return errs
}

// --- events.k8s.io/v1 Event ------------------------------------------------

// validateEventsV1 applies kube's strict event validation. kube runs it on
// the internal core Event, so the paths use the core field names
// (involvedObject, message, firstTimestamp…) rather than regarding, note,
// deprecatedFirstTimestamp; we report the same paths.
func validateEventsV1(e *eventsv1.Event) field.ErrorList {
	errs := objectMeta(&e.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, metaPath)
	errs = append(errs, eventsV1Legacy(e)...)
	errs = append(errs, eventSeries(e.Series)...)
	if e.EventTime.IsZero() {
		errs = append(errs, field.Required(field.NewPath("eventTime"), ""))
	}
	if e.Type != corev1.EventTypeNormal && e.Type != corev1.EventTypeWarning {
		errs = append(errs, field.Invalid(field.NewPath("type"), "", fmt.Sprintf("has invalid value: %v", e.Type)))
	}
	if !e.DeprecatedFirstTimestamp.IsZero() {
		errs = append(errs, field.Invalid(field.NewPath("firstTimestamp"), "", "needs to be unset"))
	}
	if !e.DeprecatedLastTimestamp.IsZero() {
		errs = append(errs, field.Invalid(field.NewPath("lastTimestamp"), "", "needs to be unset"))
	}
	if e.DeprecatedCount != 0 {
		errs = append(errs, field.Invalid(field.NewPath("count"), "", "needs to be unset"))
	}
	if e.DeprecatedSource.Component != "" || e.DeprecatedSource.Host != "" {
		errs = append(errs, field.Invalid(field.NewPath("source"), "", "needs to be unset"))
	}
	return errs
}

func eventsV1Legacy(e *eventsv1.Event) field.ErrorList {
	errs := eventNamespaceMatches(e.Namespace, e.Regarding.Namespace, !e.EventTime.IsZero())
	if !e.EventTime.IsZero() {
		errs = append(errs, eventReportingFields(e.ReportingController, e.ReportingInstance, e.Action, e.Reason, e.Note, "reportingController")...)
	}
	return errs
}

func eventSeries(s *eventsv1.EventSeries) field.ErrorList {
	if s == nil {
		return nil
	}
	var errs field.ErrorList
	if s.Count < 2 {
		errs = append(errs, field.Invalid(field.NewPath("series.count"), "", "should be at least 2"))
	}
	if s.LastObservedTime.IsZero() {
		errs = append(errs, field.Required(field.NewPath("series.lastObservedTime"), ""))
	}
	return errs
}

func validateEventsV1Update(e, old *eventsv1.Event) field.ErrorList {
	errs := eventsV1Legacy(e)
	errs = append(errs, metaUpdate(&e.ObjectMeta, &old.ObjectMeta)...)
	if !semanticEqual(e.Series, old.Series) {
		errs = append(errs, eventSeries(e.Series)...)
	}
	errs = append(errs, immutable(e.Regarding, old.Regarding, field.NewPath("involvedObject"))...)
	errs = append(errs, immutable(e.Reason, old.Reason, field.NewPath("reason"))...)
	errs = append(errs, immutable(e.Note, old.Note, field.NewPath("message"))...)
	errs = append(errs, immutable(e.DeprecatedSource, old.DeprecatedSource, field.NewPath("source"))...)
	errs = append(errs, immutable(e.DeprecatedFirstTimestamp, old.DeprecatedFirstTimestamp, field.NewPath("firstTimestamp"))...)
	errs = append(errs, immutable(e.DeprecatedLastTimestamp, old.DeprecatedLastTimestamp, field.NewPath("lastTimestamp"))...)
	errs = append(errs, immutable(e.DeprecatedCount, old.DeprecatedCount, field.NewPath("count"))...)
	errs = append(errs, immutable(e.Type, old.Type, field.NewPath("type"))...)
	errs = append(errs, immutable(e.EventTime, old.EventTime, field.NewPath("eventTime"))...)
	errs = append(errs, immutable(e.Action, old.Action, field.NewPath("action"))...)
	errs = append(errs, immutable(e.Related, old.Related, field.NewPath("related"))...)
	errs = append(errs, immutable(e.ReportingController, old.ReportingController, field.NewPath("reportingController"))...)
	errs = append(errs, immutable(e.ReportingInstance, old.ReportingInstance, field.NewPath("reportingInstance"))...)
	return errs
}
