package app

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/skiff-io/skiff/cliconfig"
	"github.com/skiff-io/skiff/server/errdefs"
	"github.com/skiff-io/skiff/server/pki"
	"github.com/skiff-io/skiff/server/satoken"
	"github.com/skiff-io/skiff/server/storage"
	"k8s.io/apimachinery/pkg/types"
)

// serviceAccountTokens loads the service account signing key (creating it
// on first start) and returns what issues tokens and what accepts them.
//
// With a shared datastore every server must sign and verify with the same
// key, or a token would only work on the server that issued it: the first
// server to start publishes its key in the datastore, sealed with the join
// token's secret (every server of a cluster is given the same --token),
// and the others open it and adopt it. Whoever reads the datastore (a
// backup, an etcd operator) does not get a key that signs tokens.
func serviceAccountTokens(ctx context.Context, tlsDir string, store *storage.Store, shared bool, joinSecret string) (*satoken.Issuer, *satoken.Authenticator, error) {
	path := filepath.Join(tlsDir, satoken.KeyFile)
	key, err := satoken.LoadOrCreateKey(path)
	if err != nil {
		return nil, nil, err
	}
	if shared {
		if key, err = sharedKey(ctx, store, path, key, joinSecret); err != nil {
			return nil, nil, err
		}
	}
	issuer, err := satoken.NewIssuer(key)
	if err != nil {
		return nil, nil, err
	}
	auth, err := satoken.NewAuthenticator(key.Public(), storeUIDs{store})
	if err != nil {
		return nil, nil, err
	}
	return issuer, auth, nil
}

// sharedKeyKey holds the signing key on a shared datastore. It is outside
// /registry, so the API never serves it.
const sharedKeyKey = "/skiff/service-account.key"

// sharedKey publishes this server's key, sealed with secret, or adopts the
// one already published and keeps a copy in path. A key published in the
// clear (by a skiff that did not seal it) is adopted and sealed in place.
func sharedKey(ctx context.Context, store *storage.Store, path string, local crypto.Signer, secret string) (crypto.Signer, error) {
	pemBytes, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sealed, err := pki.Seal(secret, pemBytes, []byte(sharedKeyKey))
	if err != nil {
		return nil, err
	}
	_, err = store.Create(ctx, sharedKeyKey, sealed, 0)
	if err == nil {
		return local, nil
	}
	if !errors.Is(err, errdefs.ErrAlreadyExists) {
		return nil, fmt.Errorf("publishing the service account key: %w", err)
	}
	kv, _, err := store.Get(ctx, sharedKeyKey)
	if err != nil {
		return nil, fmt.Errorf("reading the shared service account key: %w", err)
	}
	published := kv.Value
	if pki.IsSealed(published) {
		if published, err = pki.Open(secret, published, []byte(sharedKeyKey)); err != nil {
			return nil, fmt.Errorf("the service account key the first server published cannot be opened with this server's token (%w): start every server of the cluster with the same --token", err)
		}
	} else if sealedOld, err := pki.Seal(secret, published, []byte(sharedKeyKey)); err == nil {
		// Best effort: another server may be doing the same.
		_, _, _ = store.Update(ctx, sharedKeyKey, sealedOld, kv.ModRevision, 0)
	}
	if bytes.Equal(published, pemBytes) {
		return local, nil
	}
	key, err := satoken.ParseKey(published)
	if err != nil {
		return nil, fmt.Errorf("shared service account key: %w", err)
	}
	if err := cliconfig.WriteFileAtomic(path, published, 0o600); err != nil {
		return nil, err
	}
	return key, nil
}

// storeUIDs answers the token authenticator's "does this object still
// exist" from the datastore: one key read per token-authenticated request.
type storeUIDs struct{ s *storage.Store }

func (u storeUIDs) UID(ctx context.Context, resource, ns, name string) (types.UID, bool, error) {
	key := "/registry/" + resource + "/"
	if ns != "" {
		key += ns + "/"
	}
	kv, _, err := u.s.Get(ctx, key+name)
	if errors.Is(err, errdefs.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	var obj struct {
		Metadata struct {
			UID types.UID `json:"uid"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(kv.Value, &obj); err != nil {
		return "", false, fmt.Errorf("decoding %s: %w", kv.Key, err)
	}
	return obj.Metadata.UID, true, nil
}
