package chserver

// Check runs the statement policy alone, as vakt's account over POST.
func (s *Server) Check(stmt string) error {
	return s.checker.check(stmt, nil, modeWrite, "vakt").err
}

// ClearPolicyCache empties the decision cache.
func (s *Server) ClearPolicyCache() { s.checker.cache = newLRU(s.checker.cache.max) }

// CheckWithParams runs the statement policy alone with query parameters,
// as the read-only account.
func (s *Server) CheckWithParams(stmt string, params map[string]string) error {
	return s.checker.check(stmt, params, modeRead, "reader").err
}

// PolicyMisses is how many decisions the parser made (not the cache).
func (s *Server) PolicyMisses() int64 { return s.checker.misses.Load() }
