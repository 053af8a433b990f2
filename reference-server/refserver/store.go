package refserver

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver, as "sqlite"
)

// Store is the durable state: issued certificates, visit logs, key anchors
// and the server's keys, in SQLite (WAL, synchronous=FULL). Writes go
// through one writer goroutine that commits them in groups: every caller of
// a write returns only after its transaction is committed and fsync'd, and
// one fsync serves every write that arrived meanwhile.
type Store struct {
	db     *sql.DB
	writes chan *writeReq
	done   chan struct{}
	closed sync.Once

	anchorMu   sync.Mutex
	anchorHead []byte
}

type writeReq struct {
	ctx  context.Context
	fn   func(*sql.Tx) error
	errc chan error
}

const schema = `
CREATE TABLE IF NOT EXISTS keys (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS certificates (
	id TEXT PRIMARY KEY, holder TEXT NOT NULL, platform TEXT NOT NULL,
	issued_at INTEGER NOT NULL, body BLOB NOT NULL, signature TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS visits (
	id INTEGER PRIMARY KEY AUTOINCREMENT, token_id TEXT NOT NULL UNIQUE,
	certificate_id TEXT NOT NULL, venue_id TEXT NOT NULL, platform TEXT NOT NULL, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS anchors (
	seq INTEGER PRIMARY KEY AUTOINCREMENT, certificate_id TEXT NOT NULL, hash BLOB NOT NULL);
`

// OpenStore opens (creating if needed) the database at path.
func OpenStore(path string) (*Store, error) {
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	s := &Store{db: db, writes: make(chan *writeReq, 1024), done: make(chan struct{})}
	if err := db.QueryRow(`SELECT hash FROM anchors ORDER BY seq DESC LIMIT 1`).Scan(&s.anchorHead); err != nil && !errors.Is(err, sql.ErrNoRows) {
		db.Close()
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	go s.writer()
	return s, nil
}

// Close stops the writer (after the writes already queued) and closes the database.
func (s *Store) Close() error {
	s.closed.Do(func() { close(s.writes) })
	<-s.done
	return s.db.Close()
}

var errStoreClosed = errors.New("refserver: store closed")

// write runs fn in a transaction (grouped with others) and returns once it
// is durable, or with fn's error (its changes rolled back alone).
func (s *Store) write(ctx context.Context, fn func(*sql.Tx) error) (err error) {
	req := &writeReq{ctx: ctx, fn: fn, errc: make(chan error, 1)}
	defer func() {
		if recover() != nil { // send on a closed channel: the server is shutting down
			err = errStoreClosed
		}
	}()
	s.writes <- req
	return <-req.errc
}

const maxGroup = 256

func (s *Store) writer() {
	defer close(s.done)
	for req := range s.writes {
		group := []*writeReq{req}
	drain:
		for len(group) < maxGroup {
			select {
			case r, ok := <-s.writes:
				if !ok {
					break drain
				}
				group = append(group, r)
			default:
				break drain
			}
		}
		s.commit(group)
	}
}

// commit runs a group in one transaction, each write inside a savepoint so
// that one failing write does not undo the others.
func (s *Store) commit(group []*writeReq) {
	errs := make([]error, len(group))
	tx, err := s.db.Begin()
	if err == nil {
		for i, r := range group {
			if r.ctx.Err() != nil {
				errs[i] = r.ctx.Err()
				continue
			}
			errs[i] = savepoint(tx, r.fn)
		}
		err = tx.Commit()
	}
	for i, r := range group {
		if err != nil {
			errs[i] = fmt.Errorf("store commit: %w", err)
		}
		r.errc <- errs[i]
	}
}

func savepoint(tx *sql.Tx, fn func(*sql.Tx) error) error {
	if _, err := tx.Exec(`SAVEPOINT w`); err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		if _, rbErr := tx.Exec(`ROLLBACK TO w`); rbErr != nil {
			return errors.Join(err, rbErr)
		}
		tx.Exec(`RELEASE w`)
		return err
	}
	_, err := tx.Exec(`RELEASE w`)
	return err
}

// loadKeys reads the server's keys, creating them on first use.
func (s *Store) loadKeys(ctx context.Context) (*keys, error) {
	seed, err := s.secret(ctx, "issuer-ed25519-seed", ed25519.SeedSize)
	if err != nil {
		return nil, err
	}
	mac, err := s.secret(ctx, "token-hmac", 32)
	if err != nil {
		return nil, err
	}
	priv := ed25519.NewKeyFromSeed(seed)
	sum := sha256.Sum256(priv.Public().(ed25519.PublicKey))
	return &keys{issuer: priv, keyID: "kdca-" + hex.EncodeToString(sum[:4]), mac: mac}, nil
}

func (s *Store) secret(ctx context.Context, name string, n int) ([]byte, error) {
	fresh := make([]byte, n)
	rand.Read(fresh)
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT OR IGNORE INTO keys(name, value) VALUES (?, ?)`, name, fresh)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: key %s: %w", name, err)
	}
	var v []byte
	if err := s.db.QueryRowContext(ctx, `SELECT value FROM keys WHERE name = ?`, name).Scan(&v); err != nil {
		return nil, fmt.Errorf("store: key %s: %w", name, err)
	}
	return v, nil
}

// putCertificate stores an issued credential durably.
func (s *Store) putCertificate(ctx context.Context, sc SignedCredential, platform string) error {
	body, _ := json.Marshal(sc.Credential)
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO certificates(id, holder, platform, issued_at, body, signature) VALUES (?, ?, ?, ?, ?, ?)`,
			sc.Credential.ID, sc.Credential.Holder, platform, sc.Credential.IssuedAt.UnixMilli(), body, sc.Signature)
		return err
	})
}

var errNotFound = errors.New("refserver: not found")

// Certificate reads an issued credential by id.
func (s *Store) Certificate(ctx context.Context, id string) (SignedCredential, error) {
	var body []byte
	var sc SignedCredential
	err := s.db.QueryRowContext(ctx, `SELECT body, signature FROM certificates WHERE id = ?`, id).Scan(&body, &sc.Signature)
	if errors.Is(err, sql.ErrNoRows) {
		return sc, errNotFound
	}
	if err != nil {
		return sc, err
	}
	return sc, json.Unmarshal(body, &sc.Credential)
}

var errDuplicate = errors.New("refserver: already recorded")

// putVisit records a check-in; a token used before gives errDuplicate.
func (s *Store) putVisit(ctx context.Context, tokenID, certID, venue, platform string, atMs int64) (int64, error) {
	var id int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`INSERT INTO visits(token_id, certificate_id, venue_id, platform, at) VALUES (?, ?, ?, ?, ?)`,
			tokenID, certID, venue, platform, atMs)
		if err != nil {
			if strings.Contains(err.Error(), "UNIQUE") {
				return errDuplicate
			}
			return err
		}
		id, err = res.LastInsertId()
		return err
	})
	return id, err
}

// anchor appends a certificate's key anchor to the hash chain:
// hash = SHA-256(previous hash || certificate id || issuer public key).
func (s *Store) anchor(ctx context.Context, certID string, pub []byte) error {
	s.anchorMu.Lock()
	defer s.anchorMu.Unlock()
	h := sha256.New()
	h.Write(s.anchorHead)
	h.Write([]byte(certID))
	h.Write(pub)
	sum := h.Sum(nil)
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO anchors(certificate_id, hash) VALUES (?, ?)`, certID, sum)
		return err
	})
	if err == nil {
		s.anchorHead = sum
	}
	return err
}

// Counts reports how many certificates, visits and anchors are stored.
func (s *Store) Counts(ctx context.Context) (certificates, visits, anchors int, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM certificates), (SELECT count(*) FROM visits), (SELECT count(*) FROM anchors)`).
		Scan(&certificates, &visits, &anchors)
	return
}

// HasVisit reports whether the visit with this id is stored.
func (s *Store) HasVisit(ctx context.Context, id int64) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM visits WHERE id = ?`, id).Scan(&n)
	return n == 1, err
}

// HasCertificate reports whether the certificate with this id is stored.
func (s *Store) HasCertificate(ctx context.Context, id string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM certificates WHERE id = ?`, id).Scan(&n)
	return n == 1, err
}
