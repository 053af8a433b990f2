package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/surgekit/surge/scenarios"
)

// needsCredentials reports whether some journey reads ${credential} before
// any of its steps extracts one: its users hold a credential already.
func needsCredentials(s *scenarios.Scenario) bool {
	for _, steps := range s.Journeys {
		for _, st := range steps {
			if st.Request == "" {
				continue
			}
			t, _ := s.Request(st.Request)
			for _, v := range t.Uses() {
				if v == "credential" {
					return true
				}
			}
			if _, ok := t.Extract["credential"]; ok {
				break
			}
		}
	}
	return false
}

func (e *engine) loadCredentials(ctx context.Context) error {
	if !needsCredentials(e.cfg.Scenario) {
		return nil
	}
	get := e.cfg.Credentials
	if get == nil {
		get = e.adminCredentials
	}
	creds, err := get(ctx, credentialPool)
	if err != nil {
		return fmt.Errorf("replay: credentials for returning users: %w", err)
	}
	if len(creds) == 0 {
		return fmt.Errorf("replay: credentials for returning users: none given")
	}
	e.credentials = make([]held, len(creds))
	for i, c := range creds {
		e.credentials[i] = holding(c)
	}
	return nil
}

// held is what a returning user starts with: ${credential} and, when the
// server binds its QR to the holder's session, ${session}.
type held struct{ credential, session json.RawMessage }

// holding reads one seeded item: the reference server's {"wallet",
// "session"} pair, or any other JSON value as the credential alone.
func holding(item json.RawMessage) held {
	var pair struct {
		Wallet  json.RawMessage `json:"wallet"`
		Session json.RawMessage `json:"session"`
	}
	if json.Unmarshal(item, &pair) == nil && len(pair.Wallet) > 0 {
		return held{credential: pair.Wallet, session: pair.Session}
	}
	return held{credential: item}
}

// adminCredentials asks a reference server for seeded credentials.
func (e *engine) adminCredentials(ctx context.Context, n int) ([]json.RawMessage, error) {
	body, _ := json.Marshal(map[string]int{"count": n})
	req, err := http.NewRequestWithContext(ctx, "POST", e.ctlBase+"/admin/credentials", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if e.cfg.AdminToken != "" {
		req.Header.Set("Authorization", "Bearer "+e.cfg.AdminToken)
	}
	resp, err := e.ctl.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if resp.StatusCode != http.StatusCreated {
		hint := "the target must be surge's reference server, or give credentials another way"
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			hint = "give the server's admin token with --admin-token or SURGE_ADMIN_TOKEN"
		}
		return nil, fmt.Errorf("POST /admin/credentials: %s: %s (%s)", resp.Status, bytes.TrimSpace(raw), hint)
	}
	var out struct {
		Credentials []json.RawMessage `json:"credentials"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("POST /admin/credentials: %w", err)
	}
	return out.Credentials, nil
}
