package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/surgekit/surge/ci/testcert"
	"github.com/surgekit/surge/reference-server/refserver"
	"github.com/surgekit/surge/scenarios/rpc"
)

// TestMain lets the test binary act as the reference server in a child
// process (REFSERVER_CHILD=1), so a test can kill -9 a real server.
func TestMain(m *testing.M) {
	if os.Getenv("REFSERVER_CHILD") == "1" {
		if err := run(context.Background(), strings.Fields(os.Getenv("REFSERVER_ARGS")), os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type child struct {
	cmd *exec.Cmd
	url string
}

func startChild(t *testing.T, db string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "REFSERVER_CHILD=1",
		"REFSERVER_ARGS=--profile refserver/testdata/fast.yaml --addr 127.0.0.1:0 --db "+db)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("child printed no address: %v", err)
	}
	i := strings.Index(line, "http://")
	if i < 0 {
		t.Fatalf("child said %q", line)
	}
	url, _, _ := strings.Cut(strings.TrimSpace(line[i:]), ";")
	return &child{cmd: cmd, url: url}
}

var client = &http.Client{Timeout: 5 * time.Second}

func post(url string, in any) (int, map[string]any, error) {
	b, _ := json.Marshal(in)
	resp, err := client.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out, nil
}

// holding is what the holder's app keeps: the signed credential and its session.
type holding struct {
	wallet  map[string]any
	session string
}

// issue runs identity + issuance; it returns the holding if all got a 2xx.
func issue(base, user string) (holding, error) {
	st, req, err := post(base+"/v1/identity/requests", map[string]string{"user_id": user, "platform": "kakao"})
	if err != nil || st != 201 {
		return holding{}, fmt.Errorf("identity request: %d %v", st, err)
	}
	st, tok, err := post(base+"/v1/identity/requests/"+req["request_id"].(string)+"/confirm", map[string]any{"code": req["sms_code"]})
	if err != nil || st != 200 {
		return holding{}, fmt.Errorf("confirm: %d %v", st, err)
	}
	st, out, err := post(base+"/v1/certificates", map[string]any{"identity_token": tok["identity_token"], "platform": "kakao"})
	if err != nil || st != 201 {
		return holding{}, fmt.Errorf("certificate: %d %v", st, err)
	}
	w, _ := out["wallet"].(map[string]any)
	session, _ := out["session"].(string)
	return holding{wallet: w, session: session}, nil
}

// checkin shows the wallet credential for a QR and scans it; the visit id if admitted.
func checkin(base string, h holding) (int64, error) {
	st, qr, err := post(base+"/v1/qr", map[string]any{"platform": "kakao", "wallet": h.wallet, "session": h.session})
	if err != nil || st != 201 {
		return 0, fmt.Errorf("qr: %d %v", st, err)
	}
	st, v, err := post(base+"/v1/checkins", map[string]any{"token": qr["token"], "venue_id": "v"})
	if err != nil || st != 201 {
		return 0, fmt.Errorf("checkin: %d %v", st, err)
	}
	return int64(v["visit_id"].(float64)), nil
}

func TestKill9LosesNoAcknowledgedWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills server processes")
	}
	db := t.TempDir() + "/pass.db"
	srv := startChild(t, db)
	wallet, err := issue(srv.url, "regular")
	if err != nil {
		t.Fatal(err)
	}

	var (
		mu     sync.Mutex
		certs  []string
		visits []int64
		wg     sync.WaitGroup
	)
	acked := func() int { mu.Lock(); defer mu.Unlock(); return len(certs) + len(visits) }
	for w := range 8 {
		wg.Add(1)
		go func() { // a stream of issuances and check-ins until the server dies
			defer wg.Done()
			for i := 0; ; i++ {
				if w%2 == 0 {
					cred, err := issue(srv.url, fmt.Sprintf("user-%d-%d", w, i))
					if err != nil {
						return
					}
					mu.Lock()
					certs = append(certs, cred.wallet["credential"].(map[string]any)["id"].(string))
					mu.Unlock()
				} else {
					id, err := checkin(srv.url, wallet)
					if err != nil {
						return
					}
					mu.Lock()
					visits = append(visits, id)
					mu.Unlock()
				}
			}
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for acked() < 300 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	srv.cmd.Wait()
	wg.Wait()
	if len(certs) == 0 || len(visits) == 0 {
		t.Fatalf("only %d issuances and %d check-ins acknowledged before the kill", len(certs), len(visits))
	}

	// The restarted server opens the same database and still honours old credentials.
	again := startChild(t, db)
	if _, err := checkin(again.url, wallet); err != nil {
		t.Fatalf("credential issued before the crash, after restart: %v", err)
	}
	again.cmd.Process.Signal(syscall.SIGTERM)
	if err := again.cmd.Wait(); err != nil {
		t.Errorf("graceful stop: %v", err)
	}

	store, err := refserver.OpenStore(db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	lost := 0
	for _, id := range certs {
		if ok, err := store.HasCertificate(ctx, id); err != nil || !ok {
			lost++
		}
	}
	for _, id := range visits {
		if ok, err := store.HasVisit(ctx, id); err != nil || !ok {
			lost++
		}
	}
	// Every stored certificate is in the key-anchor chain exactly once: the
	// restart anchored what the kill left pending.
	anchored, pending, err := store.CheckChain(ctx)
	if err != nil {
		t.Errorf("anchor chain after kill -9 and restart: %v", err)
	}
	if pending != 0 {
		t.Errorf("%d certificates still pending their anchor after the restart", pending)
	}
	if anchored < len(certs)+1 {
		t.Errorf("%d anchored, want at least the %d acknowledged", anchored, len(certs)+1)
	}
	nc, nv, _, _ := store.Counts(ctx)
	t.Logf("acknowledged before kill -9: %d certificates, %d visits; stored: %d, %d", len(certs), len(visits), nc, nv)
	if lost > 0 {
		t.Errorf("%d acknowledged writes missing after kill -9", lost)
	}
}

// TestServesHTTP2OverTLS: with -tls-addr the API is also served over TLS,
// HTTP/2 only: a whole issuance and check-in over h2, and the venue's gRPC
// face's reflection over TLS; a client that offers only HTTP/1.1 is not
// served (no protocol in common: Go's TLS lets the handshake finish without
// ALPN, and the server, HTTP/2 only, closes the connection).
func TestServesHTTP2OverTLS(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	os.WriteFile(dir+"/cert.pem", certPEM, 0o644)
	os.WriteFile(dir+"/key.pem", keyPEM, 0o600)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "REFSERVER_CHILD=1",
		"REFSERVER_ARGS=--profile refserver/testdata/fast.yaml --addr 127.0.0.1:0 --tls-addr 127.0.0.1:0 --tls-cert "+dir+"/cert.pem --tls-key "+dir+"/key.pem --db "+dir+"/pass.db")
	cmd.Stderr = os.Stderr
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	i := strings.Index(line, "https://")
	if err != nil || i < 0 {
		t.Fatalf("the server said %q (%v)", line, err)
	}
	base, _, _ := strings.Cut(line[i:], " ")
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	h2 := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	resp, err := h2.Get(base + "/healthz")
	if err != nil || resp.ProtoMajor != 2 || resp.StatusCode != 200 {
		t.Fatalf("GET /healthz over TLS: %v %v", resp, err)
	}
	resp.Body.Close()
	saved := client
	client = h2
	h, err := issue(base, "tls-user")
	if err == nil {
		_, err = checkin(base, h)
	}
	client = saved
	if err != nil {
		t.Fatalf("issuance and check-in over h2: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := rpc.Reflect(ctx, strings.TrimPrefix(base, "https://"), &tls.Config{RootCAs: roots}, nil)
	if err != nil || !slices.Contains(m.Names(), "pass.v1.Venue/CheckIn") {
		t.Errorf("the gRPC face's reflection over TLS: %v %v", m, err)
	}
	h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, NextProtos: []string{"http/1.1"}}}, Timeout: 5 * time.Second}
	if resp, err := h1.Get(base + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("an HTTP/1.1-only client over TLS was served (%s), want it refused", resp.Proto)
	}
}

// selfSigned is a certificate for 127.0.0.1 and its key, in PEM.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	certPEM, keyPEM, err := testcert.SelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	return certPEM, keyPEM
}
