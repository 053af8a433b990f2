package refserver

import (
	"net/http"
)

// GET /admin/faults -> 200 {"faults": [...]}
func (s *Server) listFaults(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"faults": s.faults.list(), "stages": sortedKeys(s.stages)})
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

// AddFault switches a fault on in-process (what POST /admin/faults does).
func (s *Server) AddFault(spec FaultSpec) (Fault, error) { return s.faults.add(spec) }

// RemoveFault switches a fault off; false if it was not active.
func (s *Server) RemoveFault(id string) bool { return s.faults.remove(id) }
