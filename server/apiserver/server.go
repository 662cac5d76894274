package apiserver

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync"
	"time"

	"github.com/skiff-io/skiff/server/openapi"
	"github.com/skiff-io/skiff/server/storage"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/klog/v2"
)

// User is an authenticated caller.
type User struct {
	Name   string
	Groups []string
}

// TokenAuthenticator checks bearer tokens (service account tokens, node
// credentials). ok is false when the token is not one it knows.
type TokenAuthenticator interface {
	AuthenticateToken(ctx context.Context, token string) (u *User, ok bool, err error)
}

// MastersGroup is the group whose members may do everything; the
// Authorizer is not asked about them.
const MastersGroup = "system:masters"

// Attributes describe a resource request for authorization.
type Attributes struct {
	User *User
	// Verb is get, list, watch, create, update, patch, delete or
	// deletecollection.
	Verb        string
	Resource    schema.GroupResource
	Namespace   string
	Name        string
	Subresource string
	// FieldSelector is the request's fieldSelector: Everything when there
	// is none, Nothing when it does not parse (the request then fails
	// with 400 once authorized).
	FieldSelector fields.Selector
	// LabelSelector is the raw labelSelector parameter.
	LabelSelector string
	// NewName is, for a create by a user outside system:masters, the
	// metadata.name of the object in the body: "" when the name is to be
	// generated or the body does not decode. The URL of a create names no
	// object, and rules that limit a caller to its own object need this.
	NewName string
}

// Authorizer decides whether a user outside system:masters may perform a
// request; reason, when not empty, ends the 403 message. Without an
// Authorizer only system:masters may do anything.
type Authorizer interface {
	Authorize(a Attributes) (allowed bool, reason string)
}

// Config is what the API server needs from its owner.
type Config struct {
	Store   *storage.Store
	Version version.Info
	// ServiceCIDR is where ClusterIPs are allocated from (10.43.0.0/16).
	ServiceCIDR string
	// NodePortRange is the NodePort range, "30000-32767".
	NodePortRange string
	Tokens        TokenAuthenticator
	Authorizer    Authorizer
	// TokenIssuer serves serviceaccounts/<name>/token (503 when nil).
	TokenIssuer TokenIssuer
	// Profiling serves /debug/pprof to admins (system:masters).
	Profiling bool
	// Ready reports whether the server can serve (datastore reachable).
	Ready func(ctx context.Context) error
	// Nodes reaches agents for pods/log, exec, attach and portforward
	// (the tunnel hub); those answer 503 when nil.
	Nodes NodeDialer
}

// Server is the HTTP handler for the Kubernetes API.
type Server struct {
	cfg      Config
	store    *storage.Store
	scheme   *runtime.Scheme
	dec      *decoder
	byGVR    map[schema.GroupVersionResource]*resource
	groups   []groupInfo
	openapi  *openapi.Docs
	alloc    *allocator
	managers *fieldManagers
	nsCache  *namespaceCache
	accounts *prefixCache[accountDigest] // for pod admission
	classes  *prefixCache[classDigest]   // for pod admission
	recent   *recentWrites
	mux      *http.ServeMux
	handlers *handlerPool
}

// groupInfo lists a group's versions and resources for discovery.
type groupInfo struct {
	name      string // "" for core
	version   string
	resources []*resource
}

// New builds the API server.
func New(cfg Config) (*Server, error) {
	s := &Server{
		cfg:    cfg,
		store:  cfg.Store,
		scheme: newScheme(),
		byGVR:  map[schema.GroupVersionResource]*resource{},
	}
	s.dec = newDecoder(s.scheme)
	for _, r := range append(catalogue(), reviewResources()...) {
		s.byGVR[r.gvr()] = r
		found := false
		for i := range s.groups {
			if s.groups[i].name == r.gvk.Group && s.groups[i].version == r.gvk.Version {
				s.groups[i].resources = append(s.groups[i].resources, r)
				found = true
			}
		}
		if !found {
			s.groups = append(s.groups, groupInfo{name: r.gvk.Group, version: r.gvk.Version, resources: []*resource{r}})
		}
	}
	var err error
	if s.alloc, err = newAllocator(cfg.Store, cfg.ServiceCIDR, cfg.NodePortRange); err != nil {
		return nil, err
	}
	s.openapi = openapi.New(s.openapiResources())
	s.managers = newFieldManagers(s.scheme, s.openapi.Models)
	s.nsCache = newNamespaceCache(cfg.Store)
	s.accounts = newPrefixCache(cfg.Store, "/registry/serviceaccounts/", digestAccount)
	s.classes = newPrefixCache(cfg.Store, "/registry/priorityclasses/", digestClass)
	s.recent = newRecentWrites()
	s.mux = http.NewServeMux()
	s.handlers = newHandlerPool()
	s.routes()
	return s, nil
}

// Run keeps the server's caches current until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{s.accounts.run, s.classes.run} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = run(ctx) // returns nil when ctx ends
		}()
	}
	defer wg.Wait()
	return s.nsCache.run(ctx)
}

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("/version", s.serveVersion)
	m.HandleFunc("/version/", s.serveVersion)
	m.HandleFunc("/healthz", s.serveHealth)
	m.HandleFunc("/livez", s.serveHealth)
	m.HandleFunc("/readyz", s.serveHealth)
	m.HandleFunc("/healthz/", s.serveHealth)
	m.HandleFunc("/livez/", s.serveHealth)
	m.HandleFunc("/readyz/", s.serveHealth)
	m.HandleFunc("/api", s.serveCoreVersions)
	m.HandleFunc("/apis", s.serveGroups)
	m.Handle("/openapi/v3", s.openapi)
	m.Handle("/openapi/v3/", s.openapi)
	// Definitions only: kubectl validates against them the kinds it finds
	// no PATCH operation for in v3, the reviews (openapi/v2.go).
	m.HandleFunc("/openapi/v2", s.openapi.ServeV2)
	if s.cfg.Profiling {
		m.HandleFunc("/debug/pprof/", s.adminOnly(pprof.Index))
		m.HandleFunc("/debug/pprof/profile", s.adminOnly(pprof.Profile))
		m.HandleFunc("/debug/pprof/symbol", s.adminOnly(pprof.Symbol))
		m.HandleFunc("/debug/pprof/trace", s.adminOnly(pprof.Trace))
	}
	m.HandleFunc("/api/", s.serveAPI)
	m.HandleFunc("/apis/", s.serveAPI)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			s.serveRootPaths(w, r)
			return
		}
		writeStatus(w, pathNotFound())
	})
}

// publicPaths answer without credentials, as kube-apiserver lets anonymous
// callers read version and health (system:public-info-viewer).
func publicPath(p string) bool {
	switch {
	case p == "/version", p == "/healthz", p == "/livez", p == "/readyz",
		strings.HasPrefix(p, "/healthz/"), strings.HasPrefix(p, "/livez/"), strings.HasPrefix(p, "/readyz/"):
		return true
	}
	return false
}

type userKey struct{}

// ServeHTTP authenticates the request and dispatches it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u, err := s.authenticate(r)
	if err != nil {
		writeStatus(w, &apierrors.NewInternalError(err).ErrStatus)
		return
	}
	if u == nil && !publicPath(r.URL.Path) {
		writeStatus(w, &apierrors.NewUnauthorized("Unauthorized").ErrStatus)
		return
	}
	if u != nil {
		r = r.WithContext(context.WithValue(r.Context(), userKey{}, u))
	}
	if pooled(r) {
		s.handlers.serve(s.mux, w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// isAdmin says whether u is in system:masters.
func isAdmin(u *User) bool {
	if u == nil {
		return false
	}
	for _, g := range u.Groups {
		if g == "system:masters" {
			return true
		}
	}
	return false
}

func userFrom(ctx context.Context) *User {
	u, _ := ctx.Value(userKey{}).(*User)
	return u
}

func (s *Server) authenticate(r *http.Request) (*User, error) {
	if u, ok := r.Context().Value(inProcessUserKey{}).(*User); ok {
		// The server's own clients (InProcess): a copy, as the handlers
		// may add to it.
		return &User{Name: u.Name, Groups: append(append([]string(nil), u.Groups...), "system:authenticated")}, nil
	}
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		c := r.TLS.VerifiedChains[0][0]
		if hasClientAuth(c) && time.Now().Before(c.NotAfter) {
			return &User{Name: c.Subject.CommonName, Groups: append(c.Subject.Organization, "system:authenticated")}, nil
		}
	}
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") && s.cfg.Tokens != nil {
		u, ok, err := s.cfg.Tokens.AuthenticateToken(r.Context(), strings.TrimSpace(strings.TrimPrefix(h, "Bearer ")))
		if err != nil {
			return nil, err
		}
		if ok {
			u.Groups = append(u.Groups, "system:authenticated")
			return u, nil
		}
	}
	return nil, nil
}

// hasClientAuth reports whether c is meant for client authentication. The
// TLS handshake lets a certificate without extended key usages (or with
// "any") through as a client certificate; the API does not: every client
// certificate skiff signs names client auth, and a serving certificate
// must never pass for a user.
func hasClientAuth(c *x509.Certificate) bool {
	for _, u := range c.ExtKeyUsage {
		if u == x509.ExtKeyUsageClientAuth {
			return true
		}
	}
	return false
}

func (s *Server) authorize(a Attributes) (bool, string) {
	if a.User == nil {
		return false, ""
	}
	// Every authenticated user may ask about itself (reviews.go).
	if isMaster(a.User) || isSelfReview(a) {
		return true, ""
	}
	if s.cfg.Authorizer != nil {
		return s.cfg.Authorizer.Authorize(a)
	}
	return false, ""
}

func isMaster(u *User) bool {
	if u == nil {
		return false
	}
	for _, g := range u.Groups {
		if g == MastersGroup {
			return true
		}
	}
	return false
}

// adminOnly serves h to users who may do everything (system:masters):
// profiles show the server's memory and code, which kube-apiserver keeps
// from other users too. The Authorizer is not asked: no rule of it may
// open these paths.
func (s *Server) adminOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u := userFrom(r.Context())
		if !isMaster(u) {
			name := "system:anonymous"
			if u != nil {
				name = u.Name
			}
			writeStatus(w, &apierrors.NewForbidden(schema.GroupResource{}, "", fmt.Errorf("User %q cannot get path %q", name, r.URL.Path)).ErrStatus)
			return
		}
		h(w, r)
	}
}

func (s *Server) serveVersion(w http.ResponseWriter, r *http.Request) {
	writeObjectJSON(w, http.StatusOK, s.cfg.Version)
}

func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/readyz") && s.cfg.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.cfg.Ready(ctx); err != nil {
			klog.Warningf("readyz: datastore check failed: %v", err)
			// As kube-apiserver, callers learn which check failed but not
			// why: the datastore's error text (addresses, file paths) is
			// for administrators, in the log and on their own requests.
			reason := "reason withheld"
			if isAdmin(userFrom(r.Context())) {
				reason = err.Error()
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte("[-]etcd failed: " + reason + "\nreadyz check failed\n"))
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok"))
}

func (s *Server) serveRootPaths(w http.ResponseWriter, r *http.Request) {
	paths := []string{"/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/openapi/v2", "/openapi/v3", "/version"}
	for _, g := range s.groups {
		if g.name != "" {
			paths = append(paths, "/apis/"+g.name, "/apis/"+g.name+"/"+g.version)
		}
	}
	writeObjectJSON(w, http.StatusOK, metav1.RootPaths{Paths: paths})
}
