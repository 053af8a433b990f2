package refserver

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"hash/fnv"
	"net/http"
	"time"

	"github.com/surgekit/surge/scenarios/profile"
)

const maxIDLen = 128

// checkPlatform validates a platform field.
func (s *Server) checkPlatform(field, platform string) error {
	if platform == "" {
		return missing(field)
	}
	if _, ok := s.profile.Platforms[platform]; !ok {
		return badField(http.StatusUnprocessableEntity, "invalid_field", field, "unknown platform %q (platforms: %v)", platform, s.profile.PlatformNames())
	}
	return nil
}

func checkID(field, v string) error {
	if v == "" {
		return missing(field)
	}
	if len(v) > maxIDLen {
		return badField(http.StatusUnprocessableEntity, "invalid_field", field, "field %q is longer than %d bytes", field, maxIDLen)
	}
	return nil
}

func randomID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// ttl is how long the values an endpoint's answer carries are valid: the
// profile's expiry rule for it, else def.
func (s *Server) ttl(endpoint string, def time.Duration) time.Duration {
	if r, ok := s.profile.Expiry(endpoint); ok {
		return r.After
	}
	return def
}

func (s *Server) route(endpoint, platform string) []profile.Step {
	steps, _ := s.profile.Route(endpoint, platform)
	return steps
}

// POST /v1/identity/requests {user_id, platform} -> 201 {request_id, sms_code, expires_at}
// The reference server stands in for the SMS channel: the code it "sends" is in the response.
func (s *Server) identityRequest(w http.ResponseWriter, r *http.Request) (int, error) {
	var in struct {
		UserID   string `json:"user_id"`
		Platform string `json:"platform"`
	}
	if err := decodeBody(w, r, &in); err != nil {
		return 0, err
	}
	if err := errors.Join(checkID("user_id", in.UserID), s.checkPlatform("platform", in.Platform)); err != nil {
		return 0, firstAPIError(err)
	}
	if s.limiter != nil {
		if ok, wait := s.limiter.allow(in.UserID); !ok {
			return 0, &apiError{Status: http.StatusTooManyRequests, Code: "rate_limited", Field: "user_id",
				Message: "identity verification is limited per user; try again later", RetryAfter: wait}
		}
	}
	var out struct {
		RequestID string    `json:"request_id"`
		SMSCode   string    `json:"sms_code"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	err := s.run(r.Context(), s.route("identity.request", in.Platform), in.Platform, works{
		"identity-request": func(context.Context) error {
			exp := s.now().Add(s.ttl("identity.request", 10*time.Minute))
			c := identityClaims{User: in.UserID, Platform: in.Platform, Nonce: randomID(), Expires: exp.UnixMilli()}
			out.RequestID, out.SMSCode, out.ExpiresAt = s.keys.seal(kindIDReq, c), s.keys.smsCode(c.Nonce), exp.UTC()
			return nil
		},
	})
	if err != nil {
		return 0, err
	}
	writeJSON(w, http.StatusCreated, out)
	return http.StatusCreated, nil
}

// POST /v1/identity/requests/{id}/confirm {code} -> 200 {identity_token, expires_at}
func (s *Server) identityConfirm(w http.ResponseWriter, r *http.Request) (int, error) {
	var in struct {
		Code string `json:"code"`
	}
	if err := decodeBody(w, r, &in); err != nil {
		return 0, err
	}
	if in.Code == "" {
		return 0, missing("code")
	}
	var req identityClaims
	if !s.keys.open(kindIDReq, r.PathValue("id"), &req) {
		return 0, &apiError{Status: http.StatusNotFound, Code: "unknown_identity_request", Field: "id", Message: "no such identity request"}
	}
	guess, err := s.guesses.reserve(req) // taken before the identity stage, settled after the code is checked
	if err != nil {
		return 0, err
	}
	defer guess.release()
	var out struct {
		IdentityToken string    `json:"identity_token"`
		ExpiresAt     time.Time `json:"expires_at"`
	}
	err = s.run(r.Context(), s.route("identity.confirm", req.Platform), req.Platform, works{
		"identity-confirm": func(ctx context.Context) error {
			if expired(req.Expires, s.now()) {
				return &apiError{Status: http.StatusGone, Code: "identity_request_expired", Field: "id", Message: "the identity request has expired; start again"}
			}
			if subtle.ConstantTimeCompare([]byte(in.Code), []byte(s.keys.smsCode(req.Nonce))) != 1 {
				return guess.wrong(ctx, s.store)
			}
			// one confirmation per request: a second would mint a second token
			if err := s.store.useTokenAlone(ctx, usedToken{nonce: kindIDReq + ":" + req.Nonce, expires: req.Expires}); errors.Is(err, errDuplicate) {
				return &apiError{Status: http.StatusConflict, Code: "identity_request_used", Field: "id", Message: "the identity request was confirmed already (or locked after wrong codes); start again"}
			} else if err != nil {
				return err
			}
			exp := s.now().Add(s.ttl("identity.confirm", 10*time.Minute))
			out.IdentityToken = s.keys.seal(kindIDToken, identityClaims{User: req.User, Platform: req.Platform, Nonce: randomID(), Expires: exp.UnixMilli()})
			out.ExpiresAt = exp.UTC()
			return nil
		},
	})
	if err != nil {
		return 0, err
	}
	writeJSON(w, http.StatusOK, out)
	return http.StatusOK, nil
}

// POST /v1/certificates {identity_token, platform} -> 201 {credential, signature}
func (s *Server) issueCertificate(w http.ResponseWriter, r *http.Request) (int, error) {
	var in struct {
		IdentityToken string `json:"identity_token"`
		Platform      string `json:"platform"`
	}
	if err := decodeBody(w, r, &in); err != nil {
		return 0, err
	}
	id, err := s.identityFor(in.IdentityToken, in.Platform)
	if err != nil {
		return 0, err
	}
	var (
		doses    int
		sc       SignedCredential
		anchored bool // the route anchored the key before storing (as built: synchronous)
		stored   bool
	)
	pub := s.keys.issuer.Public().(ed25519.PublicKey)
	err = s.run(r.Context(), s.route("certificate.issue", in.Platform), in.Platform, works{
		"registry-lookup": func(context.Context) error { doses = registryDoses(id.User); return nil },
		"sign": func(context.Context) error {
			sc = s.keys.sign(Credential{ID: randomID(), Holder: s.keys.holder(id.User), Vaccine: "COVID-19",
				Doses: doses, IssuedAt: s.now().UTC().Truncate(time.Millisecond), Issuer: "KDCA", KeyID: s.keys.keyID})
			return nil
		},
		"store-certificate": func(ctx context.Context) error {
			used := usedToken{nonce: kindIDToken + ":" + id.Nonce, expires: id.Expires}
			if id.Nonce == "" {
				return &apiError{Status: http.StatusUnauthorized, Code: "unknown_identity_token", Field: "identity_token", Message: "identity token of an older format: verify identity again"}
			}
			var err error
			if anchored {
				link, done := s.store.nextAnchor(sc.Credential.ID, pub)
				err = s.store.putCertificate(ctx, sc, in.Platform, used, link, false)
				done(err == nil)
			} else {
				err = s.store.putCertificate(ctx, sc, in.Platform, used, nil, true)
			}
			if errors.Is(err, errDuplicate) {
				return &apiError{Status: http.StatusConflict, Code: "identity_token_used", Field: "identity_token", Message: "the identity token issued a certificate already; verify identity again"}
			}
			stored = err == nil
			return err
		},
		"anchor": func(ctx context.Context) error {
			if !stored { // before the store (synchronous): the link goes in with the certificate
				anchored = true
				return nil
			}
			return s.store.anchorPending(ctx, sc.Credential.ID, pub) // after it (asynchronous): the outbox row is taken out
		},
	})
	if err != nil {
		return 0, err
	}
	writeJSON(w, http.StatusCreated, Issued{Wallet: sc, Session: s.keys.session(sc.Credential)})
	return http.StatusCreated, nil
}

// identityFor opens an identity token presented for a certificate on
// platform: issued by this system, unexpired, and issued to that platform.
func (s *Server) identityFor(token, platform string) (identityClaims, error) {
	var id identityClaims
	if token == "" {
		return id, missing("identity_token")
	}
	if err := s.checkPlatform("platform", platform); err != nil {
		return id, err
	}
	if !s.keys.open(kindIDToken, token, &id) {
		return id, &apiError{Status: http.StatusUnauthorized, Code: "unknown_identity_token", Field: "identity_token", Message: "identity token not issued by this system, or altered"}
	}
	if expired(id.Expires, s.now()) {
		return id, &apiError{Status: http.StatusUnauthorized, Code: "identity_token_expired", Field: "identity_token", Message: "identity token has expired; verify identity again"}
	}
	if id.Platform != platform {
		return id, &apiError{Status: http.StatusForbidden, Code: "platform_mismatch", Field: "platform",
			Message: "the identity token was issued to platform " + id.Platform + ", not " + platform}
	}
	return id, nil
}

// registryDoses stands in for the vaccination registry: a fixed record per user.
func registryDoses(user string) int {
	h := fnv.New32a()
	h.Write([]byte(user))
	return 2 + int(h.Sum32()%3/2) // two doses, a third of users boosted
}

// POST /v1/qr {platform, session, credential_id | wallet: {credential, signature}} -> 201 {token, expires_at}
// Fetch-proof platforms load the credential from the backend by id on every
// QR; wallet platforms present the cached signed credential. The QR is
// minted for one credential, named in one place (qrRequest.credential), and
// only for the holder of the session.
func (s *Server) mintQR(w http.ResponseWriter, r *http.Request) (int, error) {
	var in qrRequest
	if err := decodeBody(w, r, &in); err != nil {
		return 0, err
	}
	fetch, holder, err := s.checkQRRequest(&in)
	if err != nil {
		return 0, err
	}
	var (
		cred SignedCredential
		out  struct {
			Token     string    `json:"token"`
			ExpiresAt time.Time `json:"expires_at"`
		}
	)
	err = s.run(r.Context(), s.route("qr", in.Platform), in.Platform, works{
		"fetch-proof": func(ctx context.Context) error {
			var err error
			cred, err = s.credential(ctx, holder, "credential_id")
			return err
		},
		"mint-qr": func(context.Context) error {
			if !fetch {
				if err := s.keys.verify(*in.Wallet, "wallet"); err != nil {
					return err
				}
				cred = *in.Wallet
			}
			if cred.Credential.ID != holder { // what is minted is what the session holds, whatever the route did
				return notTheHolder("wallet")
			}
			exp := s.now().Add(s.ttl("qr", 15*time.Second))
			out.Token = s.keys.seal(kindQR, qrClaims{ID: randomID(), Credential: holder, Platform: in.Platform, Expires: exp.UnixMilli()})
			out.ExpiresAt = exp.UTC()
			return nil
		},
	})
	if err != nil {
		return 0, err
	}
	writeJSON(w, http.StatusCreated, out)
	return http.StatusCreated, nil
}

// qrRequest is the body of POST /v1/qr: the platform, the holder's
// session, and the credential (its ID on a fetch-proof platform, the
// wallet copy on the others).
type qrRequest struct {
	Platform     string            `json:"platform"`
	Session      string            `json:"session"`
	CredentialID string            `json:"credential_id"`
	Wallet       *SignedCredential `json:"wallet"`
}

// credential is the id of the credential the request asks a QR for, from
// the one field its platform reads it from: the wallet's on a wallet
// platform, credential_id on a fetch-proof one (or the wallet's, when a
// fetch-proof app sends only its wallet). A second field that names another
// credential is refused, not ignored: a QR is minted from what was checked.
func (in *qrRequest) credential(fetch bool) (string, error) {
	switch {
	case !fetch && in.Wallet == nil:
		return "", badField(http.StatusUnprocessableEntity, "missing_field", "wallet", "platform %s uses the wallet credential: field \"wallet\" is required", in.Platform)
	case fetch && in.CredentialID == "" && in.Wallet == nil:
		return "", missing("credential_id")
	}
	id, other, field := in.CredentialID, walletID(in.Wallet), "wallet"
	if !fetch || id == "" {
		id, other, field = other, in.CredentialID, "credential_id"
	}
	if other != "" && other != id {
		return "", badField(http.StatusUnprocessableEntity, "conflicting_fields", field,
			"credential_id and wallet name different credentials (%q, %q): a QR is for one credential", in.CredentialID, walletID(in.Wallet))
	}
	if fetch && in.CredentialID != "" {
		return id, checkID("credential_id", id)
	}
	return id, checkID("wallet.credential.id", id)
}

// checkQRRequest checks a QR request's fields and that its session is the
// holder's of the credential it names; fetch says the platform fetches
// the proof, holder is that credential's id.
func (s *Server) checkQRRequest(in *qrRequest) (fetch bool, holder string, err error) {
	if err := s.checkPlatform("platform", in.Platform); err != nil {
		return false, "", err
	}
	fetch = s.profile.Platforms[in.Platform].Proof == profile.ProofFetch
	id, err := in.credential(fetch)
	if err != nil {
		return fetch, "", err
	}
	if in.Session == "" {
		return fetch, "", missing("session")
	}
	var sess sessionClaims
	if !s.keys.open(kindSession, in.Session, &sess) {
		return fetch, "", &apiError{Status: http.StatusUnauthorized, Code: "unknown_session", Field: "session", Message: "session not issued by this system, or altered"}
	}
	if id != sess.Credential {
		return fetch, "", notTheHolder("session")
	}
	return fetch, id, nil
}

func notTheHolder(field string) *apiError {
	return &apiError{Status: http.StatusForbidden, Code: "not_the_holder", Field: field,
		Message: "the session is not the holder's of this credential: a QR is minted for one's own credential only"}
}

func walletID(w *SignedCredential) string {
	if w == nil {
		return ""
	}
	return w.Credential.ID
}

// credential loads an issued credential and checks its signature.
func (s *Server) credential(ctx context.Context, id, field string) (SignedCredential, error) {
	sc, err := s.store.Certificate(ctx, id)
	if errors.Is(err, errNotFound) {
		return sc, badField(http.StatusNotFound, "unknown_credential", field, "%s: no credential %q was issued", field, id)
	}
	if err != nil {
		return sc, err
	}
	return sc, s.keys.verify(sc, field)
}

// POST /v1/checkins {token, venue_id} -> 201 {admitted: true, visit_id, ...};
// a rejected QR is a 4xx saying why (qr_invalid, qr_expired, qr_reused, ...).
func (s *Server) checkin(w http.ResponseWriter, r *http.Request) (int, error) {
	var in struct {
		Token   string `json:"token"`
		VenueID string `json:"venue_id"`
	}
	if err := decodeBody(w, r, &in); err != nil {
		return 0, err
	}
	out, err := s.checkIn(r.Context(), in.Token, in.VenueID)
	if err != nil {
		return 0, err
	}
	writeJSON(w, http.StatusCreated, out)
	return http.StatusCreated, nil
}

// checkinResult is what a check-in admits.
type checkinResult struct {
	Admitted bool   `json:"admitted"`
	VisitID  int64  `json:"visit_id"`
	VenueID  string `json:"venue_id"`
	Holder   string `json:"holder"`
	Doses    int    `json:"doses"`
}

// checkIn is a venue's scan of a QR token, over HTTP or gRPC: the token
// opened and checked, the credential verified, the visit written once.
func (s *Server) checkIn(ctx context.Context, token, venueID string) (checkinResult, error) {
	var out checkinResult
	if token == "" {
		return out, missing(qrTokenField)
	}
	if err := checkID("venue_id", venueID); err != nil {
		return out, err
	}
	var qr qrClaims
	if !s.keys.open(kindQR, token, &qr) {
		return out, &apiError{Status: http.StatusForbidden, Code: "qr_invalid", Field: qrTokenField, Message: "QR token not issued by this system, or altered"}
	}
	scanned := s.now()
	if expired(qr.Expires, scanned) {
		return out, &apiError{Status: http.StatusForbidden, Code: "qr_expired", Field: qrTokenField,
			Message: "QR token expired " + scanned.Sub(time.UnixMilli(qr.Expires)).Round(time.Millisecond).String() + " ago; show a new one"}
	}
	var cred SignedCredential
	err := s.run(ctx, s.route("checkin", qr.Platform), qr.Platform, works{
		"verify-credential": func(ctx context.Context) error {
			var err error
			cred, err = s.credential(ctx, qr.Credential, qrTokenField)
			return err
		},
		"write-visit": func(ctx context.Context) error {
			id, err := s.store.putVisit(ctx, qr.ID, qr.Credential, venueID, qr.Platform, scanned.UnixMilli())
			if errors.Is(err, errDuplicate) {
				return &apiError{Status: http.StatusConflict, Code: "qr_reused", Field: qrTokenField, Message: "QR token already used for a check-in; show a new one"}
			}
			out.VisitID = id
			return err
		},
	})
	if err != nil {
		return out, err
	}
	out.Admitted, out.VenueID, out.Holder, out.Doses = true, venueID, cred.Credential.Holder, cred.Credential.Doses
	return out, nil
}

func firstAPIError(err error) error {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	return err
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
