package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/skiff-io/skiff/server/errdefs"
	"github.com/skiff-io/skiff/server/satoken"
	"github.com/skiff-io/skiff/server/storage"
	"k8s.io/apimachinery/pkg/types"
)

// serviceAccountTokens loads the service account signing key (creating it
// on first start) and returns what issues tokens and what accepts them.
func serviceAccountTokens(tlsDir string, store *storage.Store) (*satoken.Issuer, *satoken.Authenticator, error) {
	key, err := satoken.LoadOrCreateKey(filepath.Join(tlsDir, satoken.KeyFile))
	if err != nil {
		return nil, nil, err
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
