package chserver

// Check runs the statement policy alone, as vakt's account over POST.
func (s *Server) Check(stmt string) error {
	return s.checker.check(stmt, nil, modeWrite, "vakt").err
}

// ClearPolicyCache empties the decision cache.
func (s *Server) ClearPolicyCache() { s.checker.cache = newLRU(s.checker.cache.max) }
