package server

import "time"

// SlowRouteLists delays the node's ROUTE_LIST replies by d.
func SlowRouteLists(s *Server, d time.Duration) { s.cluster.slowLists.Store(int64(d)) }
