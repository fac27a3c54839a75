package main

import "errors"

// runDaemon starts the daemon with the parsed options. It is a placeholder
// that the daemon wiring replaces; keep its signature.
func runDaemon(o options) error {
	_ = o
	return errors.New("daemon not built yet")
}
