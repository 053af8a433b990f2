package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/csv"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// shop is the service of scenarios/examples/rest-api.yaml: it checks that
// every request carries what the template says (the password from the
// environment, a member of users.csv once, the token and trace of the
// login, the session cookie the login set) and counts what it saw.
type shop struct {
	password string
	echo     bool // fail every profile read with the request's password echoed back
	mu       sync.Mutex
	members  map[string]string // email -> id, from users.csv
	logins   map[string]int    // email -> logins
	sessions map[string]string // token -> "id sid trace"
	problems []string
	requests int
}

func newShop(t *testing.T, password string) *shop {
	f, err := os.Open("../../scenarios/examples/users.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	s := &shop{password: password, members: map[string]string{}, logins: map[string]int{}, sessions: map[string]string{}}
	for _, r := range rows[1:] {
		s.members[r[1]] = r[0]
	}
	return s
}

func (s *shop) problem(format string, args ...any) {
	s.problems = append(s.problems, fmt.Sprintf(format, args...))
}

func (s *shop) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	switch {
	case r.Method == "POST" && r.URL.Path == "/api/login":
		var in struct{ Email, Password string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || r.Header.Get("Content-Type") != "application/json" {
			s.problem("login: not a JSON body (%v, %s)", err, r.Header.Get("Content-Type"))
		}
		id, member := s.members[in.Email]
		if in.Password != s.password || !member {
			s.problem("login: email %q, password %q", in.Email, in.Password)
			json.NewEncoder(w).Encode(map[string]string{"status": "refused"})
			return
		}
		s.logins[in.Email]++
		n := len(s.sessions)
		token, sid, trace := fmt.Sprintf("tok-%d", n), fmt.Sprintf("s%d", n), fmt.Sprintf("trace-%d", n)
		s.sessions[token] = id + " " + sid + " " + trace
		w.Header().Set("X-Request-Id", trace)
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: sid, Path: "/", HttpOnly: true})
		json.NewEncoder(w).Encode(map[string]string{"status": "ok", "token": token})
	case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/api/users/"):
		token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		c, _ := r.Cookie("sid")
		want := strings.TrimPrefix(r.URL.Path, "/api/users/") + " " + cookieValue(c) + " " + r.Header.Get("X-Request-Id")
		if s.sessions[token] != want {
			s.problem("profile: token %q gives %q, the request says %q", token, s.sessions[token], want)
		}
		if s.echo {
			w.Header().Set("X-Debug", "password="+s.password)
			w.WriteHeader(500)
			fmt.Fprintf(w, `{"error": "cannot read the profile; you sent %s"}`, s.password)
			return
		}
		fmt.Fprintf(w, `{"user": {"id": %q, "email": "m@shop.example"}, "plan": "basic"}`, strings.TrimPrefix(r.URL.Path, "/api/users/"))
	default:
		s.problem("unexpected %s %s", r.Method, r.URL.Path)
		w.WriteHeader(404)
	}
}

// example copies scenarios/examples/name (with the files beside it that
// it reads) into a temporary directory, its time buckets shortened to 2 s
// (the counts stay: compression would shrink them) and other texts
// replaced (old, new pairs); it returns the copy's path.
func example(t *testing.T, name string, replace ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"users.csv", "document.txt"} {
		b, _ := os.ReadFile(filepath.Join("../../scenarios/examples", f))
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	src, err := os.ReadFile(filepath.Join("../../scenarios/examples", name))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(src), "bucket: 10s", "bucket: 2s")
	for i := 0; i+1 < len(replace); i += 2 {
		text = strings.Replace(text, replace[i], replace[i+1], 1)
	}
	path := filepath.Join(dir, name)
	os.WriteFile(path, []byte(text), 0o644)
	return path
}

func cookieValue(c *http.Cookie) string {
	if c == nil {
		return ""
	}
	return c.Value
}

// The REST example end to end: every member of users.csv at most once, the
// password from the environment, the token, header and cookie carried
// from the login to the profile read, the checks holding.
func TestRESTExampleEndToEnd(t *testing.T) {
	const password = "hunter2-secret-pw"
	t.Setenv("SHOP_PASSWORD", password)
	sh := newShop(t, password)
	srv := httptest.NewServer(sh)
	defer srv.Close()
	dir := t.TempDir()
	code, out, errs := runSurge("run", example(t, "rest-api.yaml"), "--target", srv.URL, "--out", filepath.Join(dir, "run"), "--quiet")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if len(sh.problems) > 0 {
		t.Errorf("the service saw %d wrong requests: %s", len(sh.problems), strings.Join(sh.problems[:min(5, len(sh.problems))], "; "))
	}
	if len(sh.logins) != 30 {
		t.Errorf("%d members logged in, want the 30 users, each a row of users.csv", len(sh.logins))
	}
	for email, n := range sh.logins {
		if n != 1 {
			t.Errorf("%s logged in %d times: policy once gives a row to one user", email, n)
		}
	}
	r := readRun(t, filepath.Join(dir, "run"))
	if ok := r.Endpoints["profile"].Total.Succeeded; ok != 30 {
		t.Errorf("%d profile reads succeeded, want 30", ok)
	}
}

// A secret from the environment never reaches what surge writes, even
// when the service echoes it back in its failures.
func TestSecretsStayOutOfEveryOutput(t *testing.T) {
	const password = "hunter2-secret-pw"
	t.Setenv("SHOP_PASSWORD", password)
	sh := newShop(t, password)
	sh.echo = true
	srv := httptest.NewServer(sh)
	defer srv.Close()
	dir := t.TempDir()
	raw := filepath.Join(dir, "answers.json")
	code, out, errs := runSurge("run", example(t, "rest-api.yaml"), "--target", srv.URL, "--out", filepath.Join(dir, "run"),
		"--raw", raw, "--junit", filepath.Join(dir, "junit.xml"))
	if code != 2 {
		t.Fatalf("exit %d, want the failures to fail the gate\n%s%s", code, out, errs)
	}
	if strings.Contains(out+errs, password) {
		t.Error("the password is in surge's output")
	}
	redacted := false
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), password) {
			t.Errorf("the password is in %s", path)
		}
		redacted = redacted || strings.Contains(string(b), "[redacted env.SHOP_PASSWORD]")
		return nil
	})
	if !redacted {
		t.Error("no failure sample shows where the password was redacted")
	}
}

func TestAPIScenarioBadInput(t *testing.T) {
	sh := newShop(t, "pw")
	srv := httptest.NewServer(sh)
	defer srv.Close()
	dir := t.TempDir()
	t.Setenv("SHOP_PASSWORD", "")
	os.Unsetenv("SHOP_PASSWORD")
	code, _, errs := runSurge("run", "../../scenarios/examples/rest-api.yaml", "--target", srv.URL, "--out", filepath.Join(dir, "a"), "--quiet")
	if code != 1 || !strings.Contains(errs, "requests.login reads ${env.SHOP_PASSWORD}: the environment variable SHOP_PASSWORD is not set") {
		t.Errorf("an unset variable: exit %d, %s", code, errs)
	}
	t.Setenv("SHOP_PASSWORD", "pw")
	more := example(t, "rest-api.yaml", "total: 30 ", "total: 50 ")
	code, _, errs = runSurge("run", more, "--target", srv.URL, "--out", filepath.Join(dir, "b"), "--quiet")
	if code != 1 || !strings.Contains(errs, "data.users: policy once gives each row to one user, and the run has 50 users (over all its shards); users.csv has 40 rows") {
		t.Errorf("too few rows: exit %d, %s", code, errs)
	}
	column := example(t, "rest-api.yaml", `email: "${users.email}"`, `email: "${users.mail}"`)
	code, _, errs = runSurge("run", column, "--target", srv.URL, "--out", filepath.Join(dir, "c"), "--quiet")
	if code != 1 || !strings.Contains(errs, `rest-api.yaml:26: data.users.file: `) || !strings.Contains(errs, `users.csv:1: no column "mail" (columns: id, email, name)`) {
		t.Errorf("a missing column: exit %d, %s", code, errs)
	}
	os.Remove(filepath.Join(filepath.Dir(column), "users.csv"))
	code, _, errs = runSurge("run", column, "--target", srv.URL, "--out", filepath.Join(dir, "d"), "--quiet")
	if code != 1 || !strings.Contains(errs, "users.csv: no such file") {
		t.Errorf("a missing file: exit %d, %s", code, errs)
	}
	if sh.requests != 0 {
		t.Errorf("%d requests reached the service before the bad input was found", sh.requests)
	}
}

// signup is the service of scenarios/examples/forms.yaml.
type signup struct {
	mu       sync.Mutex
	csrf     map[string]bool
	sessions map[string]bool
	docs     map[string]bool
	notes    int
	problems []string
	document []byte
}

func (s *signup) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	bad := func(format string, args ...any) { s.problems = append(s.problems, fmt.Sprintf(format, args...)) }
	session := func() bool { c, err := r.Cookie("session"); return err == nil && s.sessions[c.Value] }
	switch {
	case r.Method == "GET" && r.URL.Path == "/signup":
		token := fmt.Sprintf("%x", len(s.csrf)+0xa0)
		s.csrf[token] = true
		fmt.Fprintf(w, `<form method="post"><input type="hidden" name="csrf" value="%s"><input name="email"></form>`, token)
	case r.Method == "POST" && r.URL.Path == "/signup":
		if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || r.ParseForm() != nil || !s.csrf[r.PostForm.Get("csrf")] ||
			!strings.HasSuffix(r.PostForm.Get("email"), "@example.org") || !strings.HasPrefix(r.PostForm.Get("name"), "Visitor ") {
			bad("signup: %s %v", r.Header.Get("Content-Type"), r.PostForm)
		}
		id := fmt.Sprintf("sess%d", len(s.sessions))
		s.sessions[id] = true
		http.SetCookie(w, &http.Cookie{Name: "session", Value: id, Path: "/"})
		w.Header().Set("Location", "/welcome")
		w.WriteHeader(303)
	case r.Method == "POST" && r.URL.Path == "/documents":
		f, h, err := r.FormFile("document")
		if err != nil || !session() || !strings.HasPrefix(r.FormValue("title"), "ID of ") || h.Filename != "document.txt" || h.Header.Get("Content-Type") != "text/plain" {
			bad("upload: %v, session %v, title %q", err, session(), r.FormValue("title"))
			w.WriteHeader(400)
			return
		}
		got, _ := io.ReadAll(f)
		if string(got) != string(s.document) {
			bad("upload: the file's content %q", got)
		}
		id := fmt.Sprintf("d%d", len(s.docs))
		s.docs[id] = true
		w.WriteHeader(201)
		fmt.Fprintf(w, `{"id": %q}`, id)
	case r.Method == "PUT" && strings.HasPrefix(r.URL.Path, "/documents/") && strings.HasSuffix(r.URL.Path, "/note"):
		body, _ := io.ReadAll(r.Body)
		doc := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/documents/"), "/note")
		if !s.docs[doc] || !session() || r.Header.Get("Content-Type") != "text/plain; charset=utf-8" || !strings.HasPrefix(string(body), "Uploaded by ") {
			bad("note: doc %q, %s, %q", doc, r.Header.Get("Content-Type"), body)
		}
		s.notes++
		w.WriteHeader(204)
	default:
		bad("unexpected %s %s", r.Method, r.URL.Path)
		w.WriteHeader(404)
	}
}

func TestFormsExampleEndToEnd(t *testing.T) {
	doc, err := os.ReadFile("../../scenarios/examples/document.txt")
	if err != nil {
		t.Fatal(err)
	}
	s := &signup{csrf: map[string]bool{}, sessions: map[string]bool{}, docs: map[string]bool{}, document: doc}
	srv := httptest.NewServer(s)
	defer srv.Close()
	code, out, errs := runSurge("run", example(t, "forms.yaml"), "--target", srv.URL, "--out", filepath.Join(t.TempDir(), "run"), "--quiet")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.problems) > 0 || s.notes != 20 || len(s.docs) != 20 {
		t.Errorf("%d notes on %d documents, problems: %v", s.notes, len(s.docs), s.problems)
	}
}

// The mTLS example against a service that requires a client certificate
// its CA signed: the certificates are made here, beside a copy of it.
func TestMTLSExampleEndToEnd(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := newCert(t, dir, "ca", nil, nil)
	srvCert, srvKey := newCert(t, dir, "server", ca, caKey)
	newCert(t, dir, "client", ca, caKey)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"status": "ok", "client": %q}`, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool,
		Certificates: []tls.Certificate{{Certificate: [][]byte{srvCert.Raw}, PrivateKey: srvKey}}}
	srv.StartTLS()
	defer srv.Close()
	src, _ := os.ReadFile("../../scenarios/examples/mtls.yaml")
	path := filepath.Join(dir, "mtls.yaml")
	os.WriteFile(path, []byte(strings.ReplaceAll(string(src), "bucket: 10s", "bucket: 2s")), 0o644)
	code, out, errs := runSurge("run", path, "--target", srv.URL, "--out", filepath.Join(dir, "run"), "--quiet")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if ok := readRun(t, filepath.Join(dir, "run")).Endpoints["status"].Total.Succeeded; ok != 20 {
		t.Errorf("%d status checks succeeded, want 20", ok)
	}
	os.Remove(filepath.Join(dir, "certs", "client.pem"))
	if code, _, errs := runSurge("run", path, "--target", srv.URL, "--out", filepath.Join(dir, "run2"), "--quiet"); code != 1 || !strings.Contains(errs, "target.tls: the client certificate") {
		t.Errorf("a missing client certificate: exit %d, %s", code, errs)
	}
}

// newCert makes a certificate named cn (a CA when parent is nil) and writes
// it and its key as dir/certs/<cn>.pem and <cn>-key.pem.
func newCert(t *testing.T, dir, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "surge-" + cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	signer, signKey := tmpl, key
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	} else {
		signer, signKey = parent, parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	os.MkdirAll(filepath.Join(dir, "certs"), 0o755)
	os.WriteFile(filepath.Join(dir, "certs", cn+".pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	kb, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(filepath.Join(dir, "certs", cn+"-key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return cert, key
}
