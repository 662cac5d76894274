package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/skiff-io/skiff/protocol"
	corev1 "k8s.io/api/core/v1"

	// The SQLite driver (cgo), registered as "sqlite3".
	_ "github.com/mattn/go-sqlite3"
)

const schema = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS desired (
	kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
	object BLOB NOT NULL,
	PRIMARY KEY (kind, namespace, name)
);
CREATE TABLE IF NOT EXISTS outbox (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	key TEXT NOT NULL UNIQUE,
	item BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS reported (uid TEXT PRIMARY KEY, item BLOB NOT NULL);
`

// Store is the agent's SQLite database.
type Store struct {
	db      *sql.DB
	group   groupCommit  // outbox items waiting to be committed
	decoded decodedCache // what Load decoded last
}

// Open opens (creating if needed) the database at path.
func Open(path string) (*Store, error) {
	// WAL with synchronous=FULL: a committed desired document or outbox
	// item survives power loss, which is what it is acknowledged for.
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_synchronous=FULL&_busy_timeout=5000&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("agent store: %w", err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("agent store %s: %w", path, err)
	}
	return &Store{db: db, decoded: decodedCache{dirty: map[rowKey]bool{}}}, nil
}

// DB is the database, for packages that keep their own tables in it (IPAM).
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Get reads a meta value; ok is false when unset.
func (s *Store) Get(ctx context.Context, key string) (value string, ok bool, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return value, err == nil, err
}

// Set writes a meta value, only if it changed.
func (s *Store) Set(ctx context.Context, key, value string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO meta(key, value) VALUES(?, ?)
		ON CONFLICT(key) DO UPDATE SET value = excluded.value WHERE value != excluded.value`, key, value)
	return err
}

const revisionKey = "desired.revision"

// Revision is the revision of the stored desired document (0: none).
func (s *Store) Revision(ctx context.Context) (int64, error) {
	v, ok, err := s.Get(ctx, revisionKey)
	if err != nil || !ok {
		return 0, err
	}
	return strconv.ParseInt(v, 10, 64)
}

// Apply stores a desired document (whole or delta) in one transaction.
// Only after it returns may the agent acknowledge the revision.
func (s *Store) Apply(ctx context.Context, d *protocol.Desired) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if d.Since == 0 {
		if _, err := tx.ExecContext(ctx, `DELETE FROM desired`); err != nil {
			return err
		}
	}
	var touched []rowKey
	put := func(kind, ns, name string, obj any) error {
		touched = append(touched, rowKey{kind, ns, name})
		b, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO desired(kind, namespace, name, object) VALUES(?, ?, ?, ?)
			ON CONFLICT(kind, namespace, name) DO UPDATE SET object = excluded.object`, kind, ns, name, b)
		return err
	}
	for _, r := range d.Removed {
		touched = append(touched, rowKey{r.Kind, r.Namespace, r.Name})
		if _, err := tx.ExecContext(ctx, `DELETE FROM desired WHERE kind = ? AND namespace = ? AND name = ?`, r.Kind, r.Namespace, r.Name); err != nil {
			return err
		}
	}
	for i := range d.Pods {
		if err := put(protocol.KindPod, d.Pods[i].Namespace, d.Pods[i].Name, &d.Pods[i]); err != nil {
			return err
		}
	}
	for i := range d.ConfigMaps {
		if err := put(protocol.KindConfigMap, d.ConfigMaps[i].Namespace, d.ConfigMaps[i].Name, &d.ConfigMaps[i]); err != nil {
			return err
		}
	}
	for i := range d.Secrets {
		if err := put(protocol.KindSecret, d.Secrets[i].Namespace, d.Secrets[i].Name, &d.Secrets[i]); err != nil {
			return err
		}
	}
	for i := range d.PersistentVolumeClaims {
		c := &d.PersistentVolumeClaims[i]
		if err := put(protocol.KindPersistentVolumeClaim, c.Namespace, c.Name, c); err != nil {
			return err
		}
	}
	for i := range d.PersistentVolumes {
		if err := put(protocol.KindPersistentVolume, "", d.PersistentVolumes[i].Name, &d.PersistentVolumes[i]); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO meta(key, value) VALUES(?, ?)
		ON CONFLICT(key) DO UPDATE SET value = excluded.value`, revisionKey, strconv.FormatInt(d.Revision, 10)); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	// Marked after the commit (a Load holds decoded.mu while it waits for
	// the one connection, which the transaction holds). A Load between
	// the two may miss this change; the Load that the caller's next step
	// makes sees it.
	s.decoded.mu.Lock()
	if d.Since == 0 {
		s.decoded.whole = false
	}
	for _, k := range touched {
		s.decoded.dirty[k] = true
	}
	s.decoded.mu.Unlock()
	return nil
}

// Desired is the stored document, whole.
type Desired struct {
	Revision   int64
	Pods       []*corev1.Pod
	ConfigMaps map[string]*corev1.ConfigMap // "ns/name"
	Secrets    map[string]*corev1.Secret
	// Claims ("ns/name") and Volumes (by name) are the node's
	// PersistentVolumeClaims and PersistentVolumes.
	Claims  map[string]*corev1.PersistentVolumeClaim
	Volumes map[string]*corev1.PersistentVolume
}

// Load reads the whole stored document. Objects whose stored bytes did
// not change since the last Load are the same objects again, not decoded
// anew (the agent loads the document at every change of it, and decoding
// every pod each time cost more than anything else it does per pod): what
// Load returns is shared and must not be modified; DeepCopy first. Only
// the rows Apply wrote or removed since are read again, and all of them
// after a whole document (or at the first Load).
func (s *Store) Load(ctx context.Context) (*Desired, error) {
	s.decoded.mu.Lock()
	defer s.decoded.mu.Unlock()
	rev, err := s.Revision(ctx)
	if err != nil {
		return nil, err
	}
	c := &s.decoded
	if !c.whole {
		if err := s.loadAll(ctx); err != nil {
			return nil, err
		}
	} else {
		for k := range c.dirty {
			if err := s.loadRow(ctx, k); err != nil {
				return nil, err
			}
		}
	}
	clear(c.dirty)
	out := &Desired{Revision: rev, ConfigMaps: map[string]*corev1.ConfigMap{}, Secrets: map[string]*corev1.Secret{},
		Claims: map[string]*corev1.PersistentVolumeClaim{}, Volumes: map[string]*corev1.PersistentVolume{}}
	for k, row := range c.rows {
		switch o := row.obj.(type) {
		case *corev1.Pod:
			out.Pods = append(out.Pods, o)
		case *corev1.ConfigMap:
			out.ConfigMaps[k.namespace+"/"+k.name] = o
		case *corev1.Secret:
			out.Secrets[k.namespace+"/"+k.name] = o
		case *corev1.PersistentVolumeClaim:
			out.Claims[k.namespace+"/"+k.name] = o
		case *corev1.PersistentVolume:
			out.Volumes[k.name] = o
		}
	}
	// In the table's order, as when every row was read.
	slices.SortFunc(out.Pods, func(a, b *corev1.Pod) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return out, nil
}

// loadAll reads every row, keeping the objects of rows whose bytes did
// not change. Called with decoded.mu held.
func (s *Store) loadAll(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, `SELECT kind, namespace, name, object FROM desired`)
	if err != nil {
		return err
	}
	defer rows.Close()
	c := &s.decoded
	next := make(map[rowKey]decodedRow, len(c.rows))
	for rows.Next() {
		var k rowKey
		var b sql.RawBytes // only read before the next row
		if err := rows.Scan(&k.kind, &k.namespace, &k.name, &b); err != nil {
			return err
		}
		row, ok, err := c.decode(k, b)
		if err != nil {
			return err
		}
		if ok {
			next[k] = row
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	c.rows, c.whole = next, true // rows gone from the table leave the cache too
	return nil
}

// loadRow reads one row again. Called with decoded.mu held.
func (s *Store) loadRow(ctx context.Context, k rowKey) error {
	var b []byte
	err := s.db.QueryRowContext(ctx, `SELECT object FROM desired WHERE kind = ? AND namespace = ? AND name = ?`, k.kind, k.namespace, k.name).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		delete(s.decoded.rows, k)
		return nil
	}
	if err != nil {
		return err
	}
	row, ok, err := s.decoded.decode(k, b)
	if err != nil {
		return err
	}
	if ok {
		s.decoded.rows[k] = row
	} else {
		delete(s.decoded.rows, k)
	}
	return nil
}

// decodedCache holds the objects Load decoded, by row, with the SHA-256
// of the bytes each came from.
type decodedCache struct {
	mu   sync.Mutex // also makes Loads run one at a time
	rows map[rowKey]decodedRow
	// whole: rows holds every row of the table but those in dirty,
	// which Apply wrote or removed since the last Load.
	whole bool
	dirty map[rowKey]bool
}

// decode returns the row for bytes b of row k: the object decoded before
// when b did not change; ok is false for a kind this agent does not know.
func (c *decodedCache) decode(k rowKey, b []byte) (row decodedRow, ok bool, err error) {
	sum := sha256.Sum256(b)
	if row, ok := c.rows[k]; ok && row.sum == sum {
		return row, true, nil
	}
	obj := newObject(k.kind)
	if obj == nil {
		return decodedRow{}, false, nil
	}
	if err := json.Unmarshal(b, obj); err != nil {
		return decodedRow{}, false, fmt.Errorf("agent store: %s %s/%s: %w", k.kind, k.namespace, k.name, err)
	}
	return decodedRow{sum: sum, obj: obj}, true, nil
}

type rowKey struct{ kind, namespace, name string }

type decodedRow struct {
	sum [sha256.Size]byte
	obj any
}

// newObject is an empty object of a stored kind, nil for a kind this
// agent does not know (stored by a newer one).
func newObject(kind string) any {
	switch kind {
	case protocol.KindPod:
		return &corev1.Pod{}
	case protocol.KindConfigMap:
		return &corev1.ConfigMap{}
	case protocol.KindSecret:
		return &corev1.Secret{}
	case protocol.KindPersistentVolumeClaim:
		return &corev1.PersistentVolumeClaim{}
	case protocol.KindPersistentVolume:
		return &corev1.PersistentVolume{}
	}
	return nil
}
