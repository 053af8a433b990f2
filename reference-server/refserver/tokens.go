package refserver

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Credential is the vaccination credential the certificate backend signs.
// Its signature covers its JSON encoding exactly as Go marshals the struct.
type Credential struct {
	ID       string    `json:"id"`
	Holder   string    `json:"holder"` // a hash of the user id, never the id itself
	Vaccine  string    `json:"vaccine"`
	Doses    int       `json:"doses"`
	IssuedAt time.Time `json:"issued_at"`
	Issuer   string    `json:"issuer"`
	KeyID    string    `json:"key_id"`
}

// SignedCredential is a credential with its ed25519 signature (base64).
type SignedCredential struct {
	Credential Credential `json:"credential"`
	Signature  string     `json:"signature"`
}

// Issued is what a holder gets when a certificate is issued: the signed
// credential its app keeps in its wallet, and the session that proves it is
// the holder (a QR is minted only for the session's own credential: a
// copy of someone's credential, or its id, mints nothing).
type Issued struct {
	Wallet  SignedCredential `json:"wallet"`
	Session string           `json:"session"`
}

// sessionClaims are what a holder's session carries: the credential it
// may mint QR codes for.
type sessionClaims struct {
	Credential string `json:"cid"`
	Holder     string `json:"h"`
}

// session is a holder's session for a credential.
func (k *keys) session(c Credential) string {
	return k.seal(kindSession, sessionClaims{Credential: c.ID, Holder: c.Holder})
}

// keys are the server's secrets: the issuer's ed25519 key and the HMAC key
// of QR and identity tokens. They live in the database, so credentials
// issued before a restart still verify after it.
type keys struct {
	issuer ed25519.PrivateKey
	keyID  string
	mac    []byte
}

func (k *keys) sign(c Credential) SignedCredential {
	b, _ := json.Marshal(c)
	return SignedCredential{Credential: c, Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(k.issuer, b))}
}

// verify checks a credential's signature; the error names what is wrong.
func (k *keys) verify(sc SignedCredential, field string) error {
	sig, err := base64.StdEncoding.DecodeString(sc.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return badField(http.StatusUnprocessableEntity, "bad_signature", field+".signature", "signature is not a base64 ed25519 signature")
	}
	if sc.Credential.KeyID != k.keyID {
		return badField(http.StatusForbidden, "unknown_key", field+".credential.key_id", "credential signed by unknown key %q", sc.Credential.KeyID)
	}
	b, _ := json.Marshal(sc.Credential)
	if !ed25519.Verify(k.issuer.Public().(ed25519.PublicKey), b, sig) {
		return badField(http.StatusForbidden, "forged_credential", field, "credential signature does not verify: forged or tampered")
	}
	return nil
}

// token is an HMAC-signed claim set: base64url(json) "." base64url(mac).
// kind separates the uses (a QR token is no identity token).
func (k *keys) seal(kind string, claims any) string {
	b, _ := json.Marshal(claims)
	body := base64.RawURLEncoding.EncodeToString(b)
	return body + "." + base64.RawURLEncoding.EncodeToString(k.mac256(kind, body))
}

func (k *keys) mac256(kind, body string) []byte {
	m := hmac.New(sha256.New, k.mac)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(body))
	return m.Sum(nil)
}

// open checks a token's MAC and decodes its claims; false if it is not a
// token of this kind made by this server.
func (k *keys) open(kind, tok string, claims any) bool {
	body, mac, ok := strings.Cut(tok, ".")
	if !ok {
		return false
	}
	want, err := base64.RawURLEncoding.DecodeString(mac)
	if err != nil || !hmac.Equal(want, k.mac256(kind, body)) {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(body)
	return err == nil && json.Unmarshal(b, claims) == nil
}

// qrClaims are what a one-time QR token carries.
type qrClaims struct {
	ID         string `json:"tid"` // one-time: a visit log row is keyed by it
	Credential string `json:"cid"`
	Platform   string `json:"plat"`
	Expires    int64  `json:"exp"` // unix milliseconds
}

// identityClaims are what an identity request id and an identity token carry.
type identityClaims struct {
	User     string `json:"uid"`
	Platform string `json:"plat"`
	Nonce    string `json:"n,omitempty"`
	Expires  int64  `json:"exp"`
}

const (
	kindQR       = "qr"
	kindIDReq    = "identity-request"
	kindIDToken  = "identity-token"
	kindSMS      = "sms"
	kindSession  = "session"
	qrTokenField = "token"
)

// smsCode is the 6-digit code "sent" for an identity request nonce.
func (k *keys) smsCode(nonce string) string {
	m := k.mac256(kindSMS, nonce)
	return fmt.Sprintf("%06d", binary.BigEndian.Uint32(m)%1_000_000)
}

// holder hides a user id behind a keyed hash.
func (k *keys) holder(user string) string {
	return hex.EncodeToString(k.mac256("holder", user)[:12])
}

func expired(exp int64, now time.Time) bool { return now.UnixMilli() >= exp }
