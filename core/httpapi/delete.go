package httpapi

import (
	"fmt"
	"net/http"
)

// remove serves DELETE: the object goes from every group of the request;
// 204, or 404 when no group had it.
func (h *Handler) remove(w http.ResponseWriter, r *http.Request, req *request) {
	res, err := req.sess.Remove(r.Context(), req.key)
	setGroupsHeader(w, res)
	if err != nil {
		fail(w, r, fmt.Errorf("DELETE %s: %w", req.name, err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
