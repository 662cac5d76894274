package nodejoin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/skiff-io/skiff/protocol"
	"github.com/skiff-io/skiff/server/errdefs"
	"github.com/skiff-io/skiff/server/storage"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/klog/v2"
)

// CertValidity is how long a node certificate lasts; agents join again to
// renew it well before it ends.
const CertValidity = 365 * 24 * time.Hour

// podCIDRPrefix holds pod CIDR reservations: one key per allocated range,
// created only if absent, whose value is the node's name (so two servers
// on one etcd never hand out the same range).
const podCIDRPrefix = "/registry/ranges/podcidrs/"

// Signer signs a node's certificate request.
type Signer interface {
	SignClientCSR(csrPEM []byte, cn string, orgs []string, validity time.Duration) ([]byte, error)
}

// API is the server's own API (loopback, admin): Nodes and the node
// password Secrets.
type API interface {
	GetNode(ctx context.Context, name string) (*corev1.Node, error)
	CreateNode(ctx context.Context, n *corev1.Node) (*corev1.Node, error)
	UpdateNode(ctx context.Context, n *corev1.Node) (*corev1.Node, error)
	ListNodes(ctx context.Context) ([]corev1.Node, error)
	GetSecret(ctx context.Context, namespace, name string) (*corev1.Secret, error)
	CreateSecret(ctx context.Context, s *corev1.Secret) (*corev1.Secret, error)
}

// Config is what the join endpoint needs.
type Config struct {
	CACertPEM   []byte
	Token       string // the server's full join token
	Signer      Signer
	API         API
	Store       *storage.Store
	ClusterCIDR string // 10.42.0.0/16
	ServiceCIDR string
	NodeMask    int // 24
}

// Handler serves /cacerts and /skiff/v1/join.
type Handler struct {
	cfg     Config
	secret  string
	cluster *net.IPNet
	mu      sync.Mutex // joins are rare; one at a time keeps allocation simple
}

// New checks the configuration.
func New(cfg Config) (*Handler, error) {
	_, _, secret, err := protocol.ParseToken(cfg.Token)
	if err != nil {
		return nil, fmt.Errorf("join token: %w", err)
	}
	if cfg.NodeMask == 0 {
		cfg.NodeMask = 24
	}
	_, cluster, err := net.ParseCIDR(cfg.ClusterCIDR)
	if err != nil || cluster.IP.To4() == nil {
		return nil, fmt.Errorf("--cluster-cidr %q: an IPv4 CIDR such as 10.42.0.0/16 is required", cfg.ClusterCIDR)
	}
	if ones, _ := cluster.Mask.Size(); ones > cfg.NodeMask {
		return nil, fmt.Errorf("--cluster-cidr %q is smaller than one node's /%d", cfg.ClusterCIDR, cfg.NodeMask)
	}
	return &Handler{cfg: cfg, secret: secret, cluster: cluster}, nil
}

// ServeCACerts answers /cacerts without credentials.
func (h *Handler) ServeCACerts(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-pem-file")
	_, _ = w.Write(h.cfg.CACertPEM)
}

// ServeJoin answers /skiff/v1/join.
func (h *Handler) ServeJoin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		plain(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	if !h.tokenOK(r) {
		plain(w, http.StatusUnauthorized, "the join token is not this server's")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		plain(w, http.StatusBadRequest, "reading the request: %v", err)
		return
	}
	var req protocol.JoinRequest
	if err := json.Unmarshal(body, &req); err != nil {
		plain(w, http.StatusBadRequest, "decoding the join request: %v", err)
		return
	}
	resp, code, err := h.join(r.Context(), &req)
	if err != nil {
		if code == http.StatusInternalServerError {
			klog.ErrorS(err, "node join failed", "node", req.Node.Name)
		}
		plain(w, code, "%v", err)
		return
	}
	b, _ := json.Marshal(resp)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func (h *Handler) tokenOK(r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "Bearer ") {
		return false
	}
	_, _, secret, err := protocol.ParseToken(strings.TrimSpace(strings.TrimPrefix(auth, "Bearer ")))
	return err == nil && subtle.ConstantTimeCompare([]byte(secret), []byte(h.secret)) == 1
}

func (h *Handler) join(ctx context.Context, req *protocol.JoinRequest) (*protocol.JoinResponse, int, error) {
	name := req.Node.Name
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		return nil, http.StatusBadRequest, fmt.Errorf("node name %q is not valid: %s", name, strings.Join(msgs, "; "))
	}
	if len(req.Password) < 16 {
		return nil, http.StatusBadRequest, errors.New("the node password is missing or too short")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if code, err := h.checkPassword(ctx, name, req.Password); err != nil {
		return nil, code, err
	}
	node, err := h.register(ctx, &req.Node)
	if err != nil {
		return nil, http.StatusInternalServerError, err
	}
	cert, err := h.cfg.Signer.SignClientCSR(req.CSR, protocol.NodeUserPrefix+name, []string{protocol.NodesGroup}, CertValidity)
	if err != nil {
		return nil, http.StatusBadRequest, err
	}
	klog.InfoS("node joined", "node", name, "podCIDR", node.Spec.PodCIDR)
	return &protocol.JoinResponse{
		APIVersion: protocol.APIVersion, Certificate: cert, CA: h.cfg.CACertPEM,
		PodCIDR: node.Spec.PodCIDR, ClusterCIDR: h.cfg.ClusterCIDR, ServiceCIDR: h.cfg.ServiceCIDR,
	}, 0, nil
}

// PasswordSecret names the Secret in kube-system that holds a node's
// password hash. Deleting it lets another machine take the node name.
func PasswordSecret(node string) string { return node + ".node-password.skiff" }

func (h *Handler) checkPassword(ctx context.Context, node, password string) (int, error) {
	sum := sha256.Sum256([]byte(password))
	hash := hex.EncodeToString(sum[:])
	name := PasswordSecret(node)
	s, err := h.cfg.API.GetSecret(ctx, metav1.NamespaceSystem, name)
	if apierrors.IsNotFound(err) {
		_, err = h.cfg.API.CreateSecret(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: metav1.NamespaceSystem},
			Type:       "skiff.io/node-password",
			Data:       map[string][]byte{"hash": []byte(hash)},
		})
		if err != nil {
			return http.StatusInternalServerError, fmt.Errorf("recording the node password: %w", err)
		}
		return 0, nil
	}
	if err != nil {
		return http.StatusInternalServerError, fmt.Errorf("reading the node password: %w", err)
	}
	if subtle.ConstantTimeCompare(s.Data["hash"], []byte(hash)) != 1 {
		return http.StatusForbidden, fmt.Errorf("node name %q belongs to another machine (its node password differs); delete Secret kube-system/%s to give the name to this one", node, name)
	}
	return 0, nil
}

// register creates the Node on its first join (labels, taints, addresses
// from the agent) and makes sure it has a pod CIDR.
func (h *Handler) register(ctx context.Context, want *corev1.Node) (*corev1.Node, error) {
	n, err := h.cfg.API.GetNode(ctx, want.Name)
	missing := apierrors.IsNotFound(err)
	if err != nil && !missing {
		return nil, err
	}
	if !missing && n.Spec.PodCIDR != "" {
		return n, nil
	}
	cidr, err := h.allocate(ctx, want.Name)
	if err != nil {
		return nil, err
	}
	if missing {
		fresh := want.DeepCopy()
		fresh.ResourceVersion, fresh.UID = "", ""
		fresh.Spec.PodCIDR, fresh.Spec.PodCIDRs = cidr, []string{cidr}
		created, err := h.cfg.API.CreateNode(ctx, fresh)
		if apierrors.IsAlreadyExists(err) {
			return h.register(ctx, want)
		}
		return created, err
	}
	n = n.DeepCopy()
	n.Spec.PodCIDR, n.Spec.PodCIDRs = cidr, []string{cidr}
	return h.cfg.API.UpdateNode(ctx, n)
}

// allocate returns the node's pod CIDR: the range already reserved for
// it, or the first free one. A reservation whose node no longer exists is
// taken over.
func (h *Handler) allocate(ctx context.Context, node string) (string, error) {
	page, err := h.cfg.Store.List(ctx, podCIDRPrefix, podCIDRPrefix[:len(podCIDRPrefix)-1]+"0", 0, 0)
	if err != nil {
		return "", err
	}
	taken := map[string]storage.KV{}
	for _, kv := range page.KVs {
		cidr := keyToCIDR(strings.TrimPrefix(kv.Key, podCIDRPrefix))
		if string(kv.Value) == node {
			return cidr, nil
		}
		taken[cidr] = kv
	}
	nodes, err := h.cfg.API.ListNodes(ctx)
	if err != nil {
		return "", err
	}
	exists := map[string]bool{}
	for _, n := range nodes {
		exists[n.Name] = true
	}
	ones, _ := h.cluster.Mask.Size()
	count := uint32(1) << (h.cfg.NodeMask - ones)
	base := binary.BigEndian.Uint32(h.cluster.IP.To4())
	step := uint32(1) << (32 - h.cfg.NodeMask)
	for i := uint32(0); i < count; i++ {
		ip := make(net.IP, 4)
		binary.BigEndian.PutUint32(ip, base+i*step)
		cidr := fmt.Sprintf("%s/%d", ip, h.cfg.NodeMask)
		key := podCIDRPrefix + cidrToKey(cidr)
		if kv, ok := taken[cidr]; ok {
			if exists[string(kv.Value)] {
				continue
			}
			if _, _, err := h.cfg.Store.Update(ctx, key, []byte(node), kv.ModRevision, 0); err == nil {
				return cidr, nil
			} else if !errors.Is(err, errdefs.ErrConflict) && !errors.Is(err, errdefs.ErrNotFound) {
				return "", err
			}
			continue
		}
		if _, err := h.cfg.Store.Create(ctx, key, []byte(node), 0); err == nil {
			return cidr, nil
		} else if !errors.Is(err, errdefs.ErrAlreadyExists) {
			return "", err
		}
	}
	return "", fmt.Errorf("no free /%d left in --cluster-cidr %s", h.cfg.NodeMask, h.cfg.ClusterCIDR)
}

func cidrToKey(c string) string { return strings.ReplaceAll(c, "/", "-") }
func keyToCIDR(k string) string {
	if i := strings.LastIndex(k, "-"); i >= 0 {
		return k[:i] + "/" + k[i+1:]
	}
	return k
}

func plain(w http.ResponseWriter, code int, format string, args ...any) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = fmt.Fprintf(w, format+"\n", args...)
}
