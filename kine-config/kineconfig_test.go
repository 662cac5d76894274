package kineconfig

import (
	"strings"
	"testing"
)

// TestParseSQL: PostgreSQL and MySQL endpoints work in the full build and
// are refused, saying how to get it, otherwise.
func TestParseSQL(t *testing.T) {
	for _, ep := range []string{"postgres://user:pw@db:5432/skiff", "mysql://user:pw@tcp(db:3306)/skiff"} {
		got, err := Parse(ep)
		if sqlDrivers {
			if err != nil || got != KindKine {
				t.Errorf("Parse(%q) = %q, %v in the full build", ep, got, err)
			}
		} else if err == nil || !strings.Contains(err.Error(), "FULL=1 hack/build") || strings.Contains(err.Error(), "pw@") {
			t.Errorf("Parse(%q) = %q, %v; want a refusal naming the full build (and no password)", ep, got, err)
		}
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		endpoint string
		want     Kind
		err      bool
	}{
		{"", KindSQLite, false},
		{"sqlite:///var/lib/skiff/db.sqlite", KindSQLite, false},
		{"https://10.0.0.1:2379,https://10.0.0.2:2379,https://10.0.0.3:2379", KindEtcd, false},
		{"http://127.0.0.1:2379", KindEtcd, false},
		{"unix:///run/etcd.sock", KindEtcd, false},
		{"ftp://nope", "", true},
		{"127.0.0.1:2379", "", true},
	} {
		got, err := Parse(tc.endpoint)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("Parse(%q) = %q, %v; want %q, err=%v", tc.endpoint, got, err, tc.want, tc.err)
		}
	}
}

func TestSQLiteEndpointKeepsUserParams(t *testing.T) {
	dir := t.TempDir()
	ep, path, err := sqliteEndpoint(Config{DataDir: dir})
	if err != nil || path != dir+"/db/state.db" || ep != "sqlite://"+path+"?"+SQLiteParams {
		t.Fatalf("default: %q %q %v", ep, path, err)
	}
	user := "sqlite://" + dir + "/x.db?_synchronous=NORMAL"
	ep, path, err = sqliteEndpoint(Config{DataDir: dir, Endpoint: user})
	if err != nil || ep != user || path != dir+"/x.db" {
		t.Fatalf("user DSN: %q %q %v", ep, path, err)
	}
	if _, _, err := sqliteEndpoint(Config{DataDir: dir, Endpoint: "sqlite://"}); err == nil {
		t.Fatal("sqlite:// without a path must fail")
	}
}

// Plaintext etcd is refused unless the operator says it is intended.
func TestPlaintextEtcdNeedsInsecure(t *testing.T) {
	cfg := Config{Endpoint: "https://a:2379,http://b:2379"}
	if _, err := etcdBackend(cfg); err == nil || !strings.Contains(err.Error(), "--datastore-insecure") {
		t.Fatalf("http:// accepted without --datastore-insecure: %v", err)
	}
	cfg.Insecure = true
	b, err := etcdBackend(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Endpoints) != 2 {
		t.Fatalf("endpoints %v", b.Endpoints)
	}
	if _, err := etcdBackend(Config{Endpoint: "https://a:2379"}); err != nil {
		t.Fatalf("https refused: %v", err)
	}
}
