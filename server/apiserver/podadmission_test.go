package apiserver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestPodServiceAccountAdmission: with the account cache not yet fed (as
// just after start, or for an account created a moment ago), a pod's
// service account is looked up in the datastore: an account that exists
// admits the pod, one that does not is refused as kube-apiserver refuses
// it, and a missing "default" account is no reason to refuse.
func TestPodServiceAccountAdmission(t *testing.T) {
	s, store, admin := kineServer(t, false)
	put := func(key string, obj any) {
		t.Helper()
		b, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Create(admin, key, b, 0); err != nil {
			t.Fatal(err)
		}
	}
	put(nsPrefix+"ns", &corev1.Namespace{TypeMeta: metav1.TypeMeta{Kind: "Namespace", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: "ns", UID: "ns-uid"}})
	put("/registry/serviceaccounts/ns/robot", &corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{Kind: "ServiceAccount", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: "robot", Namespace: "ns", UID: "sa-uid"}})
	create := func(name, account string) (int, metav1.Status) {
		t.Helper()
		body, _ := json.Marshal(&corev1.Pod{TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{ServiceAccountName: account, AutomountServiceAccountToken: new(bool),
				Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}})
		r := httptest.NewRequest(http.MethodPost, "/api/v1/namespaces/ns/pods", strings.NewReader(string(body))).WithContext(admin)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		s.mux.ServeHTTP(w, r)
		var st metav1.Status
		_ = json.Unmarshal(w.Body.Bytes(), &st)
		return w.Code, st
	}
	if code, st := create("a", "robot"); code != http.StatusCreated {
		t.Fatalf("pod with an existing account: %d %s", code, st.Message)
	}
	code, st := create("b", "nope")
	if code != http.StatusForbidden || !strings.Contains(st.Message, `error looking up service account ns/nope: serviceaccount "nope" not found`) {
		t.Fatalf("pod with a missing account: %d %q", code, st.Message)
	}
	if code, st := create("c", ""); code != http.StatusCreated {
		t.Fatalf("pod with the default account, not created yet: %d %s", code, st.Message)
	}
}
