package apiserver

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"

	"github.com/skiff-io/skiff/server/errdefs"
	"github.com/skiff-io/skiff/server/storage"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const (
	ipKeyPrefix   = "/registry/ranges/serviceips/"
	portKeyPrefix = "/registry/ranges/servicenodeports/"
)

// allocator hands out Service ClusterIPs and NodePorts. Each allocation is
// a key created only if absent, so two servers on one etcd never hand out
// the same address.
type allocator struct {
	store          *storage.Store
	base           uint32
	size           uint32
	cidr           *net.IPNet
	portLo, portHi int
}

func newAllocator(s *storage.Store, cidr, ports string) (*allocator, error) {
	if cidr == "" {
		cidr = "10.43.0.0/16"
	}
	_, n, err := net.ParseCIDR(cidr)
	if err != nil || n.IP.To4() == nil {
		return nil, fmt.Errorf("invalid service CIDR %q: an IPv4 CIDR is required", cidr)
	}
	ones, bits := n.Mask.Size()
	if bits-ones < 2 || bits-ones > 24 {
		return nil, fmt.Errorf("invalid service CIDR %q: prefix must be between /8 and /30", cidr)
	}
	a := &allocator{store: s, cidr: n, base: binary.BigEndian.Uint32(n.IP.To4()), size: 1 << (bits - ones)}
	if ports == "" {
		ports = "30000-32767"
	}
	lo, hi, ok := strings.Cut(ports, "-")
	if a.portLo, err = strconv.Atoi(lo); err != nil || !ok {
		return nil, fmt.Errorf("invalid node port range %q", ports)
	}
	if a.portHi, err = strconv.Atoi(hi); err != nil || a.portHi < a.portLo {
		return nil, fmt.Errorf("invalid node port range %q", ports)
	}
	return a, nil
}

// KubernetesServiceIP is the first usable address, kept for the
// "kubernetes" Service.
func (a *allocator) KubernetesServiceIP() string { return a.ip(1) }

func (a *allocator) ip(off uint32) string {
	b := make([]byte, 4)
	binary.BigEndian.PutUint32(b, a.base+off)
	return net.IP(b).String()
}

// allocateService fills in and reserves the ClusterIP and NodePorts of a
// Service being created. On error nothing stays reserved.
func (a *allocator) allocateService(ctx context.Context, svc *corev1.Service, owner string, dryRun bool) (release func(), err error) {
	var taken []string
	release = func() {
		for _, k := range taken {
			a.free(k)
		}
	}
	defer func() {
		if err != nil {
			release()
		}
	}()
	if svc.Spec.Type != corev1.ServiceTypeExternalName && svc.Spec.ClusterIP != corev1.ClusterIPNone {
		if svc.Spec.ClusterIP == "" {
			if dryRun {
				svc.Spec.ClusterIP = a.ip(2)
			} else {
				ip, err := a.allocateIP(ctx, owner)
				if err != nil {
					return release, err
				}
				taken = append(taken, ipKeyPrefix+ip)
				svc.Spec.ClusterIP = ip
			}
		} else {
			ip := net.ParseIP(svc.Spec.ClusterIP)
			if ip == nil || !a.cidr.Contains(ip) {
				return release, apierrors.NewInvalid(schema.GroupKind{Kind: "Service"}, svc.Name, field.ErrorList{
					field.Invalid(field.NewPath("spec", "clusterIPs").Index(0), svc.Spec.ClusterIP, fmt.Sprintf("failed to allocate IP %s: the provided IP (%s) is not in the valid range. The range of valid IPs is %s", svc.Spec.ClusterIP, svc.Spec.ClusterIP, a.cidr))})
			}
			if !dryRun {
				if err := a.reserve(ctx, ipKeyPrefix+ip.String(), owner); err != nil {
					return release, apierrors.NewInvalid(schema.GroupKind{Kind: "Service"}, svc.Name, field.ErrorList{
						field.Invalid(field.NewPath("spec", "clusterIPs").Index(0), svc.Spec.ClusterIP, "failed to allocate IP "+svc.Spec.ClusterIP+": provided IP is already allocated")})
				}
				taken = append(taken, ipKeyPrefix+ip.String())
			}
		}
		svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
	}
	if svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		for i := range svc.Spec.Ports {
			p := &svc.Spec.Ports[i]
			if p.NodePort != 0 {
				if p.NodePort < int32(a.portLo) || p.NodePort > int32(a.portHi) {
					return release, apierrors.NewInvalid(schema.GroupKind{Kind: "Service"}, svc.Name, field.ErrorList{
						field.Invalid(field.NewPath("spec", "ports").Index(i).Child("nodePort"), p.NodePort, fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", a.portLo, a.portHi))})
				}
				if !dryRun {
					k := portKeyPrefix + strconv.Itoa(int(p.NodePort))
					if err := a.reserve(ctx, k, owner); err != nil {
						return release, apierrors.NewInvalid(schema.GroupKind{Kind: "Service"}, svc.Name, field.ErrorList{
							field.Invalid(field.NewPath("spec", "ports").Index(i).Child("nodePort"), p.NodePort, "provided port is already allocated")})
					}
					taken = append(taken, k)
				}
				continue
			}
			port, err := a.allocatePort(ctx, owner, dryRun)
			if err != nil {
				return release, err
			}
			if !dryRun {
				taken = append(taken, portKeyPrefix+strconv.Itoa(port))
			}
			p.NodePort = int32(port)
		}
	}
	return release, nil
}

// releaseService frees what a deleted Service held.
func (a *allocator) releaseService(svc *corev1.Service) {
	if ip := net.ParseIP(svc.Spec.ClusterIP); ip != nil && a.cidr.Contains(ip) {
		a.free(ipKeyPrefix + ip.String())
	}
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			a.free(portKeyPrefix + strconv.Itoa(int(p.NodePort)))
		}
	}
}

func (a *allocator) reserve(ctx context.Context, key, owner string) error {
	_, err := a.store.Create(ctx, key, []byte(owner), 0)
	return err
}

func (a *allocator) free(key string) {
	kv, _, err := a.store.Get(context.Background(), key)
	if err == nil {
		_, _, _ = a.store.Delete(context.Background(), key, kv.ModRevision)
	}
}

func (a *allocator) allocateIP(ctx context.Context, owner string) (string, error) {
	// Offsets 0 (network), 1 (the kubernetes Service) and the broadcast
	// address are never handed out. Start at a random offset so that
	// concurrent creates rarely collide.
	usable := a.size - 3
	start := rand.Uint32N(usable)
	for i := uint32(0); i < usable; i++ {
		ip := a.ip(2 + (start+i)%usable)
		err := a.reserve(ctx, ipKeyPrefix+ip, owner)
		if err == nil {
			return ip, nil
		}
		if !errors.Is(err, errdefs.ErrAlreadyExists) {
			return "", err
		}
	}
	return "", apierrors.NewInternalError(fmt.Errorf("failed to allocate a serviceIP: range is full"))
}

func (a *allocator) allocatePort(ctx context.Context, owner string, dryRun bool) (int, error) {
	n := a.portHi - a.portLo + 1
	start := rand.IntN(n)
	for i := 0; i < n; i++ {
		port := a.portLo + (start+i)%n
		if dryRun {
			return port, nil
		}
		err := a.reserve(ctx, portKeyPrefix+strconv.Itoa(port), owner)
		if err == nil {
			return port, nil
		}
		if !errors.Is(err, errdefs.ErrAlreadyExists) {
			return 0, err
		}
	}
	return 0, apierrors.NewInternalError(fmt.Errorf("failed to allocate a nodePort: range is full"))
}
