package refserver

import (
	"context"
	"net/http"
	"time"

	"github.com/surgekit/surge/scenarios/spec"
)

// GET /admin/faults -> 200 {"faults": [...]}
func (s *Server) listFaults(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"faults": s.faults.list(), "stages": spec.SortedKeys(s.stages)})
}

// POST /admin/faults FaultSpec -> 201 Fault
func (s *Server) addFault(w http.ResponseWriter, r *http.Request) {
	var spec FaultSpec
	if err := decodeBody(w, r, &spec); err != nil {
		writeError(w, err)
		return
	}
	f, err := s.faults.add(spec)
	if err != nil {
		writeError(w, err)
		return
	}
	s.log.Info("fault on", "id", f.ID, "kind", f.Kind, "stage", f.Stage)
	writeJSON(w, http.StatusCreated, f)
}

// DELETE /admin/faults/{id} -> 204
func (s *Server) deleteFault(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !s.faults.remove(id) {
		writeError(w, &apiError{Status: http.StatusNotFound, Code: "unknown_fault", Field: "id", Message: "no active fault " + id})
		return
	}
	s.log.Info("fault off", "id", id)
	w.WriteHeader(http.StatusNoContent)
}

// DELETE /admin/faults -> 200 {"removed": n}
func (s *Server) clearFaults(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]int{"removed": s.faults.clear()})
}

// maxSeed bounds one credential-seeding call.
const maxSeed = 10_000

// POST /admin/credentials {"count": n} -> 201 {"credentials": [...]}: n
// credentials issued directly (no stage, no service time), as if issued
// before the window; load generators give them to returning users.
func (s *Server) seedCredentials(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Count int `json:"count"`
	}
	if err := decodeBody(w, r, &in); err != nil {
		writeError(w, err)
		return
	}
	if in.Count < 1 || in.Count > maxSeed {
		writeError(w, badField(http.StatusUnprocessableEntity, "invalid_field", "count", "count must be within 1 and %d, have %d", maxSeed, in.Count))
		return
	}
	creds, err := s.Seed(r.Context(), in.Count)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"credentials": creds})
}

// Seed issues n credentials directly and durably, with their holders'
// sessions, for users who hold one before a scenario starts.
func (s *Server) Seed(ctx context.Context, n int) ([]Issued, error) {
	out := make([]Issued, n)
	for i := range out {
		user := "seeded-" + randomID()
		sc := s.keys.sign(Credential{ID: randomID(), Holder: s.keys.holder(user), Vaccine: "COVID-19",
			Doses: registryDoses(user), IssuedAt: s.now().UTC().Truncate(time.Millisecond), Issuer: "KDCA", KeyID: s.keys.keyID})
		if err := s.store.putCertificate(ctx, sc, "seed", usedToken{}, nil, false); err != nil {
			return nil, err
		}
		out[i] = Issued{Wallet: sc, Session: s.keys.session(sc.Credential)}
	}
	return out, nil
}
