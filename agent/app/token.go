package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/skiff-io/skiff/agent/store"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
)

// tokenSource asks the server for service account tokens for pods'
// projected volumes (serviceaccounts/<name>/token, bound to the pod). The
// last token of each pod and audience is kept in the store, so a pod can
// start again after a reboot with no network.
type tokenSource struct {
	base string
	hc   *http.Client
	st   *store.Store
}

func (t *tokenSource) Token(ctx context.Context, pod *corev1.Pod, audience string, exp int64) (string, error) {
	key := "token/" + string(pod.UID) + "/" + audience
	tok, err := t.request(ctx, pod, audience, exp)
	if err == nil {
		if err := t.st.Set(ctx, key, tok); err != nil {
			klog.ErrorS(err, "keeping a service account token", "pod", klog.KObj(pod))
		}
		return tok, nil
	}
	if cached, ok, _ := t.st.Get(ctx, key); ok {
		klog.InfoS("using the last service account token issued: the server is not reachable", "pod", klog.KObj(pod), "err", err)
		return cached, nil
	}
	return "", err
}

func (t *tokenSource) request(ctx context.Context, pod *corev1.Pod, audience string, exp int64) (string, error) {
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	tr := authenticationv1.TokenRequest{
		TypeMeta: metav1.TypeMeta{APIVersion: "authentication.k8s.io/v1", Kind: "TokenRequest"},
		Spec: authenticationv1.TokenRequestSpec{
			ExpirationSeconds: &exp,
			BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
		},
	}
	if audience != "" {
		tr.Spec.Audiences = []string{audience}
	}
	body, _ := json.Marshal(tr)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	u := fmt.Sprintf("%s/api/v1/namespaces/%s/serviceaccounts/%s/token", t.base, url.PathEscape(pod.Namespace), url.PathEscape(sa))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := t.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("service account token for %s/%s: %s: %s", pod.Namespace, sa, resp.Status, strings.TrimSpace(string(rb)))
	}
	if err := json.Unmarshal(rb, &tr); err != nil {
		return "", err
	}
	return tr.Status.Token, nil
}
