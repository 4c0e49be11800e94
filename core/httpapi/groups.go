package httpapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/elliptics/elliptics/core/client"
)

// GroupsHeader reports each group's outcome of a PUT or DELETE, as
// "group=code" pairs in session order ("1=0, 2=-110": group 1 took it,
// group 2 timed out; codes as in the JSON errors). The session's success
// policy decides the status; this header keeps a partial success from
// passing unseen.
const GroupsHeader = "X-Elliptics-Groups"

// setGroupsHeader sets GroupsHeader from res (nothing for no entries: the
// request failed before reaching any group).
func setGroupsHeader(w http.ResponseWriter, res client.Result) {
	if len(res.Entries) == 0 {
		return
	}
	var b strings.Builder
	for i, e := range res.Entries {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatUint(uint64(e.Group), 10))
		b.WriteByte('=')
		b.WriteString(strconv.FormatInt(int64(e.Status), 10))
	}
	w.Header().Set(GroupsHeader, b.String())
}
