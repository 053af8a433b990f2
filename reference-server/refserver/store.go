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
	"sort"
	"strings"
	"sync"

	"modernc.org/sqlite" // the pure-Go SQLite driver, as "sqlite"
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

	refusedMu sync.Mutex
	refused   map[string]string // what kind of write the storage refused, and why; gone once one of that kind is stored
}

type writeReq struct {
	ctx  context.Context
	what string // the kind of write (certificate, visit, anchor, ...): what Unwritable names
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
CREATE TABLE IF NOT EXISTS used_tokens (nonce TEXT PRIMARY KEY, expires INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS pending_anchors (certificate_id TEXT PRIMARY KEY);
`

// OpenStore opens (creating if needed) the database at path.
func OpenStore(path string) (*Store, error) { return openStore(path, "") }

// openStore opens the store with extra DSN pragmas (tests: a size limit).
func openStore(path, pragmas string) (*Store, error) {
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)" + pragmas
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	s := &Store{db: db, writes: make(chan *writeReq, 1024), done: make(chan struct{}), refused: map[string]string{}}
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
func (s *Store) write(ctx context.Context, what string, fn func(*sql.Tx) error) (err error) {
	req := &writeReq{ctx: ctx, what: what, fn: fn, errc: make(chan error, 1)}
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
// that one failing write does not undo the others. A write the storage
// cannot take (SQLITE_FULL and the like) may roll the whole transaction
// back: then every write of the group failed for want of storage.
func (s *Store) commit(group []*writeReq) {
	errs := make([]error, len(group))
	var noRoom error // the first failure for want of storage
	tx, err := s.db.Begin()
	if err == nil {
		for i, r := range group {
			if r.ctx.Err() != nil {
				errs[i] = r.ctx.Err()
				continue
			}
			errs[i] = savepoint(tx, r.fn)
			if noRoom == nil && cannotStore(errs[i]) {
				noRoom = errs[i]
			}
		}
		err = tx.Commit()
	}
	if noRoom == nil && cannotStore(err) {
		noRoom = err
	}
	for i, r := range group {
		if err != nil {
			errs[i] = fmt.Errorf("store commit: %w", err)
		}
		if noRoom != nil && (err != nil || cannotStore(errs[i])) {
			errs[i] = &storeError{errs[i]}
		}
		s.noteRoom(r.what, errs[i])
		r.errc <- errs[i]
	}
}

// noteRoom keeps what the storage refuses, by kind of write: a kind stays
// refused until a write of that kind is stored. A smaller write that fits
// (a token expiry's delete, an anchor in the pages a delete freed) says
// nothing about a certificate's room.
func (s *Store) noteRoom(what string, err error) {
	var se *storeError
	s.refusedMu.Lock()
	defer s.refusedMu.Unlock()
	switch {
	case errors.As(err, &se):
		s.refused[what] = se.err.Error()
	case err == nil:
		delete(s.refused, what)
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
	err := s.write(ctx, "key", func(tx *sql.Tx) error {
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

// putCertificate stores an issued credential durably, in one transaction
// with what goes with it: the identity token it used up (single-use: a
// token already used is errDuplicate, and nothing is stored), and either
// its key anchor (when the route anchored it first) or a pending anchor,
// an outbox row the anchoring takes out when it is done and that a restart
// finds again. An acknowledged certificate is never left unanchored, and
// an anchor never names a certificate that was not stored.
func (s *Store) putCertificate(ctx context.Context, sc SignedCredential, platform string, used usedToken, anchored []byte, pending bool) error {
	body, _ := json.Marshal(sc.Credential)
	return s.write(ctx, "certificate", func(tx *sql.Tx) error {
		if err := useToken(tx, used); err != nil {
			return err
		}
		if _, err := tx.Exec(`INSERT INTO certificates(id, holder, platform, issued_at, body, signature) VALUES (?, ?, ?, ?, ?, ?)`,
			sc.Credential.ID, sc.Credential.Holder, platform, sc.Credential.IssuedAt.UnixMilli(), body, sc.Signature); err != nil {
			return err
		}
		if anchored != nil {
			_, err := tx.Exec(`INSERT INTO anchors(certificate_id, hash) VALUES (?, ?)`, sc.Credential.ID, anchored)
			return err
		}
		if !pending {
			return nil
		}
		_, err := tx.Exec(`INSERT INTO pending_anchors(certificate_id) VALUES (?)`, sc.Credential.ID)
		return err
	})
}

// usedToken is a single-use token's nonce and when it expires anyway
// (after which its row may go).
type usedToken struct {
	nonce   string
	expires int64 // unix milliseconds
}

// useToken records a token's use; a second use is errDuplicate.
func useToken(tx *sql.Tx, u usedToken) error {
	if u.nonce == "" {
		return nil
	}
	if _, err := tx.Exec(`INSERT INTO used_tokens(nonce, expires) VALUES (?, ?)`, u.nonce, u.expires); err != nil {
		if strings.Contains(err.Error(), "UNIQUE") {
			return errDuplicate
		}
		return err
	}
	return nil
}

// useTokenAlone records a token's use in a transaction of its own.
func (s *Store) useTokenAlone(ctx context.Context, u usedToken) error {
	return s.write(ctx, "token", func(tx *sql.Tx) error { return useToken(tx, u) })
}

// forgetExpiredTokens drops the used tokens whose own expiry has passed:
// they are refused as expired anyway, so the table stays the size of the
// tokens alive.
func (s *Store) forgetExpiredTokens(ctx context.Context, nowMs int64) error {
	return s.write(ctx, "token expiry", func(tx *sql.Tx) error {
		_, err := tx.Exec(`DELETE FROM used_tokens WHERE expires < ?`, nowMs)
		return err
	})
}

// PendingAnchors lists the certificates stored but not yet anchored.
func (s *Store) PendingAnchors(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT certificate_id FROM pending_anchors ORDER BY certificate_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
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
	err := s.write(ctx, "visit", func(tx *sql.Tx) error {
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

// anchorHash is a certificate's key anchor on the hash chain:
// hash = SHA-256(previous hash || certificate id || issuer public key).
func anchorHash(prev []byte, certID string, pub []byte) []byte {
	h := sha256.New()
	h.Write(prev)
	h.Write([]byte(certID))
	h.Write(pub)
	return h.Sum(nil)
}

// nextAnchor reserves the chain's next link for a certificate about to be
// stored with it (putCertificate); done(true) makes it the head, done(false)
// gives the link back. The chain is one sequence: the lock is held
// between the two.
func (s *Store) nextAnchor(certID string, pub []byte) (sum []byte, done func(stored bool)) {
	s.anchorMu.Lock()
	sum = anchorHash(s.anchorHead, certID, pub)
	return sum, func(stored bool) {
		if stored {
			s.anchorHead = sum
		}
		s.anchorMu.Unlock()
	}
}

// anchorPending anchors a certificate stored with a pending anchor: the
// link appended and the outbox row taken out in one transaction.
func (s *Store) anchorPending(ctx context.Context, certID string, pub []byte) error {
	s.anchorMu.Lock()
	defer s.anchorMu.Unlock()
	sum := anchorHash(s.anchorHead, certID, pub)
	err := s.write(ctx, "anchor", func(tx *sql.Tx) error {
		res, err := tx.Exec(`DELETE FROM pending_anchors WHERE certificate_id = ?`, certID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errAnchored
		}
		_, err = tx.Exec(`INSERT INTO anchors(certificate_id, hash) VALUES (?, ?)`, certID, sum)
		return err
	})
	switch {
	case err == nil:
		s.anchorHead = sum
	case errors.Is(err, errAnchored): // by the repair, or the step it repaired: done either way
		err = nil
	}
	return err
}

var errAnchored = errors.New("refserver: anchored already")

// CheckChain verifies the key-anchor chain: every stored certificate is
// anchored exactly once or is pending (stored, its anchor still to come),
// and each link's hash follows from the one before it.
func (s *Store) CheckChain(ctx context.Context) (anchored, pending int, err error) {
	var seed []byte
	switch err := s.db.QueryRowContext(ctx, `SELECT value FROM keys WHERE name = 'issuer-ed25519-seed'`).Scan(&seed); {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return 0, 0, fmt.Errorf("store: issuer key: %w", err)
	case len(seed) != ed25519.SeedSize:
		return 0, 0, fmt.Errorf("store: issuer key: %d bytes, want %d", len(seed), ed25519.SeedSize)
	}
	var pub []byte
	if seed != nil {
		pub = ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT certificate_id, hash FROM anchors ORDER BY seq`)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	var prev []byte
	seen := map[string]bool{}
	for rows.Next() {
		var id string
		var h []byte
		if err := rows.Scan(&id, &h); err != nil {
			return 0, 0, err
		}
		if want := anchorHash(prev, id, pub); string(want) != string(h) {
			return 0, 0, fmt.Errorf("anchor %d (certificate %s): hash does not follow from the link before it", anchored+1, id)
		}
		if seen[id] {
			return 0, 0, fmt.Errorf("certificate %s is anchored twice", id)
		}
		seen[id], prev = true, h
		anchored++
	}
	if err := rows.Err(); err != nil {
		return 0, 0, err
	}
	var orphans, unanchored int
	err = s.db.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM anchors a WHERE NOT EXISTS (SELECT 1 FROM certificates c WHERE c.id = a.certificate_id)),
		(SELECT count(*) FROM certificates c WHERE c.platform != 'seed'
			AND NOT EXISTS (SELECT 1 FROM anchors a WHERE a.certificate_id = c.id)
			AND NOT EXISTS (SELECT 1 FROM pending_anchors p WHERE p.certificate_id = c.id)),
		(SELECT count(*) FROM pending_anchors)`).Scan(&orphans, &unanchored, &pending)
	switch {
	case err != nil:
		return 0, 0, err
	case orphans > 0:
		return 0, 0, fmt.Errorf("%d anchors name a certificate that was not stored", orphans)
	case unanchored > 0:
		return 0, 0, fmt.Errorf("%d certificates are neither anchored nor pending", unanchored)
	}
	return anchored, pending, nil
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

// errStoreUnavailable is what a write the storage could not take is: the
// API answers 503 store_unavailable, and /healthz says the store cannot
// write until a write succeeds again (the upkeep loop writes every 30 s).
var errStoreUnavailable = errors.New("refserver: the store cannot write")

type storeError struct{ err error }

func (e *storeError) Error() string   { return "the store cannot write: " + e.err.Error() }
func (e *storeError) Unwrap() []error { return []error{errStoreUnavailable, e.err} }

// cannotStore reports whether err is SQLite failing for want of storage:
// full (the disk, or max_page_count), an I/O error, or a read-only file.
func cannotStore(err error) bool {
	var se *sqlite.Error
	if err == nil || !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff { // the primary result code
	case 13, 10, 8: // SQLITE_FULL, SQLITE_IOERR, SQLITE_READONLY
		return true
	}
	return false
}

// Unwritable says which kinds of write the storage refuses and why, or ""
// when none is refused: each kind is refused from its first write that
// failed for want of storage until one of its writes is stored.
func (s *Store) Unwritable() string {
	s.refusedMu.Lock()
	defer s.refusedMu.Unlock()
	kinds := make([]string, 0, len(s.refused))
	for what := range s.refused {
		kinds = append(kinds, what)
	}
	sort.Strings(kinds)
	for i, what := range kinds {
		kinds[i] = what + ": " + s.refused[what]
	}
	return strings.Join(kinds, "; ")
}
