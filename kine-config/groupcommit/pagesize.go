package groupcommit

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// newFilePageSize is the SQLite page size of a database file this backend
// creates; a file that exists keeps the page size it was made with (WAL
// mode cannot change it). Every commit appends each page it touched to
// the WAL (kine's table, its five indexes and the autoincrement counter:
// seven or more pages for one write) and the checkpoint writes them again,
// so at one write per commit the bytes written follow the page size, not
// the row: with 1 KiB pages a 1.4 KiB ConfigMap create writes about half
// of what it does with SQLite's default 4 KiB (kine-config/README.md).
// Rows larger than a page continue on overflow pages; the format is
// SQLite's own, so plain kine opens the file as before.
const newFilePageSize = 1024

// createWithPageSize makes an empty SQLite database in WAL mode with
// newFilePageSize at the path in dsn (kine's DataSourceName: a path, then
// go-sqlite3's parameters after "?"), unless the file exists and is not
// empty. kine then creates its table in it as in any new file.
func createWithPageSize(dsn string) error {
	path, _, _ := strings.Cut(dsn, "?")
	path = strings.TrimPrefix(path, "file:")
	if path == "" || strings.HasPrefix(path, ":memory:") {
		return nil
	}
	switch fi, err := os.Stat(path); {
	case err == nil && fi.Size() > 0:
		return nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("groupcommit: %w", err)
	}
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		return fmt.Errorf("groupcommit: %w", err)
	}
	defer db.Close()
	// page_size applies to a file without pages; switching to WAL writes
	// the file's first page, which fixes it.
	if _, err := db.Exec(fmt.Sprintf("PRAGMA page_size = %d", newFilePageSize)); err != nil {
		return fmt.Errorf("groupcommit: setting the page size of %s: %w", path, err)
	}
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return fmt.Errorf("groupcommit: creating %s: %w", path, err)
	}
	return db.Close()
}
